"""Scale-out on a real PostgreSQL server: workers on "other machines" (own workdirs) join."""

import subprocess
import sys
import time

import optuna
import pg_server
import pytest
from conftest import run_nas
from optuna.trial import TrialState

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def postgres_url():
    with pg_server.server_or_skip() as url:
        yield url


def test_three_workers_on_postgres_add_exactly_their_trials(postgres_url, tmp_path):
    created = run_nas("run", "--space", "mlp_psd", "--quick", "--trials", "1", "--no-synth",
                      "--storage", postgres_url, "--workdir", str(tmp_path / "host0"))
    assert created.returncode == 0, created.stderr
    per_worker = 2
    workers = [subprocess.Popen(
        [sys.executable, "-m", "nas", "worker", "--space", "mlp_psd", "--storage", postgres_url,
         "--workdir", str(tmp_path / f"host{i}"), "--trials", str(per_worker), "--index", str(i)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in (1, 2, 3)]
    for worker in workers:
        _out, err = worker.communicate(timeout=600)
        assert worker.returncode == 0, err
    study = optuna.load_study(study_name="mlp_psd", storage=postgres_url)
    trials = study.get_trials()
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 1 + 3 * per_worker
    assert not [t for t in trials if t.state in (TrialState.FAIL, TrialState.RUNNING)]
    assert len({t.number for t in trials}) == len(trials)
    params = [tuple(sorted(t.params.items())) for t in complete]
    assert len(set(params)) == len(params), "reseeded workers must not repeat designs"
    workers_seen = {t.user_attrs["worker"] for t in complete}
    assert len(workers_seen) == 4  # the creating run and three workers
    # Each "machine" regenerated data and teacher; the study's fingerprint check passed.
    assert "fingerprint" in study.user_attrs


def test_worker_without_a_study_is_a_user_error(postgres_url, tmp_path):
    result = run_nas("worker", "--space", "digits", "--storage", postgres_url,
                     "--workdir", str(tmp_path))
    assert result.returncode == 2
    assert "no study for space 'digits'" in result.stderr


def test_an_error_raised_while_the_storage_failed_counts_as_a_storage_failure():
    """Optuna's bookkeeping raises UnboundLocalError when the storage fails twice in one tell
    (seen in the PostgreSQL-restart fault test): the search waits for the storage on it."""
    from nas.search.storage import is_storage_failure

    def during_a_storage_failure(error: Exception) -> Exception:
        try:
            try:
                raise optuna.exceptions.StorageInternalError("commit failed")
            finally:
                raise error
        except Exception as raised:
            return raised

    assert is_storage_failure(during_a_storage_failure(UnboundLocalError("updated_state")))
    assert not is_storage_failure(ValueError("a bug of ours"))
    assert not is_storage_failure(None)


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_a_trial_keeps_beating_through_a_server_restart():
    """Optuna's heartbeat thread ends at its first storage error; a restart must not silence
    a live trial (the next trial started anywhere would fail it as stale)."""
    from optuna.storages._heartbeat import get_heartbeat_thread

    from nas.search.storage import ClaimingStorage

    with pg_server.server_or_skip() as url:
        storage = ClaimingStorage(url, engine_kwargs={"pool_pre_ping": True},
                                  heartbeat_interval=1, grace_period=60)
        trial = optuna.create_study(storage=storage).ask()
        with get_heartbeat_thread(trial._trial_id, storage):
            time.sleep(1.5)
            pg_server.restart(url)
            time.sleep(4)
            silent_s = _seconds_since_last_beat(url, trial._trial_id)
        storage.engine.dispose()
    assert silent_s < 2.5, f"the trial's last beat was {silent_s:.1f} s ago"


def _seconds_since_last_beat(url: str, trial_id: int) -> float:
    """Seconds, on the server's clock, since ``trial_id`` last beat (its own connection)."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as connection:
            return float(connection.execute(sqlalchemy.text(
                "SELECT EXTRACT(EPOCH FROM LOCALTIMESTAMP - heartbeat) FROM trial_heartbeats "
                "WHERE trial_id = :trial"), {"trial": trial_id}).scalar())
    finally:
        engine.dispose()
