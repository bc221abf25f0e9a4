"""``results/deploy.md`` from ``results/deploy.json`` (``bench_deploy.py``), so that no figure
is typed by hand: ``python render_deploy.py`` writes it again, and a test checks that the
committed file equals what this writes and recomputes every "met"."""

import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
RESULT = HERE / "results" / "deploy.json"

#: The issue's targets: the wrapper adds at most this share of the design's LUTs, or this many
#: LUTs, whichever is larger; at most this many cycles; ``nas deploy`` under this many seconds.
LUT_SHARE, LUT_FLOOR, ADDED_CYCLES, BOARD_SECONDS = 0.05, 100, 2, 120.0


def wrapper_lut_met(row: dict) -> bool:
    return row["wrapper_lut"] <= max(LUT_FLOOR, LUT_SHARE * row["bare_lut"])


def _met(flag: bool) -> str:
    return "met" if flag else "**missed**"


def designs_table(designs: list[dict]) -> list[str]:
    lines = ["| trial | events bit-exact under backpressure | batches, TLAST exact | "
             "results per cycle (full readiness) | core latency | added cycles | "
             "bare LUT / FF | wrapper LUT / FF | wrapper % of LUT | LUT target |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for d in designs:
        lines.append(
            f"| {d['trial']}{'' if d.get('argmax', True) else ' (scores only)'} | "
            f"{d['exact_events']:,} / {d['events']:,} | {d['batches']}, "
            f"{'yes' if d['batch_ends_exact'] else 'no'} | {d['events_per_cycle']:.3f} | "
            f"{d['core_latency']} | {d['added_latency']} | {d['bare_lut']:,} / "
            f"{d['bare_ff']:,} | {d['wrapper_lut']} / {d['wrapper_ff']} | "
            f"{100 * d['wrapper_lut'] / d['bare_lut']:.1f} % | {_met(wrapper_lut_met(d))} |")
    return lines


def boards_table(result: dict) -> list[str]:
    lines = ["| board | trial | `nas deploy` seconds | load before / after | under 2 min |",
             "|---|---|---|---|---|"]
    lines += [f"| {b['board']} | {b['trial']} | {b['seconds']:.0f} | {b['load_before']:.1f} / "
              f"{b['load_after']:.1f} | {_met(b['seconds'] < BOARD_SECONDS)} |"
              for b in result["boards"]]
    return lines


def _designs(result: dict) -> list[dict]:
    """The front's designs and the ``cnn_digits`` one, when measured."""
    return result["designs"] + ([result["cnn"]] if result.get("cnn") else [])


def cnn_text(cnn: dict | None) -> list[str]:
    if cnn is None:
        return ["No `cnn_digits` design in this run (`--cnn-workdir`)."]
    rows = [cnn] + ([cnn["scores_only"]] if cnn.get("scores_only") else [])
    return [f"`cnn_digits` (64 pixels per event, 10 classes): the smallest design of the front "
            f"of a {cnn['study_trials']}-trial{' quick' if cnn['quick'] else ''} study, with "
            f"the IP's argmax and with the scores only (`nas deploy --no-argmax`, the driver "
            f"takes the argmax):", "", *designs_table(rows)]


def _scores_only(result: dict) -> list[dict]:
    """The designs deployed without the IP's argmax."""
    cnn = result.get("cnn") or {}
    return [cnn["scores_only"]] if cnn.get("scores_only") else []


def targets(result: dict) -> list[str]:
    designs = _designs(result)
    lean = _scores_only(result)
    lean_luts = sum(wrapper_lut_met(d) for d in lean)
    exact = all(d["bit_exact"] and d["exact_events"] == d["events"] for d in designs + lean)
    rate = all(d["events_per_cycle"] == 1.0 for d in designs + lean)
    latency = max(d["added_latency"] for d in designs + lean)
    luts = sum(wrapper_lut_met(d) for d in designs)
    boards = sum(b["seconds"] < BOARD_SECONDS for b in result["boards"])
    return [f"* 100 % of the test set bit-exact (scores, argmax, TLAST per batch) under "
            f"backpressure on every design: {_met(exact)}.",
            f"* One event per cycle at full readiness: {_met(rate)}.",
            f"* At most {ADDED_CYCLES} added cycles: {_met(latency <= ADDED_CYCLES)} "
            f"(at most {latency}).",
            f"* Wrapper at most {100 * LUT_SHARE:g} % of the design's LUTs or {LUT_FLOOR} LUT: "
            f"{_met(luts == len(designs))} ({luts} of {len(designs)} designs with the IP's "
            f"argmax" + (f"; {lean_luts} of {len(lean)} with the scores only, "
                         f"{_met(lean_luts == len(lean))}" if lean else "") + ").",
            f"* `nas deploy` under {BOARD_SECONDS / 60:g} minutes per board, Vivado aside: "
            f"{_met(boards == len(result['boards']))} ({boards} of {len(result['boards'])})."]


def render(result: dict) -> str:
    return "\n".join([
        f"# `nas deploy` through the AXI4-Stream IP ({result['space']}, {result['board']})", "",
        f"Measured {result['date']} ({result['machine']}) by `benchmarks/bench_deploy.py` on "
        f"the useful front of a {result['study_trials']}-trial study (seed "
        f"{result['study_seed']}): each design's whole test set streamed twice in random "
        f"batches (TLAST on each batch's last beat), at full readiness and with 30 % random "
        f"TVALID gaps and TREADY stalls; wrapper cost = yosys LUT/FF of the wrapped IP minus "
        f"the bare design.", "", *designs_table(result["designs"]), "", *cnn_text(result.get("cnn")),
        "",
        "Wall-clock of `nas deploy` (a fresh process, without `--cost`) per board; the load is "
        "the one-minute load average, other work was running on the machine:", "",
        *boards_table(result), "", "Targets:", "", *targets(result), ""])


def main() -> None:
    RESULT.with_suffix(".md").write_text(render(json.loads(RESULT.read_text())))


if __name__ == "__main__":
    sys.exit(main())
