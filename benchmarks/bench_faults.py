"""The fault suite (``tests/faults``) as a benchmark: runs it with its table switched on and
writes ``benchmarks/results/faults.json`` (each fault, what happened, completed trials lost,
orphan processes, seconds to recover; machine, date, tool versions), from which
``render_results.py`` makes the README's fault table. Only a run in which every fault test
passed is written."""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from harness import machine, tool_versions

HERE = Path(__file__).parent
SUITE = HERE.parent / "tests" / "faults"


def run_suite() -> list[dict]:
    """The suite's rows; a failed or skipped test stops the benchmark with pytest's summary."""
    with tempfile.TemporaryDirectory() as tmp:
        rows_file = Path(tmp) / "faults.jsonl"
        process = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-n", "0",
             str(SUITE)], cwd=HERE.parent, env={**os.environ, "NAS_FAULTS_OUT": str(rows_file)},
            capture_output=True, text=True)
        summary = process.stdout.strip().splitlines()[-1:]
        if process.returncode != 0 or "skipped" in process.stdout:
            sys.exit(f"bench_faults: the fault suite did not pass in full: {summary}\n"
                     f"{process.stdout[-3000:]}")
        return [json.loads(line) for line in rows_file.read_text().splitlines()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "results" / "faults.json")
    args = parser.parse_args(argv)
    rows = run_suite()
    result = {"faults": rows, "machine": machine(), "tools": tool_versions(),
              "date": datetime.now(UTC).strftime("%Y-%m-%d")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"{len(rows)} faults recorded in {args.out}")


if __name__ == "__main__":
    main()
