"""The data of a space: made (simulated or read) once per seed, split, scaled, brought to the
input port's formats, cached with the input stage (port and conditioning)."""

import json
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from nas.errors import DataError
from nas.model.config import InputStage
from nas.model.port import input_stage, to_port
from nas.model.workdir import StudyPaths, write_atomically
from nas.spaces.schema import digest, space_digests
from nas.spaces.sources import Events, load_events
from nas.spaces.space import Space

#: Fractions of train and validation when the data have no fixed split; the rest is test.
SPLIT = (0.6, 0.2)


@dataclass(frozen=True)
class DataSplits:
    """Inputs as the firmware receives them (integer ports: divided by the space's
    ``input_divisor``), integer labels, and the input stage found on the training split."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    stage: InputStage | None = field(default=None, compare=False)

    def arrays(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "stage"}


def stratified_parts(labels: np.ndarray) -> np.ndarray:
    """0, 1 or 2 (train, validation, test) per event: ``SPLIT`` of each class's events in
    their (seeded, shuffled) order, so that every split holds each class in its share."""
    part = np.zeros(len(labels), dtype=int)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        first_val, first_test = (round(share * len(members))
                                 for share in (SPLIT[0], SPLIT[0] + SPLIT[1]))
        part[members[first_val:]] = 1
        part[members[first_test:]] = 2
    return part


def split(events: Events, divisor: float) -> DataSplits:
    """The events' own split if they have one, else 60/20/20 per class (``stratified_parts``)."""
    x = (events.x / divisor).astype(np.float32)
    part = stratified_parts(events.y) if events.split is None else events.split
    pieces = [(x[part == k], events.y[part == k]) for k in range(3)]
    return DataSplits(*pieces[0], *pieces[1], *pieces[2])


#: A class with less than this share of the largest class's events is worth a warning.
IMBALANCE = 0.1
#: Every class needs this many events in each split, or its accuracy means little.
MIN_PER_SPLIT = 2


def check_splits(data: DataSplits, n_classes: int, margin: float = 0.0) -> list[str]:
    """Warnings about data that train poorly (constant inputs, rare classes) or a validation
    split too small to tell designs ``margin`` apart in accuracy; a ``DataError`` for a split
    that lacks a class."""
    for name in ("train", "val", "test"):
        counts = np.bincount(getattr(data, f"y_{name}"), minlength=n_classes)
        if counts.min() < MIN_PER_SPLIT:
            raise DataError(f"the {name} split holds {counts.min()} events of class "
                            f"{int(counts.argmin())}: give more events of it (at least "
                            f"{MIN_PER_SPLIT} per split) or fewer classes")
    found = []
    constant = np.flatnonzero(data.x_train.std(axis=0) == 0)
    if constant.size:
        found.append(f"inputs {', '.join(map(str, constant[:8]))}{' ...' if constant.size > 8 else ''} "
                     f"are constant in the training split: they cost nothing, but drop them from "
                     f"the data file")
    n_val = len(data.y_val)
    if n_val and 1.0 / n_val > margin > 0:
        found.append(f"the validation split holds {n_val} events: one event is "
                     f"{100 / n_val:.2f} points of accuracy, more than the {100 * margin:g}-point "
                     f"margin that screening tells designs apart by; give more events (about "
                     f"{round(5 / margin):,} in all) for finer choices")
    counts = np.bincount(data.y_train, minlength=n_classes)
    if counts.min() < IMBALANCE * counts.max():
        found.append(f"class {int(counts.argmin())} has {counts.min()} training events against "
                     f"{counts.max()} of class {int(counts.argmax())}: accuracy will favour the "
                     f"large classes; give more events of the rare one")
    return found


def prepared(space: Space, data: DataSplits) -> DataSplits:
    """``data`` with its input stage (found on the training split) and every input brought to
    its port format, as the firmware receives it."""
    stage = input_stage(space, data.x_train)
    arrays = data.arrays()
    for key in ("x_train", "x_val", "x_test"):
        arrays[key] = to_port(arrays[key], stage.port)
    return DataSplits(**arrays, stage=stage)


def data_tag(space: Space) -> str:
    """What the cached splits depend on besides the seed: the space's data, input and class
    sections, whole (a data file by its content)."""
    sections = space_digests(space)
    return digest([sections[key] for key in ("data", "input", "classes")])


def load_data(space: Space, seed: int, paths: StudyPaths) -> DataSplits:
    """The space's splits for ``seed``, from the study folder's cache or made and cached."""
    cache = paths.data(seed, data_tag(space))
    if cache.exists():
        with np.load(cache) as arrays:
            stage = InputStage.from_dict(json.loads(str(arrays["stage"])))
            return DataSplits(**{key: arrays[key] for key in arrays.files if key != "stage"},
                              stage=stage)
    data = prepared(space, split(load_events(space, seed), space.input_divisor))
    write_atomically(cache, lambda tmp: np.savez_compressed(
        tmp, **data.arrays(), stage=np.array(json.dumps(asdict(data.stage)))))
    return data
