"""Optuna storages for studies, and opening an existing study with the settings it was made with."""

import contextlib
import datetime
import functools
import os
import socket
import warnings
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from nas import stop
from nas.errors import InvalidValue, StudyError
from nas.model.workdir import StudyPaths
from nas.search.settings import LEGACY_IDENTITY, RunSettings
from nas.spaces.space import Space

HEARTBEAT_S, GRACE_S = 10, 60
#: The environment variable that may hold the storage URL (keeps passwords off command lines).
STORAGE_VARIABLE = "NAS_STORAGE_URL"
#: What a storage server that stops answering (restarted, connection dropped) raises.
STORAGE_ERRORS = (DBAPIError, optuna.exceptions.StorageInternalError)


def is_storage_failure(error: BaseException | None) -> bool:
    """Whether ``error`` is a storage server not answering, or was raised while handling one
    (Optuna's trial bookkeeping raises ``UnboundLocalError`` when the storage fails twice in
    it, once while telling the result and once while reading the trial back)."""
    while error is not None:
        if isinstance(error, STORAGE_ERRORS):
            return True
        error = error.__context__
    return False


def shown_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, fit to print or log."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("@")[-1] if "@" in url else url


def _new_sqlite_file(url: str) -> Path | None:
    """The file of a SQLite ``url`` that does not exist yet (None for any other URL)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database)
    return None if path.exists() else path


def _create_sqlite_file(path: Path) -> None:
    """Make a new SQLite study file whole before anyone opens it. Optuna creates the tables
    and stamps the schema version in separate steps; a second process opening the file
    in between (``nas show``, a worker) fails or stamps it twice. So the file is made beside
    its place and linked in (a link never replaces a file another process made first)."""
    staging = path.with_name(f".{path.name}.{os.getpid()}.new")
    try:
        optuna.storages.RDBStorage(f"sqlite:///{staging}").engine.dispose()
        os.link(staging, path)
    except FileExistsError:
        pass  # another process made it first: theirs is complete
    finally:
        staging.unlink(missing_ok=True)


def worker_id() -> str:
    """This process, as the ``worker`` of the trials it runs: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


class ClaimingStorage(optuna.storages.RDBStorage):
    """An RDB storage whose running trials always name their worker process (user attribute
    ``worker``), from the instant they run, so that the next run on that host fails a trial
    whose process died (``nas.search.study.fail_dead_trials``). A new trial is created with
    it in one transaction; a waiting (enqueued) trial gets it right after this process claims
    it. From the claim until the objective starts, a stop is deferred to the objective
    (``nas.stop.defer_until_trial_starts``): Optuna fails a trial only from there."""

    def _create_new_trial(self, study_id: int,
                          template_trial: FrozenTrial | None = None) -> FrozenTrial:
        if template_trial is None:
            stop.defer_until_trial_starts()
            template_trial = FrozenTrial(
                number=-1, state=TrialState.RUNNING, value=None, values=None,
                datetime_start=datetime.datetime.now(), datetime_complete=None, params={},
                distributions={}, user_attrs={"worker": worker_id()}, system_attrs={},
                intermediate_values={}, trial_id=-1)
        return super()._create_new_trial(study_id, template_trial)

    def record_heartbeat(self, trial_id: int) -> None:
        """A beat the server does not take (restarting, a dropped connection) is skipped.
        Optuna's beating thread ends at its first error, and a trial that stops beating is
        failed as stale by the next trial that starts anywhere: a live trial, whose worker
        then stops at the result it can no longer tell."""
        with contextlib.suppress(STORAGE_ERRORS):
            super().record_heartbeat(trial_id)

    def set_trial_state_values(self, trial_id: int, state: TrialState,
                               values=None) -> bool:
        if state != TrialState.RUNNING:
            return super().set_trial_state_values(trial_id, state, values)
        stop.defer_until_trial_starts()
        claimed = super().set_trial_state_values(trial_id, state, values)
        if claimed:
            self.set_trial_user_attr(trial_id, "worker", worker_id())
        return claimed


@functools.cache
def open_storage(url: str) -> optuna.storages.BaseStorage:
    """The RDB storage at ``url`` (one per URL and process), with heartbeats: a trial whose
    worker stops beating for ``GRACE_S`` is failed by the next trial that starts anywhere (the
    cross-machine case; a worker that died on this host is found at once by
    ``fail_dead_trials``)."""
    # A server's connections are tested before use, so that a restarted server is reconnected.
    engine_kwargs = ({"connect_args": {"timeout": 60}} if url.startswith("sqlite")
                     else {"pool_pre_ping": True})
    try:
        new_file = _new_sqlite_file(url)
        if new_file is not None and new_file.parent.is_dir():
            _create_sqlite_file(new_file)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return ClaimingStorage(url, engine_kwargs=engine_kwargs,
                                   heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S)
    except Exception as error:  # SQLAlchemy raises many kinds for a bad URL
        text = str(error).strip().replace(url, shown_url(url))
        first_line = text.splitlines()[0] if text else type(error).__name__
        raise InvalidValue("storage", f"'{shown_url(url)}'", "give a reachable Optuna storage URL",
                           problem=f"cannot be opened ({first_line})") from None


def load_existing_study(space_name: str, storage: optuna.storages.BaseStorage,
                        where: str) -> optuna.Study:
    try:
        return optuna.load_study(study_name=space_name, storage=storage)
    except KeyError:
        raise StudyError(f"no study for space '{space_name}' in {where}: run the search first, "
                         f"or point at the workdir or storage it was made in") from None


def open_existing(space: Space, workdir: Path, storage: str | None
                  ) -> tuple[optuna.Study, RunSettings]:
    """The study of ``space`` and the settings it was made with (seed, quick, part, clock,
    flow), so that its data, teacher and targets are found again."""
    paths = StudyPaths(workdir, space.name)
    if storage is None and not (paths.root / "study.db").exists():
        raise StudyError(f"no study for space '{space.name}' in {workdir}: run the search first, "
                         f"or point at the workdir or storage it was made in")
    storage_url = storage or paths.default_storage
    try:
        opened = open_storage(storage_url)
    except InvalidValue as error:
        if storage is not None:
            raise
        raise StudyError(f"the study file {paths.root / 'study.db'} cannot be opened "
                         f"({error.problem.removeprefix('cannot be opened ')}): it is damaged; "
                         f"restore it, or start again in another workdir") from None
    study = load_existing_study(space.name, opened, shown_url(storage_url))
    recorded = {**LEGACY_IDENTITY, **study.user_attrs.get("settings", {})}
    if recorded.get("quick"):
        space = space.quick()
    space = space.with_search(recorded["precision"], len(recorded["objectives"])).with_target(
        recorded.get("part"), recorded.get("clock_mhz"), recorded["max_latency_cycles"])
    settings = RunSettings(space=space, trials=1, seed=recorded.get("seed", 0), workdir=workdir,
                           storage=storage_url, quick=bool(recorded.get("quick")),
                           flow=recorded.get("flow", "open"))
    return study, settings
