"""A real 3-trial study (tiny data, few epochs): trials, records, artifacts, resume."""

import contextlib
import dataclasses
import datetime
import shutil
import socket
import subprocess
import sys
import threading

import numpy as np
import optuna
import pytest
import sqlalchemy
from conftest import TOO_BIG_PARAMS, tiny_space
from optuna.trial import TrialState

from nas.errors import NasError, StudyError
from nas.model.data import DataSplits, load_data
from nas.model.student import accuracy
from nas.search import study as study_module
from nas.search.front import accuracy_floor, front_rows, pareto_front, useful_front
from nas.search.objective import load_student
from nas.search.settings import RunSettings
from nas.search.storage import GRACE_S, HEARTBEAT_S, open_storage
from nas.search.study import create_or_continue, fail_dead_trials, run_search

pytestmark = pytest.mark.slow

RECORDED = ("config", "n_params", "nonzero_params", "achieved_sparsity", "val_accuracy",
            "test_accuracy", "est_lut", "est_ff", "est_dsp", "est_bram", "est_latency_cycles",
            "est_lut_equivalent", "prior_lut", "fits_part", "weights_artifact_id")


def test_trials_complete_with_every_record(small_study):
    study, settings = small_study
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(complete) == 3
    assert study.metric_names == list(settings.space.objectives)
    for trial in complete:
        missing = [key for key in RECORDED if key not in trial.user_attrs]
        assert not missing, missing
        attrs = trial.user_attrs
        part = settings.space.part
        assert trial.values[1] == pytest.approx(attrs["est_lut"] + part.luts_per_dsp * attrs["est_dsp"])
        assert len(trial.values) == 2  # latency is a constraint unless --objectives 3
        assert set(trial.constraints) == {"lut", "ff", "dsp", "bram36"}
        assert (max(trial.constraints.values()) <= 0) == attrs["fits_part"]
        assert 0.0 <= attrs["achieved_sparsity"] < 1.0
        assert attrs["nonzero_params"] <= attrs["n_params"]
        assert attrs["est_lut"] > 0 and attrs["est_latency_cycles"] >= len(attrs["config"]["widths"]) + 1
    assert 0.5 < study.user_attrs["teacher_test_accuracy"] <= 1.0


def test_design_that_cannot_fit_is_rejected_before_training(small_study):
    study, _ = small_study
    first = study.trials[0]
    assert first.params["width_1"] == TOO_BIG_PARAMS["width_1"]
    assert first.state == TrialState.PRUNED
    assert "LUT" in first.user_attrs["rejected_reason"]
    assert first.constraints["lut"] > 0
    assert "val_accuracy" not in first.user_attrs


def test_stored_weights_reproduce_the_objective_and_the_test_accuracy(small_study):
    study, settings = small_study
    data = load_data(settings.space, settings.seed, settings.paths)
    store = optuna.artifacts.FileSystemArtifactStore(str(settings.paths.artifacts))
    for trial in study.get_trials(states=(TrialState.COMPLETE,)):
        model, _config = load_student(trial, settings.space, store)
        assert accuracy(model, data.x_val, data.y_val) == trial.values[0]
        assert accuracy(model, data.x_test, data.y_test) == pytest.approx(
            trial.user_attrs["test_accuracy"], abs=1e-9)


def test_front_rows_are_non_dominated(small_study):
    study, settings = small_study
    front = pareto_front(study)
    rows = front_rows(study, front, settings.space.n_inputs, settings.space.n_classes)
    assert rows and [row["trial"] for row in rows] == [t.number for t in front]
    values = np.array([[r["val_accuracy"], -r["lut_equivalent"], -r["latency_cycles"]]
                       for r in rows])
    for i, a in enumerate(values):
        for j, b in enumerate(values):
            assert i == j or not (np.all(b >= a) and np.any(b > a))


def _poisoned_test_labels(data: DataSplits, n_classes: int) -> DataSplits:
    """``data`` with every test label changed to another class."""
    return dataclasses.replace(data, y_test=(data.y_test + 1) % n_classes)


def test_same_seed_gives_the_same_trials_and_no_choice_reads_test_labels(small_study, tmp_path,
                                                                         monkeypatch):
    """A second run with the same seed, its test labels all wrong after the split: the same
    parameters, objectives (to 1e-6), accuracy floor, front and useful front (what is shown and
    synthesized); only the reported test accuracies differ."""
    study, settings = small_study
    space = settings.space
    monkeypatch.setattr(study_module, "load_data", lambda *args: _poisoned_test_labels(
        load_data(*args), space.n_classes))
    again = dataclasses.replace(settings, workdir=tmp_path)
    repeat = create_or_continue(again)
    repeat.enqueue_trial(TOO_BIG_PARAMS)
    run_search(again, repeat)
    first = {t.number: t for t in study.get_trials(states=(TrialState.COMPLETE,))}
    second = {t.number: t for t in repeat.get_trials(states=(TrialState.COMPLETE,))}
    assert sorted(second) == sorted(first)[:3]
    for number, trial in second.items():
        assert trial.params == first[number].params
        assert trial.values == pytest.approx(first[number].values, abs=1e-6)
        assert trial.user_attrs["test_accuracy"] != first[number].user_attrs["test_accuracy"]
    assert repeat.user_attrs["teacher_test_accuracy"] < study.user_attrs["teacher_test_accuracy"]
    assert accuracy_floor(repeat, space) == accuracy_floor(study, space) > 0.5
    same_trials = optuna.create_study(directions=study.directions)  # the first's, as many
    same_trials.add_trials([t if t.number in second else optuna.trial.create_trial(
        state=TrialState.FAIL) for t in study.trials[:max(second) + 1]])
    for key in ("teacher_val_accuracy", "teacher_test_accuracy"):
        same_trials.set_user_attr(key, study.user_attrs[key])
    for front in (pareto_front, lambda s: useful_front(s, space)):
        assert [t.number for t in front(repeat)] == [t.number for t in front(same_trials)]


def test_rerun_continues_the_study_and_other_settings_are_refused(small_study):
    study, settings = small_study
    before = {t.number: t.params for t in study.get_trials(states=(TrialState.COMPLETE,))}
    more = dataclasses.replace(settings, trials=4)
    run_search(more, create_or_continue(more))
    after = {t.number: t.params for t in study.get_trials(states=(TrialState.COMPLETE,))}
    assert len(after) == 4 and all(after[n] == params for n, params in before.items())
    new = [params for number, params in after.items() if number not in before]
    assert all(params not in before.values() for params in new)  # new proposals, not repeats
    with pytest.raises(NasError, match="made with"):
        create_or_continue(dataclasses.replace(settings, seed=2))


def test_a_machine_with_other_data_is_refused(small_study, tmp_path):
    """A worker whose data differ from those the study was made with (another data file,
    other package versions) is refused before it trains anything."""
    _study, settings = small_study
    elsewhere = dataclasses.replace(settings, workdir=tmp_path / "elsewhere", trials=9)
    shutil.copytree(settings.workdir, elsewhere.workdir)
    cache = next(elsewhere.paths.root.glob("data_seed*.npz"))
    with np.load(cache) as stored:
        arrays = {key: stored[key] for key in stored.files}
    arrays["x_train"] = arrays["x_train"][::-1].copy()  # the same events in another order
    np.savez_compressed(cache, **arrays)
    study = create_or_continue(elsewhere)
    before = len(study.trials)
    with pytest.raises(StudyError, match="this machine's data differs from the study's"):
        run_search(elsewhere, study)
    assert len(study.trials) == before


def test_a_trial_of_a_dead_host_is_failed_by_its_stale_heartbeat(small_study, tmp_path):
    """A trial left RUNNING by a worker on another machine that died: this host cannot see its
    process, so the heartbeat (stale past the grace period) fails it when the next trial
    starts; this host's own dead-process check leaves it alone."""
    _study, settings = small_study
    elsewhere = dataclasses.replace(settings, workdir=tmp_path / "elsewhere")
    shutil.copytree(settings.workdir, elsewhere.workdir)
    study = create_or_continue(elsewhere)
    orphan = study.ask()
    orphan.set_user_attr("worker", "another-machine:4242")
    storage = study._storage
    storage.record_heartbeat(orphan._trial_id)
    assert fail_dead_trials(study, elsewhere.storage_url) == []  # not this host's to judge
    stale = (datetime.datetime.now(datetime.UTC).replace(tzinfo=None)  # as SQLite's now()
             - datetime.timedelta(seconds=GRACE_S + HEARTBEAT_S + 5))
    engine = sqlalchemy.create_engine(elsewhere.storage_url)
    with engine.begin() as connection:  # what a machine that died long ago leaves behind
        connection.execute(sqlalchemy.text("UPDATE trial_heartbeats SET heartbeat = :t "
                                           "WHERE trial_id = :id"),
                           {"t": stale, "id": orphan._trial_id})
    engine.dispose()
    more = dataclasses.replace(elsewhere, trials=len(study.get_trials(
        states=(TrialState.COMPLETE,))) + 1)
    run_search(more, study)
    assert study.trials[orphan.number].state == TrialState.FAIL


def test_trials_whose_process_died_before_their_objective_are_failed_by_the_next_run(tmp_path):
    """The window a forced stop can hit: a trial created running, or a waiting one claimed,
    and the process gone before any objective line ran. Each names its worker from the
    claim, so the next run on this host fails it (forced deterministically here, not by
    load)."""
    url = f"sqlite:///{tmp_path / 'study.db'}"
    claim_and_die = (f"import os, optuna\nfrom nas.search.storage import open_storage\n"
                     f"study = optuna.create_study(storage=open_storage({url!r}), study_name='s')\n"
                     f"study.enqueue_trial({{}})\nstudy.ask()\nstudy.ask()\nos._exit(130)\n")
    died = subprocess.run([sys.executable, "-c", claim_and_die], capture_output=True, text=True)
    assert died.returncode == 130, died.stderr
    study = optuna.load_study(study_name="s", storage=open_storage(url))
    ghosts = study.get_trials(states=(TrialState.RUNNING,))
    assert len(ghosts) == 2 and all(t.user_attrs["worker"].startswith(f"{socket.gethostname()}:")
                                    for t in ghosts)
    assert fail_dead_trials(study, url) == [0, 1]
    assert not study.get_trials(states=(TrialState.RUNNING,))


def test_a_new_sqlite_study_file_appears_whole(tmp_path):
    """A new SQLite file is made beside its place and linked in once Optuna has created and
    stamped it, so no other process can open it half made; a file another process made
    first is kept."""
    import sqlite3

    from nas.search.storage import _create_sqlite_file, open_storage

    path = tmp_path / "study.db"
    optuna.create_study(storage=open_storage(f"sqlite:///{path}"), study_name="s")
    assert [p.name for p in tmp_path.iterdir()] == ["study.db"]
    with sqlite3.connect(path) as db:
        assert db.execute("select count(*) from alembic_version").fetchone() == (1,)
    inode = path.stat().st_ino
    _create_sqlite_file(path)  # as a second process that found no file a moment ago
    assert path.stat().st_ino == inode and [p.name for p in tmp_path.iterdir()] == ["study.db"]
    assert optuna.load_study(study_name="s", storage=f"sqlite:///{path}").study_name == "s"


def test_starting_plans_are_clipped_into_the_space():
    from nas.search.sampling import STARTING_PLANS, starting_plans
    from nas.spaces.space import StudentRanges

    ranges = StudentRanges(max_hidden_layers=1, width=(4, 8), beta=(3e-5, 5e-5))
    assert starting_plans(ranges) == [{"n_hidden": 1, "width_1": 8, "beta": 5e-5},
                                      {"n_hidden": 1, "width_1": 8, "beta": 3e-5},
                                      {"n_hidden": 1, "width_1": 8, "beta": 3e-5,
                                       "input_bits": 8, "input_int_bits": 4}]
    assert len(starting_plans(StudentRanges())) == len(STARTING_PLANS)


def test_the_readme_names_the_starting_plans():
    """The README's sampler paragraph spells out ``STARTING_PLANS``; a changed plan must change it."""
    from pathlib import Path

    from nas.search.sampling import STARTING_PLANS

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    sampler = " ".join(readme.split("* **Sampler**", 1)[1].split("\n* ", 1)[0].split())
    for widths, beta, _ in STARTING_PLANS:
        mantissa, exponent = f"{beta:.0e}".split("e")
        assert "-".join(map(str, widths)) in sampler, widths
        assert f"{mantissa}e{int(exponent)}" in sampler, beta


@pytest.mark.parametrize("changes, plans", [({}, 4), ({"sampler": "random"}, 0),
                                            ({"quick": True}, 0), ({"starting_plans": False}, 0)])
def test_a_new_study_starts_with_the_plans_once(tmp_path, changes, plans):
    """A new learned study waits with the starting plans; the random baseline, a quick run and
    a continued study get none (nothing is trained here)."""
    from conftest import tiny_space

    from nas.search.sampling import starting_plans
    from nas.search.settings import RunSettings

    space = dataclasses.replace(tiny_space(), student=dataclasses.replace(
        tiny_space().student, max_hidden_layers=2))
    settings = RunSettings(space=space, trials=1, workdir=tmp_path, **changes)
    waiting = create_or_continue(settings).get_trials(states=(TrialState.WAITING,))
    assert [t.system_attrs["fixed_params"] for t in waiting] == starting_plans(space.student)[:plans]
    again = create_or_continue(settings).get_trials(states=(TrialState.WAITING,))
    assert len(again) == plans


def test_a_second_process_creating_the_study_adds_no_plan_twice(tmp_path):
    """Two ``nas run``s creating one new shared study at once may both find it new (nothing
    but waiting trials): the plans the first enqueued are skipped by the second."""
    from conftest import tiny_space

    from nas.search.sampling import starting_plans
    from nas.search.settings import RunSettings
    from nas.search.study import _enqueue_starting_plans

    settings = RunSettings(space=tiny_space(), trials=1, workdir=tmp_path)
    study = create_or_continue(settings)  # the first process
    _enqueue_starting_plans(study, settings)  # the second, which also found the study new
    waiting = study.get_trials(states=(TrialState.WAITING,))
    plans = starting_plans(settings.space.student)
    assert plans and [t.system_attrs["fixed_params"] for t in waiting] == plans


def test_no_storage_call_happens_while_the_memory_limit_watches(tmp_path, monkeypatch):
    """The memory limit's exception is raised asynchronously in the trial's thread: it must
    never land inside a storage write, so no storage call (read or write) happens in that
    thread while the limit watches (training and estimation); the record is written after."""
    from nas.search import objective

    watching, calls = threading.local(), []
    real_limit = objective.memory_limit

    @contextlib.contextmanager
    def observed_limit(limit_bytes):
        watching.on = True
        try:
            with real_limit(limit_bytes):
                yield
        finally:
            watching.on = False

    def observed(name):
        method = getattr(optuna.storages.RDBStorage, name)

        def call(self, *args, **kwargs):
            calls.append((name, getattr(watching, "on", False)))
            return method(self, *args, **kwargs)
        return call

    monkeypatch.setattr(objective, "memory_limit", observed_limit)
    for name in ("_set_trial_param", "set_trial_user_attr", "set_trial_system_attr",
                 "set_trial_state_values", "get_all_trials", "get_trial", "_create_new_trial",
                 "get_study_user_attrs", "get_study_system_attrs", "set_study_user_attr"):
        monkeypatch.setattr(optuna.storages.RDBStorage, name, observed(name))
    settings = RunSettings(space=tiny_space(), trials=2, seed=3, workdir=tmp_path,
                           starting_plans=False)
    study = run_search(settings)
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 2
    assert {"set_trial_user_attr", "_set_trial_param"} <= {name for name, _ in calls}
    assert [name for name, inside in calls if inside] == []
