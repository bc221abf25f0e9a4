"""nas: hardware-aware neural architecture search for FPGA classifiers.

The import package ``nas`` maps onto the repository's top-level folders
(``nas.search`` is ``search/``, ``nas.spaces`` is ``spaces/`` ...), as the design card lays out.
"""

__version__ = "0.1.0"
