"""The command line as a user meets it: one-line errors with exit code 2, nothing written."""

import contextlib
import datetime
import json
import signal
import subprocess
import sys
import time

import pytest
from conftest import run_nas

from nas import stop
from nas.app import cli
from nas.search.memory import MemoryLimitExceeded


def assert_user_error(result, message: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("nas: error:") and message in lines[0], lines[0]
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize("args, message", [
    (["--space", "no_such_space"], "--space 'no_such_space' is unknown"),
    (["--space", "mlp_psd", "--part", "xc9vu13p"], "--part 'xc9vu13p' is unknown"),
    (["--space", "mlp_psd", "--clock-mhz", "5000"], "--clock-mhz 5000.0 is out of range"),
    (["--space", "mlp_psd", "--trials", "0"], "--trials 0 is out of range"),
    (["--space", "mlp_psd", "--timeout", "-1"], "--timeout -1.0 is out of range"),
    (["--space", "mlp_psd", "--trials", "many"], "invalid int value: 'many'"),
    (["--space", "mlp_psd", "--no-such-option"], "unrecognized arguments: --no-such-option"),
    (["--space", "mlp_psd", "--storage", "sqlite:////no/such/folder/study.db"], "cannot be opened"),
    (["--space", "mlp_psd", "--storage", "nosuchdb://host/x"],
     "--storage 'nosuchdb://host/x' cannot be opened"),
])
def test_run_rejects_bad_input_and_writes_nothing(tmp_path, args, message):
    workdir = tmp_path / "studies"
    result = run_nas("run", *args, "--workdir", str(workdir))
    assert_user_error(result, message)
    assert not workdir.exists()


def test_unwritable_workdir(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    result = run_nas("run", "--space", "mlp_psd", "--workdir", str(blocker / "studies"))
    assert_user_error(result, "is not writable")
    assert blocker.read_text() == "not a folder"


def test_show_without_a_study(tmp_path):
    result = run_nas("show", "--space", "mlp_psd", "--workdir", str(tmp_path / "none"))
    assert_user_error(result, "no study for space 'mlp_psd'")
    assert not (tmp_path / "none").exists()


def test_spaces_lists_spaces_and_parts():
    result = run_nas("spaces")
    assert result.returncode == 0
    for name in ("mlp_psd", "xc7a35t", "xc7z020", "20,800", "xc7z010", "17,600", "xck26", "117,120"):
        assert name in result.stdout


#: Seconds from a trial's end to its log line's (whole-second) stamp: 1.1 s was seen with the
#: suite's two workers beside three CPU-bound jobs on 2 cores.
LOGGED_WITHIN_S = 3.0


def _log_seconds(line: str) -> float:
    return datetime.datetime.strptime(line[:19], "%Y-%m-%d %H:%M:%S").timestamp()


def _assert_logged_each_trial(lines: list[str], study) -> None:
    """A line per finished trial, logged as the trial ends (within ``LOGGED_WITHIN_S`` of it,
    less than a quick trial takes: a line logged with the next trial or at the end of the run
    fails), after the device and stage lines."""
    assert lines[0].endswith("training on the CPU (asked for)"), lines
    assert any(line.endswith("stage: searching") for line in lines)
    for trial in study.trials:
        if trial.state.name != "COMPLETE":
            continue
        line = next(line for line in lines if f" trial {trial.number} complete: val acc " in line)
        assert f"val acc {trial.user_attrs['val_accuracy']:.4f}" in line
        assert _log_seconds(line) - trial.datetime_complete.timestamp() <= LOGGED_WITHIN_S, line


@pytest.mark.slow
def test_quick_run_then_show(tmp_path):
    """Also the run's log: stdout to a file (not a terminal) and --log-file get the lines."""
    import optuna

    workdir, out, log = tmp_path / "studies", tmp_path / "out.txt", tmp_path / "run.log"
    with out.open("w") as stdout:
        result = subprocess.run([sys.executable, "-m", "nas", "run", "--space", "mlp_psd",
                                 "--quick", "--trials", "2", "--no-synth", "--device", "cpu",
                                 "--log-file", str(log), "--workdir", str(workdir)],
                                stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    result.stdout = out.read_text()
    study = optuna.load_study(study_name="mlp_psd", storage=f"sqlite:///{workdir}/mlp_psd/study.db")
    logged = log.read_text().splitlines()
    _assert_logged_each_trial(logged, study)
    assert result.stdout.splitlines()[:len(logged)] == logged
    # The run shows the useful front: its table, or (2 quick trials may both train below the
    # space's accuracy floor) the line that says none is useful and how to list them all.
    assert "Pareto front of mlp_psd" in result.stdout or \
        "'nas show --min-accuracy 0' lists them all" in result.stdout
    assert f"nas dashboard --space mlp_psd --workdir {workdir}" in result.stdout
    assert (workdir / "mlp_psd" / "study.db").exists()
    location = ["--space", "mlp_psd", "--workdir", str(workdir), "--min-accuracy", "0"]
    table = run_nas("show", *location)
    assert table.returncode == 0 and "Pareto front of mlp_psd" in table.stdout, table.stderr
    # Under the estimates, the error their calibration measured on designs it left out.
    held_out = study.user_attrs["calibration"]["estimators"][study.user_attrs["estimator"]][
        "held_out_error"]
    assert f"LUT {round(held_out['lut']['mape'], 1):.1f} %" in " ".join(table.stdout.split())
    shown = run_nas("show", *location, "--json")
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert report["trials"]["complete"] == 2
    assert report["front"] and all(0 <= row["test_accuracy"] <= 1 for row in report["front"])
    assert 0.5 < report["teacher_test_accuracy"] <= 1


class _RaisingFinalizer:
    """Raises, from where garbage collection runs it, what a signal handler or the memory
    limit's watchdog raises at any instruction."""

    def __init__(self, error: BaseException):
        self.error = error

    def __del__(self):
        raise self.error


@contextlib.contextmanager
def _hook():
    """The hooks ``nas`` installs, set inside the test (pytest sets its own around each call)."""
    previous, sys.unraisablehook = sys.unraisablehook, cli._unraisable
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    stop.install(on_forced=print)
    try:
        yield
    finally:
        stop.finished()
        sys.unraisablehook = previous
        for number, handler in handlers.items():
            signal.signal(number, handler)


def test_a_stop_swallowed_by_a_finalizer_is_delivered_again():
    with _hook(), pytest.raises(KeyboardInterrupt):
        _RaisingFinalizer(KeyboardInterrupt())  # dropped at once: __del__ raises, unraisable
        for _ in range(500):
            time.sleep(0.01)


def test_the_memory_limit_raised_in_a_finalizer_prints_no_traceback(capsys):
    with _hook():
        _RaisingFinalizer(MemoryLimitExceeded())
        _RaisingFinalizer(ValueError("a real bug"))  # anything else is still reported
    err = capsys.readouterr().err
    assert "MemoryLimitExceeded" not in err and "ValueError: a real bug" in err
