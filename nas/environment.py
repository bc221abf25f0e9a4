"""Environment variables that a library reads, set for one block only: ``nas`` runs inside
other programs (a notebook, a user's script) whose environment is theirs."""

import contextlib
import os


@contextlib.contextmanager
def temporary_environment(values: dict[str, str]):
    """``values`` in ``os.environ`` inside the block; after it, the whole environment as it was
    before (including variables that code run in the block set: TensorFlow sets its own while
    it is imported, and has read them by then)."""
    before = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        for name in set(os.environ) - set(before):
            del os.environ[name]
        for name, value in before.items():
            if os.environ.get(name) != value:
                os.environ[name] = value
