"""The study: storage, sampler, the trial loop with its progress bar, and the Pareto front."""

import shutil
import warnings
from collections.abc import Callable

import optuna
from optuna.trial import TrialState

from nas.errors import UserError
from nas.estimators import ArchitectureEstimator
from nas.search.data import load_data
from nas.search.objective import DIRECTIONS, OBJECTIVES, TrialRunner
from nas.search.settings import RunSettings
from nas.search.student import accuracy
from nas.search.teacher import load_teacher, teacher_logits

SAMPLERS = ("tpe", "nsgaii", "random")

#: Attempts allowed per requested trial: rejected designs cost microseconds, but a space where
#: nearly nothing fits must still end.
ATTEMPTS_PER_TRIAL = 20


def make_sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    """``tpe`` (the default, chosen by measurement: see README) is multivariate TPE; ``group``
    handles the layers that only some trials have. TPE and NSGA-II read the fits-the-part
    constraints that each trial sets."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if name == "tpe":
            return optuna.samplers.TPESampler(multivariate=True, group=True, seed=seed,
                                              n_startup_trials=10)
        if name == "nsgaii":
            return optuna.samplers.NSGAIISampler(population_size=16, seed=seed)
        if name == "random":
            return optuna.samplers.RandomSampler(seed=seed)
    raise UserError(f"unknown sampler '{name}': use one of {', '.join(SAMPLERS)} (--sampler)")


def open_storage(url: str) -> optuna.storages.BaseStorage:
    try:
        return optuna.storages.get_storage(url)
    except Exception as error:  # SQLAlchemy raises many kinds for a bad URL
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"cannot open storage '{url}' ({first_line}): "
                        f"give a reachable Optuna storage URL with --storage") from None


def load_existing_study(space_name: str, storage_url: str) -> optuna.Study:
    storage = open_storage(storage_url)
    try:
        return optuna.load_study(study_name=space_name, storage=storage)
    except KeyError:
        raise UserError(f"no study for space '{space_name}' in {storage_url}: "
                        f"run 'nas run --space {space_name}' first (or pass its --workdir/--storage)"
                        ) from None


def create_or_continue(settings: RunSettings) -> optuna.Study:
    """Open the study, creating the folder and storage if needed; nothing is left behind on error."""
    paths = settings.paths
    created = paths.create()
    try:
        storage = open_storage(settings.storage_url)
        study = optuna.create_study(storage=storage, study_name=settings.space.name,
                                    directions=list(DIRECTIONS), load_if_exists=True,
                                    sampler=make_sampler(settings.sampler, settings.seed))
        recorded = study.user_attrs.get("settings")
        if recorded is not None and recorded != settings.identity():
            raise UserError(
                f"the study in {settings.storage_url} was made with {recorded}, not "
                f"{settings.identity()}: use the same options, or another --workdir")
    except BaseException:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(list(OBJECTIVES))
    study.set_user_attr("settings", settings.identity())
    study.set_user_attr("space", settings.space.name)
    study.set_user_attr("objectives", dict(zip(OBJECTIVES, DIRECTIONS, strict=True)))
    return study


def count_trials(study: optuna.Study, state: TrialState) -> int:
    return len(study.get_trials(deepcopy=False, states=(state,)))


def run_search(settings: RunSettings, study: optuna.Study | None = None,
               on_stage: Callable[[str], None] = lambda s: None,
               on_trial: Callable[[optuna.Study], None] = lambda s: None) -> optuna.Study:
    """Data -> teacher -> trials until ``settings.trials`` are complete (or the timeout).

    ``study`` is the one ``create_or_continue`` opened (opened here when None); ``on_stage``
    hears what is being prepared, ``on_trial`` is called after every trial. Re-running with
    the same settings continues the study where it stopped.
    """
    settings.validate()
    space = settings.space
    study = study or create_or_continue(settings)
    paths = settings.paths
    on_stage("simulating data")
    data = load_data(space, settings.seed, paths)
    on_stage("training the teacher")
    teacher = load_teacher(space, data, settings.seed, paths)
    study.set_user_attr("teacher_test_accuracy", accuracy(teacher, data.x_test, data.y_test))
    study.set_user_attr("teacher_params", int(teacher.count_params()))
    runner = TrialRunner(space, data, teacher_logits(teacher, data.x_train),
                         ArchitectureEstimator(clock_mhz=space.clock_mhz),
                         optuna.artifacts.FileSystemArtifactStore(str(paths.artifacts)),
                         settings.seed)
    remaining = settings.trials - count_trials(study, TrialState.COMPLETE)
    if remaining <= 0:
        return study
    on_stage("searching")
    study.optimize(
        runner, n_trials=remaining * ATTEMPTS_PER_TRIAL, timeout=settings.timeout,
        catch=(Exception,), gc_after_trial=True,
        callbacks=[optuna.study.MaxTrialsCallback(settings.trials, states=(TrialState.COMPLETE,)),
                   lambda study, _trial: on_trial(study)])
    return study
