"""A stop the user asks for: swallowed on the way, it still ends training at the next batch or
epoch; where the unwinding itself cannot finish, the process ends after the grace period with
the place it was stuck written down; a finished command leaves no deadline behind."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO
from test_student import MIXED

from nas import stop
from nas.model.learned import LearnedArchitecture, LearnedTrainer
from nas.model.student import Distillation, train_student
from nas.spaces import TrainingRecipe
from nas.spaces.wcd_pulses import simulate


@contextlib.contextmanager
def _swallowed_stop():
    """A SIGTERM whose ``KeyboardInterrupt`` library code caught and dropped."""
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    stop.install(on_forced=print)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
        yield
    finally:
        stop.finished()
        for number, handler in handlers.items():
            signal.signal(number, handler)


@pytest.fixture(scope="module")
def pulses():
    x, y = simulate(4, 1200)
    return (x / 16.0).astype(np.float32), y, np.eye(4, dtype=np.float32)[y] * 4.0


def test_a_swallowed_stop_ends_student_training_at_the_next_batch(pulses):
    x, y, teacher_logits = pulses
    with _swallowed_stop(), pytest.raises(KeyboardInterrupt):
        train_student(MIXED, x, y, teacher_logits, 4, TrainingRecipe(batch_size=64), epochs=200)
    assert not stop.requested()  # the command is over: nothing left to stop


def test_a_swallowed_stop_ends_learned_training_at_the_next_epoch(pulses):
    x, y, teacher_logits = pulses
    trainer = LearnedTrainer(LearnedArchitecture(widths=(8,), input_bits=6, input_int_bits=4),
                             0.0, x, y, teacher_logits, 4, TrainingRecipe(batch_size=64),
                             Distillation(0.5, 2.0), epochs=200)
    with _swallowed_stop(), pytest.raises(KeyboardInterrupt):
        trainer.train(200)
    assert len(trainer.losses) == 0


#: A command that swallows every stop (as a hung unwinding would never end); with "finish" it
#: returns after one, as a command that stopped in time does, and then lives on.
STUCK = """
import sys, time
from nas import stop
stop.GRACE_S = 1.0
stop.install(on_forced=lambda line: print(line, file=sys.stderr, flush=True))
while True:
    try:  # ready only here: a stop that landed before the try would end the script
        print("ready", flush=True)
        time.sleep(30)
    except KeyboardInterrupt:
        if sys.argv[1] == "finish":
            stop.finished()
            time.sleep(3)
            print("alive", flush=True)
            break
"""


def _stopped(tmp_path: Path, mode: str) -> tuple[subprocess.CompletedProcess, float]:
    script = tmp_path / "stuck.py"
    script.write_text(STUCK)
    process = subprocess.Popen([sys.executable, str(script), mode], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=REPO)
    assert process.stdout.readline() == "ready\n"
    signalled = time.monotonic()
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=30)
    return (subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr),
            time.monotonic() - signalled)


def test_a_stop_that_cannot_unwind_ends_the_process_after_the_grace_period(tmp_path):
    result, seconds = _stopped(tmp_path, "stuck")
    assert result.returncode == stop.STOPPED and 1.0 <= seconds < 10, (result, seconds)
    line = result.stderr.strip()
    assert "the stop did not finish within 1 s" in line and "\n" not in line, line
    stacks = Path(line.rpartition(": ")[2].rstrip(")"))
    try:
        assert "stuck.py" in stacks.read_text()  # where the main thread was stuck
    finally:
        stacks.unlink()


def test_a_command_that_finished_leaves_no_deadline_behind(tmp_path):
    result, _ = _stopped(tmp_path, "finish")
    assert result.returncode == 0 and result.stdout == "alive\n", result
    assert "did not finish" not in result.stderr


def test_a_stop_while_a_trial_is_claimed_is_raised_in_the_trial():
    """Between Optuna's creating a running trial and the objective's first line, a stop is
    remembered, not raised (raised there, it would leave the trial running for nobody); the
    objective raises it, where Optuna fails the trial."""
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    stop.install(on_forced=print)
    try:
        stop.defer_until_trial_starts()
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.2)  # the handler has run: nothing was raised
        assert stop.requested()
        with pytest.raises(KeyboardInterrupt):
            stop.trial_started()
        with pytest.raises(KeyboardInterrupt):  # and outside a claim, at once
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
    finally:
        stop.finished()
        for number, handler in handlers.items():
            signal.signal(number, handler)
