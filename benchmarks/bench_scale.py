"""Scale-out on this machine: trials per hour with 1 and 2 local workers (SQLite), and the
cost of PostgreSQL over SQLite per trial, measured side by side in one run.

Uses the quick variant of mlp_psd so that storage and process overheads are visible; the
ratio, not the absolute rate, is the result. Needs PostgreSQL's server binaries for the
PostgreSQL row (skipped with a note otherwise).
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
from harness import machine, tool_versions
from optuna.trial import TrialState

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import pg_server  # noqa: E402  (the tests' throw-away PostgreSQL server)


def timed_run(workdir: Path, trials: int, workers: int, storage: str | None) -> tuple[float, int]:
    """Seconds of the search alone (data and teacher are prepared by an untimed first run)."""
    base = [sys.executable, "-m", "nas", "run", "--space", "mlp_psd", "--quick", "--workdir",
            str(workdir), "--no-synth"] + (["--storage", storage] if storage else [])
    subprocess.run(base + ["--trials", "1"], check=True, capture_output=True)
    start = time.perf_counter()
    subprocess.run(base + ["--trials", str(trials + 1), "--workers", str(workers)], check=True,
                   capture_output=True)
    seconds = time.perf_counter() - start
    url = storage or f"sqlite:///{workdir / 'mlp_psd' / 'study.db'}"
    study = optuna.load_study(study_name="mlp_psd", storage=url)
    return seconds, len(study.get_trials(states=(TrialState.COMPLETE,))) - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=24)
    args = parser.parse_args()
    print(machine(), tool_versions())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, workers in (("SQLite, 1 worker", 1), ("SQLite, 2 workers", 2)):
            seconds, done = timed_run(Path(tmp) / label.replace(" ", "_"), args.trials, workers, None)
            rows.append((label, seconds, done))
        if pg_server.available():
            with pg_server.postgres_server() as url:
                seconds, done = timed_run(Path(tmp) / "pg", args.trials, 1, url)
                rows.append(("PostgreSQL, 1 worker", seconds, done))
        else:
            print("PostgreSQL row skipped: no server binaries (apt-get install postgresql)")
    print(f"\n{'storage, workers':24s} {'trials':>6s} {'seconds':>8s} {'trials/hour':>12s} "
          f"{'s/trial':>8s}")
    for label, seconds, done in rows:
        print(f"{label:24s} {done:6d} {seconds:8.1f} {done / seconds * 3600:12.0f} "
              f"{seconds / done:8.2f}")
    one, two = rows[0], rows[1]
    print(f"\nspeed-up of 2 workers over 1: {(two[2] / two[1]) / (one[2] / one[1]):.2f}x")
    if len(rows) > 2:
        print(f"PostgreSQL overhead per trial over SQLite: "
              f"{rows[2][1] / rows[2][2] - one[1] / one[2]:+.2f} s")


if __name__ == "__main__":
    main()
