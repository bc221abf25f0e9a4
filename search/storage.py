"""Optuna storages for studies, and opening an existing study with the settings it was made with."""

import warnings
from pathlib import Path

import optuna

from nas.errors import UserError
from nas.search.settings import RunSettings
from nas.search.workdir import StudyPaths

HEARTBEAT_S, GRACE_S = 10, 60


def open_storage(url: str) -> optuna.storages.BaseStorage:
    """An RDB storage with heartbeats: a trial whose worker stops beating for ``GRACE_S`` is
    failed by the next trial that starts anywhere (the cross-machine case; a worker that died
    on this host is found at once by ``fail_dead_trials``)."""
    engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs,
                                              heartbeat_interval=HEARTBEAT_S,
                                              grace_period=GRACE_S)
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


def open_existing(space_arg: str, workdir: Path, storage: str | None) -> tuple[optuna.Study, RunSettings]:
    """The study of ``space_arg`` (a name or a YAML file) and the settings it was made with
    (seed, --quick, part, clock), so that its data, teacher and targets are found again."""
    from nas.spaces import get_space

    space = get_space(space_arg)
    paths = StudyPaths(workdir, space.name)
    if storage is None and not (paths.root / "study.db").exists():
        raise UserError(f"no study for space '{space.name}' in {workdir}: run "
                        f"'nas run --space {space_arg}' first (or pass its --workdir/--storage)")
    storage_url = storage or paths.default_storage
    study = load_existing_study(space.name, storage_url)
    recorded = study.user_attrs.get("settings", {})
    if recorded.get("quick"):
        space = space.quick()
    space = space.with_target(recorded.get("part"), recorded.get("clock_mhz"))
    settings = RunSettings(space=space, trials=1, seed=recorded.get("seed", 0), workdir=workdir,
                           storage=storage_url, quick=bool(recorded.get("quick")),
                           flow=recorded.get("flow", "open"))
    return study, settings
