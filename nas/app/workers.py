"""``nas run --workers N``: local ``nas worker`` processes that share one study."""

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable

import optuna
from optuna.trial import TrialState

from nas.errors import NasError
from nas.search.front import trial_counts
from nas.search.progress import log_trial, logged_stages
from nas.search.settings import RunSettings
from nas.search.storage import STORAGE_ERRORS, STORAGE_VARIABLE
from nas.search.study import fail_dead_trials, prepare

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


def shares(missing: int, workers: int) -> list[int]:
    """Complete trials each worker adds so that together they add ``missing``."""
    return [missing // workers + (i < missing % workers) for i in range(workers)]


class _NewTrialLines:
    """Logs, here, each trial the workers finish, once (each worker's own log has them too)."""

    def __init__(self, study: optuna.Study, settings: RunSettings):
        self.space = settings.space
        self.logged = {t.number for t in study.get_trials(deepcopy=False, states=FINISHED)}

    def __call__(self, study: optuna.Study) -> None:
        for trial in study.get_trials(deepcopy=False, states=FINISHED):
            if trial.number not in self.logged:
                self.logged.add(trial.number)
                log_trial(study, trial, self.space)


def _show_progress(study: optuna.Study, on_trial: Callable[[optuna.Study], None]) -> None:
    """``on_trial``; while the storage server does not answer (a restart, which the workers
    ride out), the progress waits for the next tick instead of stopping the run."""
    with contextlib.suppress(STORAGE_ERRORS):
        on_trial(study)


def run_workers(settings: RunSettings, space_argument: str, workers: int, study: optuna.Study,
                on_stage: Callable[[str], None], on_trial: Callable[[optuna.Study], None]) -> None:
    """Prepare data and teacher once, then ``workers`` processes of ``nas worker`` (given the
    space as the user named it) that share the study, each adding its share of the missing
    complete trials; their logs are ``worker_N.log`` in the study folder."""
    fail_dead_trials(study, settings.storage_url)
    on_stage = logged_stages(on_stage)
    prepare(settings, study, on_stage)
    missing = max(settings.trials - trial_counts(study)["complete"], 0)
    on_stage(f"searching ({workers} workers)")
    new_lines = _NewTrialLines(study, settings)
    processes = []
    for index, share in enumerate(shares(missing, workers)):
        if share == 0:
            continue
        command = [sys.executable, "-m", "nas", "worker", "--space", space_argument,
                   "--workdir", str(settings.workdir), "--trials", str(share),
                   "--index", str(index + 1), "--sampler", settings.sampler,
                   "--device", settings.device]
        if settings.timeout is not None:
            command += ["--timeout", str(settings.timeout)]
        if settings.memory_limit is not None:
            command += ["--memory-limit", str(settings.memory_limit)]
        # The storage URL (a password, perhaps) goes by environment, not on the command line.
        environment = {**os.environ, STORAGE_VARIABLE: settings.storage_url}
        log = (settings.paths.root / f"worker_{index + 1}.log").open("w")
        processes.append((subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                           env=environment), log))

    def progress(study: optuna.Study) -> None:
        new_lines(study)
        on_trial(study)

    try:
        while any(process.poll() is None for process, _ in processes):
            _show_progress(study, progress)
            time.sleep(1.0)
        _show_progress(study, new_lines)
    finally:
        for process, log in processes:
            if process.poll() is None:
                process.terminate()
            process.wait()
            log.close()
        fail_dead_trials(study, settings.storage_url)  # what a worker left running, it lost
    failed = [i + 1 for i, (process, _) in enumerate(processes) if process.returncode != 0]
    if failed:
        raise NasError(f"workers {failed} stopped with errors: see worker_N.log in "
                       f"{settings.paths.root}")
