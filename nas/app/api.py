"""The Python API: what ``nas run``, ``show``, ``synth``, ``export`` and ``report`` do, as
functions and a ``Study`` whose results are pandas tables and plotly figures.

    import nas
    space = nas.load_space("mlp_psd")            # or a YAML space file
    study = nas.run(space, quick=True, workdir="studies")
    study.front()                                 # the useful front, a DataFrame
    study.plot()                                  # shows inline in Jupyter
    study.export(study.front().index[0], "project")

Nothing here installs a signal handler, a warning hook or an unraisable hook, or changes an
environment variable: those are the command line's (``nas.app.cli``). Progress goes to the
``nas`` logger; while nothing routes it, ``run`` and ``synthesize`` print it to stderr.
"""

import contextlib
import logging
import os
import sys
from pathlib import Path

import optuna

from nas.search.front import Limits, accuracy_floor, pareto_front, trial_counts
from nas.search.progress import LOGGER
from nas.search.records import results
from nas.search.settings import RunSettings
from nas.search.storage import STORAGE_VARIABLE, open_existing
from nas.spaces import get_space
from nas.spaces.space import Space

DEFAULT_TRIALS = 100
QUICK_TRIALS = 8


def load_space(name: str | Path) -> Space:
    """A built-in space by name (see ``nas spaces``) or a space from a YAML file."""
    return get_space(str(name))


def run_settings(space: Space, trials: int | None = None, *, quick: bool = False,
                 workdir: str | Path = "studies", storage: str | None = None, seed: int = 0,
                 timeout: float | None = None, memory_limit: float | None = None,
                 sampler: str = "tpe", flow: str = "open", calibration: str | Path | None = None,
                 precision: str | None = None, objectives: int | None = None,
                 part: str | None = None, clock_mhz: float | None = None,
                 max_latency_cycles: int | None = None, device: str = "auto") -> RunSettings:
    """The settings of a run, with ``nas run``'s defaults; validated (``InvalidValue`` names a
    bad one). ``quick`` makes the space small and the default trials ``QUICK_TRIALS``."""
    if quick:
        space = space.quick()
    space = space.with_search(precision, objectives).with_target(part, clock_mhz,
                                                                 max_latency_cycles)
    if trials is None:
        trials = QUICK_TRIALS if quick else DEFAULT_TRIALS
    settings = RunSettings(space=space, trials=trials, seed=seed, workdir=Path(workdir),
                           storage=storage, timeout=timeout, quick=quick,
                           memory_limit=memory_limit, sampler=sampler, flow=flow,
                           calibration=None if calibration is None else Path(calibration),
                           device=device)
    settings.validate()
    return settings


@contextlib.contextmanager
def _shown_progress():
    """Progress lines on stderr, and Optuna's per-trial INFO lines off, for the block only: a
    ``nas`` logger that the user routes is left alone."""
    handler = None
    if not LOGGER.hasHandlers():
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        LOGGER.addHandler(handler)
    level, verbosity = LOGGER.level, optuna.logging.get_verbosity()
    if LOGGER.getEffectiveLevel() > logging.INFO:
        LOGGER.setLevel(logging.INFO)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(verbosity)
        LOGGER.setLevel(level)
        if handler is not None:
            LOGGER.removeHandler(handler)


def run(space: Space | str, trials: int | None = None, *, report: bool = True,
        **settings) -> "Study":
    """Train the teacher and search students, as ``nas run --no-synth`` does; the keyword
    arguments are ``run_settings``'s (``nas run``'s options). A study that exists in the
    workdir with the same settings is continued. ``report`` writes its HTML report."""
    from nas.app.report import publish_report
    from nas.search.study import create_or_continue, run_search

    if isinstance(space, str):
        space = load_space(space)
    settings.setdefault("storage", os.environ.get(STORAGE_VARIABLE))
    chosen = run_settings(space, trials, **settings)
    with _shown_progress():
        study = run_search(chosen, create_or_continue(chosen))
    result = Study(study, chosen)
    if report:
        publish_report(study, chosen.space, chosen.paths)
    return result


def open_study(space: Space | str, workdir: str | Path = "studies",
               storage: str | None = None) -> "Study":
    """The study of ``space`` that a run made in ``workdir`` (or ``storage``)."""
    if isinstance(space, str):
        space = load_space(space)
    study, settings = open_existing(space, Path(workdir),
                                    storage or os.environ.get(STORAGE_VARIABLE))
    return Study(study, settings)


class Study:
    """A search's study: its front, synthesis, export, report and plots.

    ``optuna`` is the Optuna study itself, ``settings`` what it was made with."""

    def __init__(self, study: optuna.Study, settings: RunSettings):
        self.optuna, self.settings = study, settings

    @property
    def space(self) -> Space:
        return self.settings.space

    def __repr__(self) -> str:
        counts = ", ".join(f"{n} {name}" for name, n in trial_counts(self.optuna).items())
        return f"<nas.Study {self.space.name} in {self.settings.paths.root}: {counts}>"

    def front(self, min_accuracy: float | None = None, max_lut: float | None = None,
              max_latency_cycles: int | None = None):
        """The Pareto front within the limits as a pandas DataFrame indexed by trial (columns as
        ``nas show --json``); ``min_accuracy`` defaults to the useful floor."""
        import pandas

        from nas.search.front import front_rows

        floor = accuracy_floor(self.optuna, self.space) if min_accuracy is None else min_accuracy
        trials = pareto_front(self.optuna, Limits(floor, max_lut, max_latency_cycles))
        rows = front_rows(self.optuna, trials, self.space.n_inputs, self.space.n_classes)
        columns = ["trial", "val_accuracy", "test_accuracy", "lut_equivalent", "latency_cycles",
                   "est_lut", "est_ff", "est_dsp", "n_params", "nonzero_params", "sparsity",
                   "shape", "bits", "hls_exact"]
        return pandas.DataFrame(rows, columns=columns).set_index("trial")

    def synthesize(self, trials: list[int] | None = None, jobs: int = 2, timeout: float = 600.0,
                   scheduler: str | None = None):
        """Synthesize ``trials`` (default: the useful front) with the open flow, as ``nas
        synth``; their synthesis records (new and earlier ones) as a DataFrame by trial."""
        import pandas

        from nas.app.export import finished_trial
        from nas.app.report import publish_report
        from nas.app.synth import select_front, synthesize_trials

        if trials is None:
            numbers = select_front(self.optuna, self.space)
        else:
            numbers = [finished_trial(self.optuna, number).number for number in trials]
        with _shown_progress():
            synthesize_trials(self.optuna, self.settings, numbers, jobs, timeout,
                              scheduler=scheduler)
        publish_report(self.optuna, self.space, self.settings.paths)
        records = results(self.optuna, "synth")
        rows = [{"trial": n, **{k: v for k, v in records[n].items() if not isinstance(v, dict)}}
                for n in numbers if n in records]
        return pandas.DataFrame(rows).set_index("trial") if rows else pandas.DataFrame()

    def export(self, trial: int, out: str | Path, **options):
        """Write trial ``trial`` as a bit-exact hls4ml project with its RTL in ``out``, as
        ``nas export``; ``options`` are ``nas.app.export.export_trial``'s (backend, part,
        clock_mhz, strategy, force, build, io_type). Returns the export's record."""
        from nas.app.export import export_trial

        return export_trial(self.optuna, self.settings, int(trial), out, **options)

    def report(self, out: str | Path | None = None) -> Path:
        """Write the HTML report (default: ``report.html`` in the study folder); its path."""
        from nas.app.report import publish_report, write_report

        if out is None:
            return publish_report(self.optuna, self.space, self.settings.paths)
        return write_report(self.optuna, self.space, Path(out))

    def figures(self) -> dict:
        """The report's plotly figures by title."""
        from nas.app.report import figures

        return figures(self.optuna, self.space)

    def plot(self, which: str = "lut"):
        """One of the report's figures (``lut``, ``latency`` or ``hypervolume``): the last
        expression of a notebook cell, it shows inline."""
        titles = {"lut": "Accuracy against LUT-equivalents", "latency": "Accuracy against latency",
                  "hypervolume": "Hypervolume over trials"}
        if which not in titles:
            raise ValueError(f"which={which!r} is unknown: use one of {', '.join(titles)}")
        return self.figures()[titles[which]]
