"""`nas dashboard` serves the study over optuna-dashboard's HTTP API on 127.0.0.1."""

import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from conftest import run_nas

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def test_dashboard_shows_the_study_and_trial_attributes(small_study):
    study, settings = small_study
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "nas", "dashboard", "--space", "mlp_psd",
                               "--workdir", str(settings.workdir), "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                summaries = _get(f"{base}/api/studies")["study_summaries"]
                break
            except OSError:
                assert server.poll() is None, server.stderr.read()
                assert time.monotonic() < deadline, "dashboard did not start in 90 s"
                time.sleep(0.5)
        names = {s["study_name"]: s["study_id"] for s in summaries}
        assert "mlp_psd" in names
        detail = _get(f"{base}/api/studies/{names['mlp_psd']}")
        assert detail.get("objective_names") == ["val_accuracy", "lut_equivalent"]
        complete = [t for t in detail["trials"] if t["state"] == "Complete"]
        assert complete
        keys = {attr["key"] for attr in complete[0]["user_attrs"]}
        assert {"val_accuracy", "est_lut", "weights_artifact_id"} <= keys
        server.terminate()
        assert server.wait(timeout=30) == 0, "SIGTERM did not stop the dashboard cleanly"
    finally:
        server.kill()
        server.wait()


def test_a_port_in_use_is_one_line(small_study):
    _study, settings = small_study
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_nas("dashboard", "--space", "mlp_psd", "--workdir", str(settings.workdir),
                         "--port", str(port), timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"nas: error: --port {port} cannot be opened (Address already in use): "
        "choose a free port with --port"]
