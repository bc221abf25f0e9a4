"""The memory limit on trials: a real allocation that grows without bound is stopped at the
limit, in the thread that allocates, and the memory is given back."""

import time

import numpy as np
import pytest

from nas.search.memory import MemoryLimitExceeded, memory_limit, resident_bytes

MB = 2**20


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


def test_an_exception_swallowed_by_library_code_is_raised_again():
    """Code that catches every exception (as TensorFlow's AutoGraph does) does not let a block
    past the limit run on: the limit is raised again."""
    start, kept = time.monotonic(), np.ones(300 * MB // 8)
    with pytest.raises(MemoryLimitExceeded), memory_limit(resident_bytes() - 100 * MB):
        assert _spin_catching_everything(5)
        while time.monotonic() - start < 5:  # Python code, where the raise lands
            pass
    assert time.monotonic() - start < 2 and kept.size
