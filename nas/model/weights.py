"""The weights file of a trained student: one ``.npz`` holding the model's weight arrays in
order (``w0``, ``w1``, ...), as ``model.get_weights()`` lists them."""

from pathlib import Path

import numpy as np


def save_weights(model, path: Path) -> None:
    np.savez(path, **{f"w{i}": weights for i, weights in enumerate(model.get_weights())})


def load_weights(model, path: Path) -> None:
    """Set ``model``'s weights from a file ``save_weights`` wrote for the same architecture."""
    with np.load(path) as arrays:
        model.set_weights([arrays[f"w{i}"] for i in range(len(arrays.files))])
