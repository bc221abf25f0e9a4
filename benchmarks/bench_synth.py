"""Open-flow synthesis on this machine: seconds per design (trace, Verilator, yosys) and the
speed-up of 2 parallel jobs over 1, measured side by side on the same designs (two copies of
one quick study, same seed), plus the estimate beside the synthesized numbers."""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import machine, tool_versions

from nas.app.synth import select_front, synthesize_trials
from nas.search.storage import open_existing
from nas.spaces import get_space


def quick_study(workdir: Path, trials: int):
    subprocess.run([sys.executable, "-m", "nas", "run", "--space", "mlp_psd", "--quick",
                    "--trials", str(trials), "--no-synth", "--workdir", str(workdir)],
                   check=True, capture_output=True)
    return open_existing(get_space("mlp_psd"), workdir, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=10)
    args = parser.parse_args()
    print(machine(), tool_versions())
    timings = {}
    with tempfile.TemporaryDirectory() as tmp:
        for jobs in (1, 2):
            study, settings = quick_study(Path(tmp) / f"jobs{jobs}", args.trials)
            numbers = select_front(study, settings.space)
            start = time.perf_counter()
            records = synthesize_trials(study, settings, numbers, jobs=jobs)
            timings[jobs] = (time.perf_counter() - start, records)
    wall1, records = timings[1]
    wall2, _ = timings[2]
    print(f"\n{len(records)} front designs; {'trial':>5s} {'trace':>6s} {'verilator':>9s} "
          f"{'yosys':>6s} {'LUT est/synth':>15s} {'FF est/synth':>14s} {'lat est/synth':>13s} exact")
    for number, r in sorted(records.items()):
        s, e = r["seconds"], r["estimate"]
        print(f"{'':17s}{number:5d} {s['trace']:6.1f} {s['verilator']:9.1f} {s['yosys']:6.1f} "
              f"{e['lut']:7.0f}/{r['lut']:<7d} {e['ff']:6.0f}/{r['ff']:<7d} "
              f"{e['latency_cycles']:5.0f}/{r['latency_cycles']:<7d} {r['rtl_exact_fraction']:.3f}")
    n = len(records)
    print(f"\nwall time, 1 job: {wall1:.0f} s ({wall1 / n:.1f} s per design); 2 jobs: {wall2:.0f} s;"
          f" speed-up {wall1 / wall2:.2f}x")


if __name__ == "__main__":
    main()
