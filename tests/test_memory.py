"""The memory limit on trials: a real allocation that grows without bound is stopped at the
limit, in the thread that allocates, and the memory is given back."""

import gc
import sys
import time

import numpy as np
import pytest

from nas.search.memory import MemoryLimitExceeded, memory_bytes, memory_limit, resident_bytes

MB = 2**20


def _below_live_memory(margin_bytes: int) -> int:
    """A limit ``margin_bytes`` under the memory this process holds alive. Garbage first: an
    earlier test's array kept in a reference cycle (an exception's traceback holds its frame)
    freed by a collection inside the block would drop the process under a limit taken from
    it, and the limit would never be passed (seen: a suite under load, 'DID NOT RAISE')."""
    gc.collect()
    return resident_bytes() - margin_bytes


def test_an_allocation_without_bound_is_stopped_at_the_limit():
    start, chunks = resident_bytes(), []
    with pytest.raises(MemoryLimitExceeded), memory_limit(start + 300 * MB):
        while True:
            chunks.append(np.ones(10 * MB // 8))  # 10 MB, written, so resident
    grown = resident_bytes() - start
    assert 300 * MB < grown < 600 * MB  # stopped soon after passing the limit
    chunks.clear()
    assert resident_bytes() - start < 100 * MB


def test_a_block_under_the_limit_runs_to_its_end():
    with memory_limit(resident_bytes() + 300 * MB):
        time.sleep(0.3)  # several watchdog reads
        kept = np.ones(10 * MB // 8)
    assert kept.sum() == 10 * MB // 8


def _spin_catching_everything(seconds: float) -> bool:
    """Spin for ``seconds`` like library code that catches every exception; True if it caught
    one."""
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            pass
    except Exception:  # noqa: BLE001 -- the library code this stands for
        return True
    return False


def test_a_block_whose_exception_was_swallowed_ends_with_it():
    """Code that catches every exception (as TensorFlow's AutoGraph does) does not let a block
    past the limit end as if it had not passed it."""
    kept = np.ones(300 * MB // 8)
    with pytest.raises(MemoryLimitExceeded), memory_limit(_below_live_memory(100 * MB)):
        assert _spin_catching_everything(5)
    assert kept.size


def test_an_exception_turned_into_another_error_is_the_limit():
    """Raised inside compiled code, the exception can come out as another error (TensorFlow
    raised SystemError): the block ends with the limit, the other error as its cause."""
    kept = np.ones(300 * MB // 8)
    with pytest.raises(MemoryLimitExceeded) as stopped, memory_limit(_below_live_memory(100 * MB)):
        if _spin_catching_everything(5):
            raise SystemError("bad argument to internal function")
    assert isinstance(stopped.value.__cause__, SystemError) and kept.size


def test_the_default_reads_a_container_limit_below_the_machine(tmp_path):
    v2, v1 = tmp_path / "memory.max", tmp_path / "memory.limit_in_bytes"
    machine = memory_bytes(())
    assert machine > 2**30
    v2.write_text("max\n")  # cgroup v2 without a limit
    v1.write_text(f"{2**30}\n")
    assert memory_bytes((v2, v1)) == 2**30
    v2.write_text(f"{3 * 2**30}\n")
    assert memory_bytes((v2, v1)) == 3 * 2**30
    v2.write_text(f"{2**62}\n")  # v1's 'no limit' is a huge number
    assert memory_bytes((v2, v1)) == machine
    assert memory_bytes((tmp_path / "absent",)) == machine


def test_the_limit_waits_for_an_import_to_finish(tmp_path, monkeypatch):
    """Raised inside an import, the exception would leave a package half-bound (seen:
    ``networkx.utils`` without ``decorators``, every later trial failing): it waits until the
    import is over, then stops the block."""
    (tmp_path / "slow_to_import.py").write_text(
        "import time\n"
        "end = time.monotonic() + 1.0\n"
        "while time.monotonic() < end:\n"
        "    pass\n"
        "FINISHED = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    kept = np.ones(300 * MB // 8)
    with pytest.raises(MemoryLimitExceeded), memory_limit(_below_live_memory(100 * MB)):
        import slow_to_import  # noqa: PLC0415 -- the import is what is tested
        assert slow_to_import.FINISHED
        end = time.monotonic() + 5
        while time.monotonic() < end:  # the raise lands here, once the import is over
            pass
    assert sys.modules["slow_to_import"].FINISHED and kept.size
