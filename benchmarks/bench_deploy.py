"""``nas deploy`` on a finished study: every design of its useful front streamed through the
AXI4-Stream IP for one board (bit-exact events under backpressure, results per cycle at full
readiness, added latency, the wrapper's yosys LUT/FF beside the bare design), and the
wall-clock of the ``nas deploy`` command for each board on one front design, with the
machine's load. Writes ``results/deploy.json`` and, through ``render_deploy.py``,
``results/deploy.md``.

    python benchmarks/bench_deploy.py WORKDIR [--space mlp_psd] [--cnn-workdir DIR]

``WORKDIR`` holds the study (``WORKDIR/<space>/study.db``); give it a copy: deploying reads the
study only, but the study is a published record. ``--cnn-workdir`` adds the smallest design of
the front of a ``cnn_digits`` study there (64 pixels per event), deployed twice: with the IP's
argmax and with the scores only (``nas deploy --no-argmax``).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from harness import machine, tool_versions
from render_deploy import BOARD_SECONDS, render, wrapper_lut_met

HERE = Path(__file__).parent
ROOT = HERE.parent


def _load() -> float:
    """The one-minute load average."""
    return os.getloadavg()[0]


def design_row(study, settings, trial: int, board: str, out: Path, argmax: bool = True) -> dict:
    """One front design deployed for ``board`` with the wrapper's cost."""
    from nas.app.deploy import deploy_trial

    record = deploy_trial(study, settings, trial, board, out, cost=True, argmax=argmax).record
    stream, cost = record["stream"], record["cost"]
    run = stream["backpressure"]
    row = {"trial": trial, "events": run["events"],
           "exact_events": round(run["scores_exact_fraction"] * run["events"]),
           "received": run["received"], "extra_beats": run["extra_beats"],
           "batches": run["batches"], "batch_ends_exact": run["batch_ends_exact"],
           "bit_exact": stream["bit_exact"],
           "events_per_cycle": stream["full_rate"]["events_per_cycle"],
           "core_latency": stream["core_latency"], "added_latency": stream["added_latency"],
           "bare_lut": cost["bare"]["lut"], "bare_ff": cost["bare"]["ff"],
           "wrapper_lut": cost["wrapper"]["lut"], "wrapper_ff": cost["wrapper"]["ff"],
           "seconds": record["seconds"], "argmax": argmax}
    return {**row, "wrapper_lut_met": wrapper_lut_met(row)}


def board_row(workdir: Path, space: str, trial: int, board: str, out: Path) -> dict:
    """The wall-clock of the ``nas deploy`` command (a fresh process, as a user runs it)."""
    load_before, started = _load(), time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "nas", "deploy", "--space", space,
                           "--workdir", str(workdir), "--trial", str(trial), "--board", board,
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"bench_deploy: nas deploy --board {board} failed: {done.stderr.strip()}")
    return {"board": board, "trial": trial, "seconds": seconds, "load_before": load_before,
            "load_after": _load(), "met": seconds < BOARD_SECONDS}


def cnn_row(workdir: Path, board: str, out: Path) -> dict:
    """The smallest design (by its LUT estimate) of the front of the ``cnn_digits`` study in
    ``workdir``, with the IP's argmax and (``scores_only``) without."""
    from nas.search.front import pareto_front
    from nas.search.storage import open_existing
    from nas.spaces import get_space

    study, settings = open_existing(get_space("cnn_digits"), workdir.resolve(), None)
    trial = min(pareto_front(study), key=lambda t: t.user_attrs["est_lut"]).number
    return {"space": "cnn_digits", "study_trials": len(study.trials),
            "quick": settings.quick, **design_row(study, settings, trial, board, out / "argmax"),
            "scores_only": design_row(study, settings, trial, board, out / "scores", False)}


def front_run(workdir: Path, space: str, board: str, out: Path) -> dict:
    """Every design of the useful front for ``board``, then ``nas deploy`` timed per board on
    the smallest."""
    from nas.search.front import useful_front
    from nas.search.storage import open_existing
    from nas.spaces import get_space
    from nas.spaces.boards import BOARDS

    study, settings = open_existing(get_space(space), workdir, None)
    designs = []
    for trial in sorted(t.number for t in useful_front(study, settings.space)):
        designs.append(design_row(study, settings, trial, board, out / f"trial_{trial}"))
        print(f"trial {trial}: {designs[-1]}", flush=True)
    smallest = min(designs, key=lambda d: d["bare_lut"])["trial"]
    boards = [board_row(workdir, space, smallest, name, out / name) for name in BOARDS]
    return {"space": space, "board": board, "study_seed": settings.seed,
            "study_trials": len(study.trials), "designs": designs, "boards": boards}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path, nargs="?",
                        help="without it, --cnn-workdir's design is added to --out")
    parser.add_argument("--space", default="mlp_psd")
    parser.add_argument("--board", default="pynq-z1")
    parser.add_argument("--cnn-workdir", type=Path)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "deploy.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        cnn = cnn_row(args.cnn_workdir, args.board, Path(tmp) / "cnn") if args.cnn_workdir \
            else None
        if args.workdir is None:
            result = {**json.loads(args.out.read_text()), "cnn": cnn}
        else:
            result = {**front_run(args.workdir.resolve(), args.space, args.board, Path(tmp)),
                      "cnn": cnn, "machine": machine(), "cores": os.cpu_count(),
                      "tools": tool_versions(), "date": datetime.now(UTC).strftime("%Y-%m-%d")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(render(result))
    print(f"{len(result['designs'])} designs and {len(result['boards'])} boards recorded in "
          f"{args.out}")


if __name__ == "__main__":
    main()
