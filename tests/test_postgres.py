"""Scale-out on a real PostgreSQL server: workers on "other machines" (own workdirs) join."""

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import optuna
import pytest
from conftest import run_nas
from optuna.trial import TrialState

pytestmark = pytest.mark.slow


def _pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def _as_postgres(command: list[str]) -> list[str]:
    """initdb refuses root: run the server's commands as the postgres user when we are root."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture(scope="module")
def postgres_url():
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("PostgreSQL server binaries not found: .ci/run installs Debian's postgresql")
    # Not under pytest's tmp folders: those are closed to the postgres user.
    folder = Path(tempfile.mkdtemp(prefix="nas-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data = folder / "data"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    subprocess.run(_as_postgres([initdb, "-D", str(data), "-A", "trust", "-U", "postgres"]),
                   check=True, capture_output=True)
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
    subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-o", options, "-l",
                                 str(folder / "log"), "-w", "start"]), check=True,
                   capture_output=True)
    try:
        subprocess.run(_as_postgres([_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(port),
                                     "-U", "postgres", "nas"]), check=True, capture_output=True)
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/nas"
    finally:
        subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-m", "fast", "stop"]),
                       capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def test_three_workers_on_postgres_add_exactly_their_trials(postgres_url, tmp_path):
    created = run_nas("run", "--space", "mlp_psd", "--quick", "--trials", "1",
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
