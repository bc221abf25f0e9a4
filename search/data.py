"""The data of a space: simulated (or loaded) once per seed, split, scaled, cached."""

from dataclasses import dataclass

import numpy as np

from nas.search.workdir import StudyPaths, write_atomically
from nas.spaces.space import Space

#: Fractions of train and validation; the rest is the test set.
SPLIT = (0.6, 0.2)


@dataclass(frozen=True)
class DataSplits:
    """Inputs divided by the space's ``input_divisor``; integer labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def arrays(self) -> dict[str, np.ndarray]:
        return dict(self.__dict__)


def split(x: np.ndarray, y: np.ndarray, divisor: float) -> DataSplits:
    n_train, n_val = int(SPLIT[0] * len(y)), int((SPLIT[0] + SPLIT[1]) * len(y))
    x = (x / divisor).astype(np.float32)
    return DataSplits(x[:n_train], y[:n_train], x[n_train:n_val], y[n_train:n_val],
                      x[n_val:], y[n_val:])


def load_data(space: Space, seed: int, paths: StudyPaths) -> DataSplits:
    """The space's splits for ``seed``, from the study folder's cache or made and cached."""
    cache = paths.data(seed, space.n_events)
    if cache.exists():
        with np.load(cache) as arrays:
            return DataSplits(**{key: arrays[key] for key in arrays.files})
    x, y = space.make_data(seed, space.n_events)
    data = split(x, y, space.input_divisor)
    write_atomically(cache, lambda tmp: np.savez_compressed(tmp, **data.arrays()))
    return data
