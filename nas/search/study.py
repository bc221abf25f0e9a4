"""The study: storage, sampler, the trial loop with its progress bar, and the Pareto front."""

import hashlib
import os
import shutil
import socket
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict

import numpy as np
import optuna
from optuna.trial import TrialState

from nas import stop
from nas._tf import chosen_device, use_device
from nas.errors import DataWarning, InvalidValue, StudyError
from nas.estimators.calibration import Calibration
from nas.model.data import DataSplits, check_splits, load_data
from nas.model.student import accuracy
from nas.model.teacher import check_teacher, load_teacher, teacher_logits
from nas.search.flow import flow_estimators
from nas.search.front import trial_counts
from nas.search.objective import TrialRunner
from nas.search.progress import DEVICE_LOGGER, log_trial, logged_stages
from nas.search.records import artifact_store
from nas.search.sampling import starting_plans
from nas.search.screening import SCREEN_MARGIN
from nas.search.settings import DIRECTION, LEGACY_IDENTITY, RunSettings
from nas.search.storage import is_storage_failure, open_storage, shown_url
from nas.spaces.parts import part_family
from nas.spaces.space import Space

SAMPLERS = ("tpe", "nsgaii", "random")

#: Attempts allowed per requested trial: rejected designs cost microseconds, but a space where
#: nearly nothing fits must still end.
ATTEMPTS_PER_TRIAL = 20
#: A run stops after this many failed trials in a row: something is wrong beyond one design.
MAX_FAILURES_IN_A_ROW = 5
#: A storage server that stops answering (restarted, a dropped connection) is waited for this
#: many times, this many seconds apart, before the search gives up.
STORAGE_RETRIES, STORAGE_WAIT_S = 12, 5.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fail_dead_trials(study: optuna.Study, storage_url: str) -> list[int]:
    """Mark FAIL the running trials whose worker process on this host is gone (killed, crashed);
    returns their numbers. Trials of other hosts are left to the heartbeat."""
    host = socket.gethostname()
    storage = open_storage(storage_url)
    study_id = storage.get_study_id_from_name(study.study_name)
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = trial.user_attrs.get("worker", "")
        owner_host, _, pid = owner.rpartition(":")
        if owner_host == host and pid.isdigit() and not _alive(int(pid)):
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
            storage.set_trial_user_attr(trial_id, "fail_reason",
                                        f"worker {owner} died during the trial")
            storage.set_trial_state_values(trial_id, TrialState.FAIL)
            failed.append(trial.number)
    return failed


class _QuotaCallback:
    """Stops this process's optimize() once it has added ``quota`` complete trials, or after
    ``MAX_FAILURES_IN_A_ROW`` failures in a row."""

    def __init__(self, quota: int, on_trial: Callable[[optuna.Study], None], space: Space):
        self.quota, self.on_trial, self.space = quota, on_trial, space
        self.completed = self.failures_in_a_row = 0

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if trial.state == TrialState.COMPLETE:
            self.completed += 1
            self.failures_in_a_row = 0
        elif trial.state == TrialState.FAIL:
            self.failures_in_a_row += 1
        log_trial(study, trial, self.space)
        self.on_trial(study)
        stop.raise_if_requested()
        if self.completed >= self.quota or self.failures_in_a_row >= MAX_FAILURES_IN_A_ROW:
            study.stop()

    def recount(self, study: optuna.Study, numbers: list[int]) -> None:
        """Count again, from the storage, which of this process's trials ``numbers`` are
        complete: a trial whose result reached the storage while the answer did not (a server
        restarting) was never counted here."""
        ours = set(numbers)
        self.completed = sum(t.number in ours for t in study.get_trials(
            deepcopy=False, states=(TrialState.COMPLETE,)))


#: Trials TPE draws at random before its model steers the search (after the starting plans).
TPE_STARTUP_TRIALS = 10


def make_sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    """``tpe`` (the default, chosen by measurement: see README) is multivariate TPE; ``group``
    handles the layers that only some trials have. TPE and NSGA-II read the fits-the-part
    constraints that each trial sets."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if name == "tpe":
            return optuna.samplers.TPESampler(multivariate=True, group=True, seed=seed,
                                              n_startup_trials=TPE_STARTUP_TRIALS)
        if name == "nsgaii":
            return optuna.samplers.NSGAIISampler(population_size=16, seed=seed)
        if name == "random":
            return optuna.samplers.RandomSampler(seed=seed)
    raise InvalidValue("sampler", f"'{name}'", f"use one of {', '.join(SAMPLERS)}", problem="is unknown")


def sampler_seed(seed: int, worker_index: int, study: optuna.Study) -> int:
    """The sampler's seed for a worker joining ``study``: from the run's seed, the worker and
    the trials the study has started so far, so that a continued study draws new proposals
    (the same seed again would repeat the random start-up's) while a new one is reproducible."""
    started = sum(t.state != TrialState.WAITING for t in study.get_trials(deepcopy=False))
    return seed * 1000 + worker_index + 7919 * started


def create_or_continue(settings: RunSettings) -> optuna.Study:
    """Open the study, creating the folder and storage if needed; nothing is left behind on error."""
    paths = settings.paths
    created = paths.create()
    try:
        storage = open_storage(settings.storage_url)
        study = optuna.create_study(storage=storage, study_name=settings.space.name,
                                    directions=[DIRECTION[o] for o in settings.space.objectives],
                                    load_if_exists=True,
                                    sampler=make_sampler(settings.sampler, settings.seed))
        recorded = study.user_attrs.get("settings")
        if recorded is not None:
            settings.check_continues({**LEGACY_IDENTITY, **recorded},
                                     shown_url(settings.storage_url))
    except BaseException:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(list(settings.space.objectives))
    record_calibration(study, settings)
    check_calibration_family(study, settings)
    if recorded is None:
        _enqueue_starting_plans(study, settings)
    study.set_user_attr("settings", settings.identity())
    study.set_user_attr("space", settings.space.name)
    study.set_user_attr("objectives", {o: DIRECTION[o] for o in settings.space.objectives})
    return study


def _enqueue_starting_plans(study: optuna.Study, settings: RunSettings) -> None:
    """A new learned-precision MLP study starts with ``starting_plans`` (not with the random
    sampler, the baseline, nor in a quick run, which checks the chain, not the search). A
    study whose trials are all still waiting is new: another process creating the same study
    at the same moment may have enqueued some of the plans already, and those are skipped."""
    student = settings.space.student
    if (not settings.starting_plans or settings.quick or settings.sampler == "random"
            or student.precision != "learned" or student.family != "mlp"
            or any(t.state != TrialState.WAITING for t in study.get_trials(deepcopy=False))):
        return
    for params in starting_plans(student):
        study.enqueue_trial(params, skip_if_exists=True)


def record_calibration(study: optuna.Study, settings: RunSettings) -> None:
    """Keep the calibration in the study, so that every trial of it, on any machine and after
    any upgrade, is estimated with the same coefficients; a different ``--calibration`` for
    an existing study is refused."""
    recorded = study.user_attrs.get("calibration")
    if recorded is None:
        study.set_user_attr("calibration", asdict(settings.load_calibration()))
    elif settings.calibration is not None and asdict(settings.load_calibration()) != recorded:
        raise StudyError(f"the study in {shown_url(settings.storage_url)} was made with another "
                         f"calibration (created {recorded.get('created')}): leave out the "
                         f"calibration to continue it, or use another workdir")


def check_calibration_family(study: optuna.Study, settings: RunSettings) -> None:
    """A vendor calibration predicts the part families it was fitted on; on another family
    its estimates are extrapolations: warn once per run, and record it in the study."""
    calibration = study_calibration(study)
    part = settings.space.part.full_name
    family = part_family(part)
    if calibration.flow != "vitis" or family in calibration.part_family.split("+"):
        return
    message = (f"the {calibration.flow} calibration was fitted on {calibration.part_family} "
               f"parts, not on the {family or 'unknown'} family of {part}: its estimates are "
               f"extrapolations (calibrate on reports of that family with 'nas calibrate')")
    warnings.warn(message, DataWarning, stacklevel=2)
    study.set_user_attr("calibration_warning", message)


def study_calibration(study: optuna.Study) -> Calibration:
    """The calibration the study was made with; a ``StudyError`` when this version cannot use
    it (its models use features no longer computed)."""
    calibration = Calibration(**study.user_attrs["calibration"])
    stale = calibration.stale_models()
    if stale:
        raise StudyError(f"study '{study.study_name}' was made with a calibration this version "
                         f"cannot use ({stale}): continue it with the version that made it, or "
                         f"start a new study (another --workdir)")
    return calibration


def _digest(arrays) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


def check_fingerprint(study: optuna.Study, data: DataSplits, teacher) -> None:
    """Every worker must train on the same data against the same teacher: the first records
    their digests in the study, the others compare (a mismatch means other package versions
    or another data file on that machine)."""
    fingerprint = {"data": _digest(data.arrays().values()), "teacher": _digest(teacher.get_weights())}
    recorded = study.user_attrs.get("fingerprint")
    if recorded is None:
        study.set_user_attr("fingerprint", fingerprint)
    elif recorded != fingerprint:
        changed = [key for key in fingerprint if fingerprint[key] != recorded[key]]
        verb = "differs" if len(changed) == 1 else "differ"
        raise StudyError(f"this machine's {' and '.join(changed)} {verb} from the study's (another "
                         f"data file, or other package versions, e.g. after an upgrade): use the "
                         f"same data file and requirements.lock as the machine that created it")


def select_device(settings: RunSettings) -> str:
    """Make ``settings.device`` (auto, cpu, gpu) the device that trains, and say which it is."""
    device, why = chosen_device(settings.device, settings.space.student.family == "cnn")
    try:
        use_device(device)
    except RuntimeError as error:
        raise StudyError(str(error)) from None
    DEVICE_LOGGER.info("training on the %s (%s)", device.upper(), why)
    return device


def prepare(settings: RunSettings, study: optuna.Study,
            on_stage: Callable[[str], None] = lambda s: None) -> TrialRunner:
    """Data and teacher (cached in the study folder, deterministic from the seed, so every
    worker gets the same) and the objective that uses them."""
    space, paths = settings.space, settings.paths
    paths.create()  # a worker on another machine starts with an empty workdir
    select_device(settings)
    on_stage("simulating data")
    data = load_data(space, settings.seed, paths)
    for problem in check_splits(data, space.n_classes, SCREEN_MARGIN):
        warnings.warn(problem, DataWarning, stacklevel=2)
    study.set_user_attr("input_stage", asdict(data.stage))
    on_stage("training the teacher")
    teacher = load_teacher(space, data, settings.seed, paths)
    study.set_user_attr("teacher_val_accuracy", check_teacher(teacher, data))
    check_fingerprint(study, data, teacher)
    study.set_user_attr("teacher_test_accuracy", accuracy(teacher, data.x_test, data.y_test))
    study.set_user_attr("teacher_params", int(teacher.count_params()))
    estimators = flow_estimators(study_calibration(study), space, data)
    study.set_user_attr("estimator", estimators.estimator.name)
    return TrialRunner(space, data, teacher_logits(teacher, data.x_train), estimators,
                       artifact_store(paths), settings.seed, settings.memory_limit_bytes)


def _optimize(study: optuna.Study, runner: TrialRunner, settings: RunSettings,
              quota_callback: _QuotaCallback) -> None:
    """``study.optimize`` until the quota is met, riding out a storage server that stops
    answering for a while: the trial in flight fails (the heartbeat says so), or counts if its
    result reached the storage; the rest go on."""
    for attempt in range(STORAGE_RETRIES + 1):
        try:
            if attempt:
                quota_callback.recount(study, runner.numbers)
            missing = quota_callback.quota - quota_callback.completed
            if missing <= 0:
                return
            study.optimize(runner, n_trials=missing * ATTEMPTS_PER_TRIAL, timeout=settings.timeout,
                           catch=(Exception,), gc_after_trial=True, callbacks=[quota_callback])
            return
        except Exception as error:
            if not is_storage_failure(error):
                raise
            if attempt == STORAGE_RETRIES:
                raise StudyError(f"the storage {shown_url(settings.storage_url)} stopped answering "
                                 f"({type(error).__name__}) and did not come back in "
                                 f"{STORAGE_RETRIES * STORAGE_WAIT_S:.0f} s: the study keeps what "
                                 f"was done; run again when it is back") from None
            time.sleep(STORAGE_WAIT_S)


def run_search(settings: RunSettings, study: optuna.Study | None = None,
               on_stage: Callable[[str], None] = lambda s: None,
               on_trial: Callable[[optuna.Study], None] = lambda s: None,
               quota: int | None = None, worker_index: int = 0) -> optuna.Study:
    """Data -> teacher -> trials until ``settings.trials`` are complete (or the timeout).

    ``study`` is the one ``create_or_continue`` opened (opened here when None); ``on_stage``
    hears what is being prepared, ``on_trial`` is called after every trial. This process adds
    ``quota`` complete trials (default: what the study lacks of ``settings.trials``), so that
    re-running the same command continues the study where it stopped, and W workers with
    quota K add exactly W*K. ``worker_index`` reseeds the sampler of each parallel worker.
    ``MAX_FAILURES_IN_A_ROW`` failed trials in a row stop the search with a ``StudyError``
    naming the last reason (the study keeps them all).
    """
    settings.validate()
    study = study or create_or_continue(settings)
    fail_dead_trials(study, settings.storage_url)
    on_stage = logged_stages(on_stage)
    runner = prepare(settings, study, on_stage)
    if quota is None:
        quota = settings.trials - trial_counts(study)["complete"]
    if quota <= 0:
        return study
    study.sampler = make_sampler(settings.sampler, sampler_seed(settings.seed, worker_index, study))
    on_stage("searching")
    quota_callback = _QuotaCallback(quota, on_trial, settings.space)
    _optimize(study, runner, settings, quota_callback)
    if runner.disk_full:
        place = runner.disk_full.filename or settings.paths.root
        raise StudyError(f"no space left on the disk of {place}: free space there (or give "
                         f"another --workdir) and run the same command again; the study keeps "
                         f"what was done") from None
    if quota_callback.failures_in_a_row >= MAX_FAILURES_IN_A_ROW:
        last = study.get_trials(deepcopy=False, states=(TrialState.FAIL,))[-1]
        raise StudyError(f"{MAX_FAILURES_IN_A_ROW} trials failed in a row, the last with "
                         f"'{last.user_attrs.get('fail_reason', 'no reason recorded')}': something "
                         f"is wrong beyond one design (the study keeps them; fix the cause and "
                         f"run again to continue)")
    return study
