"""Calibration data of the open flow: designs sampled across the student space, trained
briefly (real weights, pruned to their sparsity), traced, written as RTL and synthesized.

Each design is a row of ``rows.jsonl`` in the calibration folder (configuration, layer
summary, trace features, synthesized counts, seconds per step, tool versions) and its weights
``design_<index>.npz``. Design ``index`` is drawn from its own seed, so an interrupted
generation continues where it stopped: the rows present are kept, the missing ones are made.
"""

import contextlib
import json
import math
import multiprocessing
import os
import shutil
import signal
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from importlib.metadata import version
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import optuna

from nas._tf import set_seed
from nas.errors import DataError
from nas.estimators.architecture import ArchitectureEstimator
from nas.estimators.design import expected_design, trained_design
from nas.estimators.trace import (
    TRACE_DEFINITIONS,
    TRACE_FEATURES,
    student_features,
    trace_features,
)
from nas.hls.open_flow import synthesize_rtl, trace_student, write_rtl
from nas.hls.yosys import yosys_version
from nas.model.config import InputStage, StudentConfig
from nas.model.data import prepared, split
from nas.model.student import build_student, train_student
from nas.model.weights import load_weights, save_weights
from nas.search.sampling import sample_student
from nas.spaces import SPACES, Space
from nas.spaces.sources import load_events

#: Epochs of each calibration design's training: enough for weights that look trained (their
#: value distribution, and the target sparsity reached by pruning), far less than a search.
GENERATE_EPOCHS = 3
#: Designs whose architecture-level LUT prior exceeds this are redrawn: the flow is calibrated
#: where the search works (designs that fit an xc7a35t, with the prior's margin), and bigger
#: designs take minutes of yosys each.
MAX_PRIOR_LUT = 30_000
DEFAULT_TIMEOUT_S = 900.0
ROWS = "rows.jsonl"
#: Seconds to wait for each killed worker to be gone.
_REAP_S = 5.0

_cache: dict = {}
#: The space whose students calibration designs are unless another is given.
DEFAULT_SPACE = SPACES["mlp_psd"]


def sample_config(seed: int, index: int, max_prior_lut: float = MAX_PRIOR_LUT,
                  space: Space = DEFAULT_SPACE) -> StudentConfig:
    """Design ``index``: a random student of ``space``'s ranges whose prior fits the cap."""
    prior = ArchitectureEstimator()
    for attempt in range(100):
        sampler = optuna.samplers.RandomSampler(seed=(seed * 1_000_003 + index) * 101 + attempt)
        study = optuna.create_study(sampler=sampler)
        config = sample_student(study.ask(), space.student, input_shape=space.input_shape)
        design = expected_design(config, space.n_inputs, space.n_classes)
        if prior.predict_one(design).lut <= max_prior_lut:
            return config
    raise RuntimeError(f"no design under {max_prior_lut} prior LUTs in 100 draws")


def _data(seed: int, space: Space):
    """The data of a quick run of ``space`` (cached per process)."""
    key = (space.name, seed)
    if key not in _cache:
        quick = space.quick()
        _cache[key] = (quick, prepared(quick, split(load_events(quick, seed), quick.input_divisor)))
    return _cache[key]


def build_row(index: int, seed: int, folder: str, part_name: str, clock_mhz: float,
              timeout: float, max_prior_lut: float = MAX_PRIOR_LUT,
              space: Space = DEFAULT_SPACE) -> dict:
    """Train, trace, write and synthesize design ``index`` of ``space``; its calibration row."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space, data = _data(seed, space)
    config = replace(sample_config(seed, index, max_prior_lut, space), inputs=data.stage)
    seconds = {}
    start = time.perf_counter()
    set_seed(seed * 7919 + index)
    recipe = replace(space.recipe, alpha=1.0)  # labels only: no teacher needed for weights
    no_teacher = np.zeros((len(data.y_train), space.n_classes), dtype=np.float32)
    model, _ = train_student(config, data.x_train, data.y_train, no_teacher, space.n_classes,
                             recipe, epochs=GENERATE_EPOCHS)
    seconds["train"] = time.perf_counter() - start

    start = time.perf_counter()
    comb = trace_student(model, config, data.stage)
    features = trace_features(comb, clock_mhz)
    seconds["trace_features"] = time.perf_counter() - start

    start = time.perf_counter()
    out = Path(folder) / f"design_{index}"
    _, _, metadata = write_rtl(comb, out, part_name, clock_mhz)
    counts = synthesize_rtl(out, timeout=timeout, part_name=part_name)
    seconds["synthesis"] = time.perf_counter() - start
    save_weights(model, Path(folder) / f"design_{index}.npz")
    stats = (out / "verilog" / "src" / "stat.json").read_text()
    (Path(folder) / f"design_{index}_stat.json").write_text(stats)
    shutil.rmtree(out)
    return {
        "index": index, "config": config.to_dict(),
        "design": trained_design(model, config).to_dict(),
        "trace": features, "trace_definitions": TRACE_DEFINITIONS,
        "measured": {"lut": counts["lut"], "ff": counts["ff"], "carry4": counts["carry4"],
                     "dsp": counts["dsp"], "bram": counts["bram"],
                     "latency_cycles": int(metadata["latency"])},
        "part": part_name, "clock_mhz": clock_mhz, "seconds": seconds,
        "versions": _versions(yosys_version()),
    }


def _versions(yosys: str) -> dict[str, str]:
    return {"da4ml": version("da4ml"), "yosys": yosys, "qkeras": version("qkeras"),
            "tensorflow": version("tensorflow")}


def read_rows(folder: Path) -> list[dict]:
    """The rows generated so far. A last line cut short by an interruption is dropped (its
    design is made again); any other line that is not a row is a ``DataError``: the file was
    damaged, and silently skipping rows would fit on fewer designs than it says."""
    path = folder / ROWS
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    rows = []
    for number, line in enumerate(lines, start=1):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if number < len(lines):
                raise DataError(f"{path}: line {number} is not a calibration row: restore the "
                                f"file or remove that line (its design is then made again)"
                                ) from None
    return rows


def _n_inputs(row: dict, config: StudentConfig) -> int:
    """Inputs of a row's design (a CNN's first layer reads a window, not every input)."""
    return math.prod(config.input_shape) if config.convs else row["design"]["layers"][0]["n_in"]


def _rebuild(folder: Path, row: dict):
    config = StudentConfig.from_dict(row["config"])
    model = build_student(config, _n_inputs(row, config), row["design"]["layers"][-1]["n_out"])
    load_weights(model, folder / f"design_{row['index']}.npz")
    return model, config


def refresh_features(folder: Path, rows: list[dict]) -> int:
    """Recompute the trace features of rows made with other feature definitions, from their
    stored weights (no synthesis needed), and rewrite the rows file; returns how many."""
    stale = [row for row in rows if row.get("trace_definitions") != TRACE_DEFINITIONS
             or set(row["trace"]) != set(TRACE_FEATURES)]
    for row in stale:
        model, config = _rebuild(folder, row)
        # rows made before configurations held the input stage recorded the port alone
        stage = config.inputs or InputStage((tuple(row["port"]),) * _n_inputs(row, config))
        row["trace"] = student_features(model, config, stage, row["clock_mhz"])
        row["trace_definitions"] = TRACE_DEFINITIONS
    if stale:
        tmp = folder / (ROWS + ".tmp")
        tmp.write_text("".join(json.dumps(row) + "\n" for row in rows))
        tmp.replace(folder / ROWS)
    return len(stale)


def generate(folder: Path, n_designs: int, jobs: int = 1, seed: int = 0,
             part_name: str = "xc7a35tcpg236-1", clock_mhz: float = 200.0,
             timeout: float = DEFAULT_TIMEOUT_S,
             on_progress: Callable[[int, int, dict | None], None] = lambda done, total, row: None,
             max_prior_lut: float = MAX_PRIOR_LUT,
             space: Space = DEFAULT_SPACE) -> tuple[list[dict], list[str]]:
    """Make designs ``0..n_designs-1`` of ``space`` that ``folder`` does not hold yet, ``jobs``
    processes at a time; returns all rows and the failures of this call (index and reason).
    Designs are drawn under ``max_prior_lut`` (a smaller cap: smaller designs, quicker
    synthesis)."""
    if n_designs < 1 or jobs < 1 or timeout <= 0:
        raise ValueError("calibration needs at least 1 design, 1 job and a positive timeout")
    folder.mkdir(parents=True, exist_ok=True)
    rows = read_rows(folder)
    done = {row["index"] for row in rows}
    pending = [i for i in range(n_designs) if i not in done]
    failures: list[str] = []
    on_progress(n_designs - len(pending), n_designs, None)
    if not pending:
        return rows, failures
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"),
                             initializer=os.setpgrp) as pool, \
            (folder / ROWS).open("a") as sink:
        futures = {pool.submit(build_row, i, seed, str(folder), part_name, clock_mhz, timeout,
                               max_prior_lut, space): i for i in pending}
        try:
            for future in as_completed(futures):
                try:
                    row = future.result()
                except Exception as error:  # one design's failure stops nothing else
                    failures.append(f"design {futures[future]}: {type(error).__name__}: {error}")
                    continue
                sink.write(json.dumps(row) + "\n")
                sink.flush()
                rows.append(row)
                on_progress(len(rows), n_designs, row)
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            _end_workers()
            raise
    return rows, failures


def _end_workers() -> None:
    """Kill the pool's workers with the tools they started (yosys): each leads a process
    group of its own (``os.setpgrp`` at start), so a stop sent to this process alone, which
    would otherwise wait for their designs to finish, ends them too, and a terminal's Ctrl-C
    reaches them only through here. A worker still starting (no group of its own yet, no tool
    started) is killed alone; each is reaped before the command returns."""
    workers = multiprocessing.active_children()
    for worker in workers:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if os.getpgid(worker.pid) == worker.pid:
                os.killpg(worker.pid, signal.SIGKILL)
            else:
                worker.kill()
    for worker in workers:
        worker.join(_REAP_S)
