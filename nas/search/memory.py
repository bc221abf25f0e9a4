"""A memory limit on trials: a trial whose process grows past it fails with that reason and
the search goes on.

A design too big for the part is rejected before it is built, so a student's own weights stay
small; what can still grow is everything around it (a huge batch of a user's space, a trace of
a wide layer, a leak). Trials run in the search's process, so the limit is on that process's
resident memory: a watchdog thread reads it while a trial trains and is estimated, and past the
limit it raises ``MemoryLimitExceeded`` in the trial's thread, which unwinds the trial (its
tensors are freed) like any failure. Library code that catches every exception (TensorFlow's
AutoGraph falls back that way) can swallow it, and raised inside compiled code it can come out
as another error: either way the block ends with ``MemoryLimitExceeded``. It is raised once, not
again and again, because each raise that lands inside TensorFlow risks such an error. Growth
inside one call of compiled code is seen when that call returns; a limit below the machine's
memory leaves room for it. It is never raised while the trial's thread imports a module: an
import cut in half leaves its package without the submodules it had started to bind (seen:
``networkx.utils`` without ``decorators``), and every later trial that needs it fails; the raise
waits until the import is over.
"""

import ctypes
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE")
#: How often the watchdog reads the resident memory.
_POLL_S = 0.05
#: The default limit, as a fraction of the machine's memory.
DEFAULT_FRACTION = 0.8


class MemoryLimitExceeded(Exception):
    """The process grew past the memory limit during a trial."""


def resident_bytes() -> int:
    """The resident memory of this process now."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * _PAGE


#: Where a container's memory limit is read: cgroup v2, then v1 (a huge number: no limit).
CGROUP_LIMITS = (Path("/sys/fs/cgroup/memory.max"),
                 Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"))


def memory_bytes(limits: tuple[Path, ...] = CGROUP_LIMITS) -> int:
    """The memory this process may use: the machine's, or its cgroup's limit when lower (in a
    container the kernel kills a process past that limit, whatever the machine has)."""
    machine = os.sysconf("SC_PHYS_PAGES") * _PAGE
    for path in limits:
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            return min(machine, int(text))
    return machine


def default_limit_gb() -> float:
    return DEFAULT_FRACTION * memory_bytes() / 2**30


def _raise_in(thread_id: int, exception: type[BaseException] | None) -> None:
    """Raise ``exception`` in thread ``thread_id`` at its next Python instruction (None: take
    back one not yet raised)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id),
                                               ctypes.py_object(exception) if exception else None)


def _importing(thread_id: int) -> bool:
    """True while thread ``thread_id`` runs inside an import (a frame of importlib's
    bootstrap is on its stack: also while the imported module's own code runs)."""
    frame = sys._current_frames().get(thread_id)
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


@contextmanager
def memory_limit(limit_bytes: int) -> Iterator[None]:
    """Raise ``MemoryLimitExceeded`` in this thread if the process's resident memory passes
    ``limit_bytes`` while the block runs; a block that passed it ends with that exception even
    where the raise was swallowed or turned into another error."""
    done, exceeded, thread_id = threading.Event(), threading.Event(), threading.get_ident()

    def watch() -> None:
        while not done.wait(_POLL_S):
            if resident_bytes() > limit_bytes:
                exceeded.set()
            if exceeded.is_set() and not _importing(thread_id):
                _raise_in(thread_id, MemoryLimitExceeded)
                return

    watcher = threading.Thread(target=watch, name="memory-limit", daemon=True)
    watcher.start()
    try:
        yield
    except Exception as error:
        if exceeded.is_set() and not isinstance(error, MemoryLimitExceeded):
            raise MemoryLimitExceeded() from error
        raise
    finally:
        _stop(watcher, done, thread_id)
    if exceeded.is_set():
        raise MemoryLimitExceeded()


def _stop(watcher: threading.Thread, done: threading.Event, thread_id: int) -> None:
    """Stop the watchdog, even when the exception it raises lands here (the block's end
    raises it then)."""
    while watcher.is_alive():
        try:
            done.set()
            watcher.join()
        except MemoryLimitExceeded:
            continue
    _raise_in(thread_id, None)  # not yet raised: the block's end raises it
