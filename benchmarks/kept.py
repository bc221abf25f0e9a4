"""Finished parts of a long benchmark run (a method on a seed, a phase of a seed), kept in a
folder to commit as each finishes, so that a run that outlasts a working session (and its
work folder) is continued by the next session instead of started over. A part is taken up
only by a run of the same budget from the same commit: anything else is refused."""

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).parent


def commit() -> str:
    """The checkout's commit (``unknown`` outside a git checkout)."""
    found = subprocess.run(["git", "rev-parse", "HEAD"], cwd=HERE, capture_output=True,
                           text=True)
    return found.stdout.strip() if found.returncode == 0 else "unknown"


class Kept:
    """The parts of runs of ``budget`` (a text naming everything but the seeds) kept in
    ``folder`` (None: nothing kept), as ``seed<N>/<part>.json``."""

    def __init__(self, folder: Path | None, budget: str):
        self.folder, self.budget = folder, budget

    def _path(self, seed: int, part: str) -> Path | None:
        return None if self.folder is None else self.folder / f"seed{seed}" / f"{part}.json"

    def take_up(self, seed: int, part: str) -> dict | None:
        """The kept run of ``part`` on ``seed``, or None; one of another budget or code is
        refused (``SystemExit`` with the fix)."""
        path = self._path(seed, part)
        if path is None or not path.exists():
            return None
        record = json.loads(path.read_text())
        if record["budget"] != self.budget or record["commit"] != commit():
            raise SystemExit(f"error: {path} was measured with another budget or code (commit "
                             f"{record['commit'][:12]}): run from that commit, or delete the "
                             f"file")
        return record["run"]

    def keep(self, seed: int, part: str, run: dict) -> None:
        """Write a finished part's run (once)."""
        path = self._path(seed, part)
        if path is not None and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            record = {"budget": self.budget, "commit": commit(), "run": run}
            path.write_text(json.dumps(record, default=str) + "\n")

    def run(self, seed: int, part: str, measure: Callable[[], dict]) -> dict:
        """``part``'s kept run on ``seed``, else ``measure()``'s, kept."""
        run = self.take_up(seed, part)
        if run is None:
            run = measure()
            self.keep(seed, part, run)
        return run

    def discard(self, seeds: list[int]) -> None:
        """Drop the kept parts of ``seeds`` once a committed result holds them."""
        for seed in seeds if self.folder is not None else ():
            shutil.rmtree(self.folder / f"seed{seed}", ignore_errors=True)
