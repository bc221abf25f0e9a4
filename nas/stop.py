"""A stop the user asks for (Ctrl-C, SIGTERM): raised at once, remembered, and bounded in time.

The signal raises ``KeyboardInterrupt`` in the main thread, which ends a blocking wait at once
and unwinds a trial like any failure. Library code can swallow it, though (a finalizer run by
garbage collection, a handler that catches everything) and go on as if nothing had happened; so
the request is also remembered, and the long loops ask for it at their safe points
(``raise_if_requested``: training after every batch or epoch, the search before and after
every trial). And a stop must end the process even where the unwinding itself blocks: if the
command is still running ``GRACE_S`` after the request, the stacks of its threads are written
to a file, ``on_forced`` is told where, and the process exits with status 130.
"""

import _thread
import faulthandler
import os
import signal
import tempfile
import threading
from collections.abc import Callable

#: Seconds a stop may take before the process is ended without unwinding.
GRACE_S = 30.0
#: The exit status of a stopped command (128 + SIGINT), forced or not.
STOPPED = 130

#: When a swallowed stop is raised again: after the finalizer that swallowed it has returned.
_REDELIVER_S = 0.05

_requested = threading.Event()
_finished = threading.Event()
_on_forced: Callable[[str], None] = print
#: Set from the moment a trial is claimed in the storage until its own code runs: a stop asked
#: for then is remembered, not raised, and the trial's code raises it (``trial_started``).
_deferred = False


def requested() -> bool:
    """Whether a stop was asked for (and not yet cleared)."""
    return _requested.is_set()


def raise_if_requested() -> None:
    """Raise ``KeyboardInterrupt`` when a stop was asked for (and maybe swallowed since)."""
    if _requested.is_set():
        raise KeyboardInterrupt


def defer_until_trial_starts() -> None:
    """A trial is being claimed: until ``trial_started``, a stop is remembered, not raised, so
    that it cannot leave the trial claimed by nobody (Optuna creates it running, then starts
    the objective that would fail it)."""
    global _deferred
    _deferred = True


def trial_started() -> None:
    """The trial's own code runs: a stop asked for while it was claimed is raised now, inside
    the objective, where Optuna fails the trial."""
    global _deferred
    _deferred = False
    raise_if_requested()


def _handle(signum, frame) -> None:
    if not _requested.is_set():
        _requested.set()
        threading.Thread(target=_force_after_grace, name="stop-deadline", daemon=True).start()
    if not _deferred:
        raise KeyboardInterrupt


def _force_after_grace() -> None:
    if _finished.wait(GRACE_S):
        return
    with tempfile.NamedTemporaryFile("w", prefix=f"nas-stop-{os.getpid()}-", suffix=".txt",
                                     delete=False) as stacks:
        faulthandler.dump_traceback(stacks, all_threads=True)
    _on_forced(f"the stop did not finish within {GRACE_S:g} s: ended without unwinding (where "
               f"it was stuck: {stacks.name})")
    os._exit(STOPPED)


def install(on_forced: Callable[[str], None]) -> None:
    """Handle SIGTERM, and SIGINT unless it is ignored (a background job's), as stops; forget
    an earlier command's stop (a process may run several)."""
    global _on_forced, _deferred
    _on_forced, _deferred = on_forced, False
    _requested.clear()
    _finished.clear()
    signal.signal(signal.SIGTERM, _handle)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _handle)


def finished() -> None:
    """The command has returned: its stop is over, and no deadline is left running."""
    global _deferred
    _deferred = False
    _finished.set()
    _requested.clear()


def redeliver() -> None:
    """Raise the stop again in the main thread, from another one (called where it was
    swallowed, it would be swallowed again)."""
    # as SIGTERM, whose handler is ours even where SIGINT is ignored
    threading.Timer(_REDELIVER_S, _thread.interrupt_main, (signal.SIGTERM,)).start()
