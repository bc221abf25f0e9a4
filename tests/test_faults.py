"""Faults: a run killed with SIGKILL mid-trial continues; failing trials are recorded."""

import dataclasses
import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
from conftest import run_nas, tiny_space, trials_of
from optuna.trial import TrialState

from nas.errors import StudyError
from nas.search.settings import RunSettings
from nas.search.study import MAX_FAILURES_IN_A_ROW, create_or_continue, prepare, run_search

pytestmark = pytest.mark.slow


def _states(storage: str) -> dict[int, optuna.trial.FrozenTrial]:
    return {t.number: t for t in trials_of(storage)}


def test_kill_9_mid_trial_then_the_same_command_continues(tmp_path):
    workdir = tmp_path / "studies"
    command = ["run", "--space", "mlp_psd", "--quick", "--trials", "6", "--no-synth",
               "--workdir", str(workdir)]
    storage = f"sqlite:///{workdir / 'mlp_psd' / 'study.db'}"
    process = subprocess.Popen([sys.executable, "-m", "nas", *command],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while True:
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "no trial ran within 300 s"
        trials = _states(storage) if (workdir / "mlp_psd" / "study.db").exists() else {}
        complete = [t for t in trials.values() if t.state == TrialState.COMPLETE]
        running = [t for t in trials.values()
                   if t.state == TrialState.RUNNING and "worker" in t.user_attrs]
        if len(complete) >= 2 and running:
            break
        time.sleep(0.2)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    before = _states(storage)
    killed = [n for n, t in before.items() if t.state == TrialState.RUNNING]
    assert killed, "the killed trial should be left RUNNING by the dead process"

    result = run_nas(*command)
    assert result.returncode == 0, result.stderr
    after = _states(storage)
    assert sum(t.state == TrialState.COMPLETE for t in after.values()) == 6
    for number in killed:
        assert after[number].state == TrialState.FAIL
        assert "died during the trial" in after[number].user_attrs["fail_reason"]
    for number, trial in before.items():
        if trial.state == TrialState.COMPLETE:
            assert after[number].values == trial.values and after[number].params == trial.params


def test_nan_loss_fails_the_trial_with_its_reason_and_the_run_ends(tmp_path):
    space = tiny_space()
    settings = RunSettings(space=space, trials=2, seed=3, workdir=tmp_path)
    study = create_or_continue(settings)
    prepare(settings, study)  # a good teacher, cached: only the students diverge
    diverging = dataclasses.replace(space, recipe=dataclasses.replace(space.recipe,
                                                                      learning_rate=1e30))
    with pytest.raises(StudyError, match="5 trials failed in a row, the last with .*NaN"):
        run_search(dataclasses.replace(settings, space=diverging), study)
    failed = study.get_trials(states=(TrialState.FAIL,))
    assert len(failed) == MAX_FAILURES_IN_A_ROW
    assert not study.get_trials(states=(TrialState.COMPLETE,))
    assert all("NaN" in t.user_attrs["fail_reason"] for t in failed)
