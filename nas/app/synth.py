"""Synthesis of study designs with the open flow, each in its own process with a timeout.

For every design this writes a ``SynthesisJob`` (the trial's configuration, its weights file,
the test inputs, part, clock) and runs it with ``nas.hls.job`` from a thread pool here or on
the workers of a Dask cluster; results go into the study as ``synth:trial_<n>`` records (flow,
part, clock, tool versions, resources, latency, the estimate of the same design, bit-exactness,
reason of failure) and the design folder (Verilog, VHDL, yosys log and stats, test vectors) as
a study artifact.
"""

import contextlib
import fcntl
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import as_completed as as_completed_local
from pathlib import Path

import numpy as np
import optuna

from nas.errors import InvalidValue, ToolError
from nas.hls.job import SynthesisJob, arguments, kill_running, run_process
from nas.model.data import load_data
from nas.search.front import useful_front
from nas.search.records import artifact_store, attach_folder, download_weights, record_result, results
from nas.search.settings import RunSettings
from nas.spaces.parts import get_part
from nas.spaces.space import Space

DEFAULT_TIMEOUT_S = 600.0
_log = logging.getLogger("nas.synth")


def synthesis_line(number: int, record: dict) -> str:
    """``synthesized trial 7: ok, 812 LUT, 640 FF, 0 DSP, 9 cycles, 48.0 s``."""
    if record.get("lut") is None:
        return f"synthesized trial {number}: {record.get('status', '?')} ({record.get('reason', '')})"
    return (f"synthesized trial {number}: {record['status']}, {record['lut']:,} LUT, "
            f"{record['ff']:,} FF, {record['dsp']} DSP, {record['latency_cycles']} cycles, "
            f"{record.get('wall_seconds', 0.0):.1f} s")


def select_front(study: optuna.Study, space: Space) -> list[int]:
    """The designs ``nas run`` and ``nas synth --front`` synthesize: the whole useful front
    (``nas.search.front.useful_front``), smallest first."""
    front = useful_front(study, space)
    return [t.number for t in sorted(front, key=lambda t: t.user_attrs["est_lut_equivalent"])]


def _write_jobs(study: optuna.Study, settings: RunSettings, numbers: list[int],
                root: Path) -> dict[int, Path]:
    """One job file per trial in ``root`` (weights and test inputs beside them)."""
    space = settings.space
    x_test = root / "x_test.npy"
    np.save(x_test, load_data(space, settings.seed, settings.paths).x_test)
    store = artifact_store(settings.paths)
    jobs = {}
    for number in numbers:
        trial = study.trials[number]
        weights = root / f"trial_{number}_weights.npz"
        weights.unlink(missing_ok=True)  # from an earlier attempt
        download_weights(trial, store, weights)
        job = SynthesisJob(config=trial.user_attrs["config"], n_inputs=space.n_inputs,
                           n_classes=space.n_classes, weights=str(weights), x_test=str(x_test),
                           divisor=space.input_divisor, part=get_part(space.part_name).full_name,
                           clock_mhz=space.clock_mhz, out=str(root / f"trial_{number}"),
                           result=str(root / f"trial_{number}.json"))
        jobs[number] = root / f"trial_{number}.job.json"
        job.save(jobs[number])
    return jobs


def _run_on_dask(scheduler: str, tasks: dict[int, tuple], timeout: float, finish) -> None:
    from dask.distributed import Client, as_completed

    try:
        client = Client(scheduler, timeout=30)
    except OSError as error:
        raise ToolError(f"cannot reach the Dask scheduler '{scheduler}' ({error}): give a running "
                        f"scheduler's address") from None
    with client:
        futures = {client.submit(run_process, line, result, timeout, pure=False): number
                   for number, (line, result) in tasks.items()}
        for future in as_completed(futures):
            finish(futures[future], future.result())


def _run_here(jobs: int, tasks: dict[int, tuple], timeout: float, finish) -> None:
    """``jobs`` job processes at a time; interrupted (Ctrl-C, SIGTERM), it kills the running
    ones and every tool they started before it lets the interruption go on."""
    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        futures = {pool.submit(run_process, line, result, timeout): number
                   for number, (line, result) in tasks.items()}
        for future in as_completed_local(futures):
            finish(futures[future], future.result())
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)
        kill_running()
        raise
    pool.shutdown()


@contextlib.contextmanager
def _claimed(root: Path, numbers: list[int]):
    """The trials of ``numbers`` this process may synthesize: those whose lock file no other
    process holds (a second ``nas synth`` on the same study skips what the first is doing).
    The locks are released when the block ends, or when the process dies."""
    held, claimed = [], []
    try:
        for number in numbers:
            handle = (root / f"trial_{number}.lock").open("w")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            held.append(handle)
            claimed.append(number)
        yield claimed
    finally:
        for handle in held:
            handle.close()


def synthesize_trials(study: optuna.Study, settings: RunSettings, numbers: list[int],
                      jobs: int = 1, timeout: float = DEFAULT_TIMEOUT_S,
                      on_done: Callable[[int, dict], None] = lambda number, record: None,
                      scheduler: str | None = None) -> dict[int, dict]:
    """Synthesize trials ``numbers`` (skipping those already synthesized, and those another
    process is synthesizing now), ``jobs`` processes at a time on this machine, or on the Dask
    cluster at ``scheduler`` (its workers need this workdir at the same path and ``nas``
    installed); returns the new records.
    A failure or a timeout is recorded with its reason and stops nothing else."""
    if jobs < 1:
        raise InvalidValue("jobs", jobs, "use 1 or more")
    if timeout <= 0:
        raise InvalidValue("timeout", timeout, "use seconds > 0")
    root = (settings.paths.root / "synth").resolve()
    root.mkdir(parents=True, exist_ok=True)
    store = artifact_store(settings.paths)
    new: dict[int, dict] = {}

    def finish(number: int, record: dict) -> None:
        attrs = study.trials[number].user_attrs
        record["estimate"] = {"lut": attrs.get("est_lut"), "ff": attrs.get("est_ff"),
                              "latency_cycles": attrs.get("est_latency_cycles")}
        design = root / f"trial_{number}"
        if design.exists():
            record["artifact_id"] = attach_folder(study, store, design,
                                                  f"trial_{number}_rtl.tar.gz")
        record_result(study, "synth", number, record)
        new[number] = record
        _log.info("%s", synthesis_line(number, record))
        on_done(number, record)

    with _claimed(root, numbers) as claimed:
        done = results(study, "synth")  # read after claiming: another process may have finished
        pending = [n for n in claimed if done.get(n, {}).get("status") != "ok"]
        tasks = {number: (arguments(job_file), str(root / f"trial_{number}.json"))
                 for number, job_file in _write_jobs(study, settings, pending, root).items()}
        if scheduler:
            _run_on_dask(scheduler, tasks, timeout, finish)
        else:
            _run_here(jobs, tasks, timeout, finish)
    return new
