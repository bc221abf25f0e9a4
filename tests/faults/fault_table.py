"""The fault suite's table. Each fault test records what it caused and what it measured; with
``NAS_FAULTS_OUT`` set (``benchmarks/bench_faults.py`` sets it) the rows are appended there as
JSON lines, from which the README's fault table is rendered."""

import json
import os
import time
from pathlib import Path


def record_fault(fault: str, outcome: str, *, trials_lost: int | None, orphans: int,
                 recover_s: float | None) -> None:
    """One row: ``recover_s`` is the time from the fault to a clean stop or to the next
    complete trial (for a damaged file, to the command's one-line error); None where a
    quantity does not apply (no trials at stake, nothing to recover from)."""
    out = os.environ.get("NAS_FAULTS_OUT")
    if out:
        row = {"fault": fault, "outcome": outcome, "trials_lost": trials_lost,
               "orphans": orphans, "recover_s": None if recover_s is None else round(recover_s, 1)}
        with Path(out).open("a") as rows:
            rows.write(json.dumps(row) + "\n")


def orphans(session: int, settle_s: float = 5.0) -> int:
    """Live (not zombie) processes left in the session ``session``: a command started with
    ``start_new_session=True`` leads its own, so its children are counted here too. A process
    killed just before its parent returned may still be in the kernel's exit path, past the
    pipes it held but not yet a zombie: only those still live after ``settle_s`` count."""
    deadline = time.monotonic() + settle_s
    while (count := _live_in(session)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return count


def _live_in(session: int) -> int:
    count = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while being read
        if fields[0] not in ("Z", "X") and int(fields[3]) == session:
            count += 1
    return count
