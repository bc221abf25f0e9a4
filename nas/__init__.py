"""nas: hardware-aware neural architecture search for FPGA classifiers.

The import package ``nas`` maps onto the repository's top-level folders
(``nas.search`` is ``search/``, ``nas.spaces`` is ``spaces/`` ...), as the design card lays out.
"""

__version__ = "0.1.0"

#: The Python API (``nas.app.api``), imported on first use so that ``import nas`` stays cheap.
_API = ("load_space", "run", "open_study", "run_settings", "Study")
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        from nas.app import api

        return getattr(api, name)
    raise AttributeError(f"module 'nas' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})
