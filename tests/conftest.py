"""Shared fixtures: a tiny version of mlp_psd and one small study that several tests read."""

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def bench_module(name: str):
    """A module of ``benchmarks/`` (not a package: its modules import each other by name)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        return __import__(name)
    finally:
        sys.path.remove(str(REPO / "benchmarks"))


def tiny_space():
    """mlp_psd with 1,600 pulses, few epochs and narrow layers: real training in seconds and
    synthesis in a minute (learned precision, the default, screened after 3 of 8 epochs)."""
    from nas.spaces import get_space

    space = get_space("mlp_psd").quick()
    recipe = dataclasses.replace(space.recipe, teacher_epochs=10, student_epochs=4,
                                 learned_epochs=8, screen_epochs=3)
    student = dataclasses.replace(space.student, width=(4, 8), beta=(3e-5, 3e-4))
    return dataclasses.replace(space, data=dataclasses.replace(space.data, n_events=1600),
                               recipe=recipe, student=student)


@pytest.fixture(scope="session")
def small_study(tmp_path_factory):
    """A 3-trial study in a temporary workdir; a design too big for the part is enqueued first
    (instead of the starting plans)."""
    from nas.search.settings import RunSettings
    from nas.search.study import create_or_continue, run_search

    settings = RunSettings(space=tiny_space(), trials=3, seed=1,
                           workdir=tmp_path_factory.mktemp("studies"), starting_plans=False)
    study = create_or_continue(settings)
    study.enqueue_trial(TOO_BIG_PARAMS)
    run_search(settings, study)
    return study, settings


TOO_BIG_PARAMS = {"n_hidden": 3, "width_1": 64, "width_2": 64, "width_3": 64,
                  "weight_bits_1": 12, "weight_bits_2": 12, "weight_bits_3": 12,
                  "weight_bits_out": 12, "act_bits_1": 12, "act_bits_2": 12, "act_bits_3": 12}


def unsynthesized(small_study, which: slice) -> list[int]:
    """The complete trials of ``which``, their synthesis records forgotten: a design that an
    earlier test synthesized would be skipped."""
    import optuna

    study, settings = small_study
    numbers = [t.number for t in study.trials if t.state.name == "COMPLETE"][which]
    fresh = optuna.load_study(study_name=study.study_name, storage=settings.storage_url)
    for number in numbers:
        fresh.set_user_attr(f"synth:trial_{number}", {"status": "forgotten by the test"})
    return numbers


def trials_of(storage: str) -> list:
    """The trials of the run's study (mlp_psd) in ``storage``; none while the run has not yet
    created its study or is creating it (a new SQLite file read while Optuna stamps it raises
    an IntegrityError)."""
    import optuna
    import sqlalchemy

    try:
        return optuna.load_study(study_name="mlp_psd", storage=_polled(storage)).get_trials()
    except (KeyError, sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError):
        return []


def _polled(storage: str):
    """A server's storage is opened once per URL and reconnects after a restart (a new
    engine per poll costs 0.1-0.25 s at load 2-3 against 0.01 s, and leaves its connections
    to the garbage collector); a SQLite file is opened afresh, so that polling never
    creates it."""
    if storage.startswith("sqlite"):
        return storage
    from nas.search.storage import open_storage

    return open_storage(storage)


def one_line_error(argv: list[str], capsys) -> str:
    """``nas argv`` run in this process (no interpreter to start): its one-line error, checked
    to come with exit code 2 and no traceback."""
    from nas.app.cli import main

    try:
        code = main(argv)
    except SystemExit as stop:  # argparse
        code = stop.code
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("nas: error:"), (argv, captured)
    assert "Traceback" not in captured.out + captured.err
    return lines[0]


def run_nas(*args: str, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """The ``nas`` command in a fresh process, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "nas", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)
