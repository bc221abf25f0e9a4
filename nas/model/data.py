"""The data of a space: made (simulated or read) once per seed, split, scaled, cached."""

from dataclasses import dataclass

import numpy as np

from nas.model.workdir import StudyPaths, write_atomically
from nas.spaces.sources import Events, cache_tag, load_events
from nas.spaces.space import Space

#: Fractions of train and validation when the data have no fixed split; the rest is test.
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


def split(events: Events, divisor: float) -> DataSplits:
    """The events' own split if they have one, else 60/20/20 in their (shuffled) order."""
    x = (events.x / divisor).astype(np.float32)
    if events.split is None:
        n = len(events.y)
        part = np.zeros(n, dtype=int)
        part[int(SPLIT[0] * n):] = 1
        part[int((SPLIT[0] + SPLIT[1]) * n):] = 2
    else:
        part = events.split
    pieces = [(x[part == k], events.y[part == k]) for k in range(3)]
    return DataSplits(*pieces[0], *pieces[1], *pieces[2])


def load_data(space: Space, seed: int, paths: StudyPaths) -> DataSplits:
    """The space's splits for ``seed``, from the study folder's cache or made and cached."""
    cache = paths.data(seed, cache_tag(space.data))
    if cache.exists():
        with np.load(cache) as arrays:
            return DataSplits(**{key: arrays[key] for key in arrays.files})
    data = split(load_events(space, seed), space.input_divisor)
    write_atomically(cache, lambda tmp: np.savez_compressed(tmp, **data.arrays()))
    return data
