"""The shipped open-flow calibration against designs it was not fitted on.

Fresh designs (another seed than the calibration's, so none was in its fitting data) are
trained, traced and synthesized with yosys; the architecture-level and the value-aware
estimates are compared with the synthesized LUT, FF and latency, and their time per design
with the synthesis time of the same designs. The vendor-HLS estimator is measured by
``bench_vendor_hls.py`` (leave-one-repository-out on the reports in ../shared).

``--synthesized LABEL DIR...`` scores the value-aware (trace) estimator on designs that other
runs synthesized (a bench's fronts on held-out seeds, another space): each design's traced
model and yosys statistics are read back from its RTL folder, and the errors per group are
written to ``results/trace_transfer.json``. None of these designs is in the calibration's data.
"""

import argparse
import datetime
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from harness import machine, tool_versions

from nas.app.generate import generate
from nas.estimators.base import QUANTITIES
from nas.estimators.calibration import ESTIMATORS, default_calibration, error_table, measured_matrix
from nas.hls.yosys import counts_from_cells, parse_stat_json

TRANSFER = Path(__file__).parent / "results" / "trace_transfer.json"

#: Targets of the estimators the search uses for its objectives (issue 5).
TARGETS = {("trace", "lut"): 5.0, ("trace", "ff"): 5.0}


def open_flow(n_designs: int, jobs: int, seed: int) -> list[tuple]:
    calibration = default_calibration("open")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        rows, failures = generate(Path(tmp), n_designs, jobs=jobs, seed=seed)
        wall = time.perf_counter() - start
    print(f"open flow: {len(rows)} fresh designs (seed {seed}) synthesized in {wall:.0f} s with "
          f"{jobs} jobs; {len(failures)} failed")
    synthesis = float(np.mean([r["seconds"]["synthesis"] for r in rows]))
    measured = measured_matrix(rows)
    lines = []
    for name in ("architecture", "trace"):
        _, design_of = ESTIMATORS[name]
        estimator = calibration.estimator(name)
        designs = [design_of(row) for row in rows]
        start = time.perf_counter()
        estimates = estimator.predict(designs)
        seconds = (time.perf_counter() - start) / len(rows)
        seconds += float(np.mean([r["seconds"].get(f"{name}_features", 0.0) for r in rows]))
        lines.append(("open", name, error_table(estimates, measured), seconds, synthesis))
    return lines


def synthesized_designs(folder: Path) -> list[Path]:
    """The RTL folders (``verilog/``: a traced model and yosys's statistics) at or below
    ``folder``."""
    return sorted(path.parents[1] for path in folder.glob("**/verilog/model/comb.json")
                  if (path.parents[1] / "src" / "stat.json").exists())


def _scored(rtl: Path, estimator, clock_mhz: float) -> dict:
    from da4ml.types import CombLogic

    from nas.estimators.trace import trace_features

    counts = counts_from_cells(parse_stat_json((rtl / "src" / "stat.json").read_text(), "student"))
    estimate = estimator.predict([trace_features(CombLogic.load(rtl / "model" / "comb.json"),
                                                 clock_mhz)])[0]
    return {"design": str(rtl), "lut": counts["lut"], "ff": counts["ff"],
            "estimate": {"lut": float(estimate.lut), "ff": float(estimate.ff)}}


def transfer_errors(designs: list[dict]) -> dict:
    """LUT and FF errors (``error_table``) of the estimates recorded in ``designs``."""
    measured, estimated = (np.zeros((len(designs), len(QUANTITIES))) for _ in range(2))
    for column, quantity in ((QUANTITIES.index(q), q) for q in ("lut", "ff")):
        measured[:, column] = [d[quantity] for d in designs]
        estimated[:, column] = [d["estimate"][quantity] for d in designs]
    return error_table(estimated, measured)  # the other columns, all zero, are left out


def score_synthesized(groups: list[list[str]], clock_mhz: float) -> dict:
    """The shipped trace estimator on every design synthesized below each group's folders."""
    calibration = default_calibration("open")
    estimator = calibration.estimator("trace")
    scored = {}
    for label, *folders in groups:
        designs = [_scored(rtl, estimator, clock_mhz)
                   for folder in folders for rtl in synthesized_designs(Path(folder))]
        scored[label] = {"designs": designs, "errors": transfer_errors(designs)}
        errors = scored[label]["errors"]
        print(f"{label}: {len(designs)} designs, LUT MAPE {errors['lut']['mape']:.1f} % "
              f"(worst {errors['lut']['worst_ape']:.0f} %), FF {errors['ff']['mape']:.1f} %")
    return {"date": str(datetime.date.today()), "machine": machine(), "tools": tool_versions(),
            "clock_mhz": clock_mhz, "calibration": {"created": calibration.created,
                                                    "sha256": calibration.data["sha256"]},
            "groups": scored}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--designs", type=int, default=16)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--synthesized", nargs="+", action="append", metavar="LABEL DIR",
                        help="score the trace estimator on the designs synthesized below DIR...")
    parser.add_argument("--clock-mhz", type=float, default=200.0)
    args = parser.parse_args()
    print(f"{datetime.date.today()}; {machine()}; {tool_versions()}")
    if args.synthesized:
        transfer = score_synthesized(args.synthesized, args.clock_mhz)
        TRANSFER.write_text(json.dumps(transfer, indent=1) + "\n")
        return
    lines = open_flow(args.designs, args.jobs, args.seed)
    header = (f"{'flow':6} {'estimator':13} {'quantity':15} {'MAPE %':>7} {'worst %':>8} "
              f"{'R^2':>6} {'exact':>6} {'target':>7} {'ms/design':>10} {'synthesis/estimate':>19}")
    print(header)
    for flow, name, table, seconds, synthesis in lines:
        for quantity in QUANTITIES:
            if quantity not in table:
                continue
            error = table[quantity]
            target = TARGETS.get((name, quantity))
            verdict = "exact" if quantity == "latency_cycles" and name != "architecture" else (
                f"<={target:g}" if target else "-")
            ratio = f"{synthesis / seconds:,.0f}x" if synthesis else "-"
            print(f"{flow:6} {name:13} {quantity:15} {error['mape']:7.1f} "
                  f"{error['worst_ape']:8.1f} {error['r2']:6.3f} "
                  f"{100 * error['exact_fraction']:5.0f}% {verdict:>7} {1000 * seconds:10.3f} "
                  f"{ratio:>19}")


if __name__ == "__main__":
    main()
