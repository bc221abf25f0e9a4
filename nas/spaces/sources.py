"""Events of a space from its ``DataSpec``: simulators, packaged data sets and user files.

Files are checked before anything is written: every problem is a one-line ``DataError`` naming
the file and the fix.
"""

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nas.errors import DataError
from nas.spaces import clyc_pulses, digits, public, wcd_pulses
from nas.spaces.space import DataSpec, Space

SIMULATORS = {"wcd_pulses": wcd_pulses.simulate, "clyc_pulses": clyc_pulses.simulate}
DATASETS = {"sklearn_digits": digits.load_digits,
            "sklearn_breast_cancer": public.load_breast_cancer, "sklearn_wine": public.load_wine,
            "ucr_gunpoint": public.load_gunpoint}
SPLIT_NAMES = {"train": 0, "val": 1, "validation": 1, "test": 2, "0": 0, "1": 1, "2": 2}
#: Fewest events per class: below it, a 60/20/20 split leaves classes nearly empty.
MIN_PER_CLASS = 10


@dataclass(frozen=True)
class Events:
    """Raw inputs (n, n_inputs), integer labels (n,), and a fixed split (0/1/2) or None."""

    x: np.ndarray
    y: np.ndarray
    split: np.ndarray | None = None


def cache_tag(spec: DataSpec) -> str:
    """What the cached, split data depend on besides the seed (a file's content hash)."""
    if spec.file:
        digest = hashlib.sha256(Path(spec.file).read_bytes()).hexdigest()[:12]
        return f"file{digest}_n{spec.n_events}"
    return f"n{spec.n_events}"


def _fail(path: Path, problem: str, fix: str) -> DataError:
    return DataError(f"data file '{path}': {problem}: {fix}")


def _read_csv(path: Path, spec: DataSpec) -> Events:
    try:
        with path.open(newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as error:
        raise _fail(path, f"cannot be read ({error})", "give a readable CSV file") from None
    if len(rows) < 2:
        raise _fail(path, "has no data rows", "give a header row and one row per event")
    header, body = rows[0], rows[1:]
    if spec.label not in header:
        raise _fail(path, f"has no label column '{spec.label}'",
                    "name the label column with data.label")
    widths = {len(row) for row in body}
    if widths != {len(header)}:
        bad = next(i for i, row in enumerate(body, start=2) if len(row) != len(header))
        raise _fail(path, f"line {bad} has {len(body[bad - 2])} fields, the header {len(header)}",
                    "give every row the header's columns")
    label_at = header.index(spec.label)
    split_at = header.index(spec.split) if spec.split in header else None
    if spec.split and split_at is None:
        raise _fail(path, f"has no split column '{spec.split}'", "fix data.split or drop it")
    feature_at = [i for i in range(len(header)) if i not in (label_at, split_at)]
    try:
        x = np.array([[float(row[i]) for i in feature_at] for row in body], dtype=np.float64)
        labels = np.array([float(row[label_at]) for row in body])
    except ValueError as error:
        raise _fail(path, f"has a value that is not a number ({error})",
                    "give numbers in every input and label column") from None
    split = None if split_at is None else _split_codes(path, [row[split_at] for row in body])
    return Events(x, labels, split)


def _split_codes(path: Path, values) -> np.ndarray:
    try:
        return np.array([SPLIT_NAMES[str(v).strip().lower()] for v in values])
    except KeyError as error:
        raise _fail(path, f"split value {error} is not train/val/test",
                    "use train, val or test (or 0, 1, 2)") from None


def _read_arrays(path: Path, spec: DataSpec) -> Events:
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as f:
                arrays = {key: f[key] for key in f.files}
        else:
            import h5py

            with h5py.File(path, "r") as f:
                arrays = {key: f[key][()] for key in f if isinstance(f[key], h5py.Dataset)}
    except Exception as error:  # numpy and h5py raise many kinds for a broken file
        raise _fail(path, f"cannot be read ({type(error).__name__})",
                    f"give a valid {path.suffix[1:].upper()} file") from None
    for name in (spec.features, spec.label, *( [spec.split] if spec.split else [])):
        if name not in arrays:
            raise _fail(path, f"has no array '{name}' (it has {', '.join(sorted(arrays)) or 'none'})",
                        "name the arrays with data.features, data.label and data.split")
    try:
        x = np.asarray(arrays[spec.features], dtype=np.float64)
        labels = np.asarray(arrays[spec.label], dtype=np.float64)
    except (TypeError, ValueError):
        raise _fail(path, "holds arrays that are not numbers", "store numeric arrays") from None
    split = _split_codes(path, arrays[spec.split].astype(str)) if spec.split else None
    return Events(x, labels, split)


READERS = {".csv": _read_csv, ".npz": _read_arrays, ".h5": _read_arrays, ".hdf5": _read_arrays}


def _flat_inputs(path: Path, x: np.ndarray, n_inputs: int,
                 input_shape: tuple[int, ...]) -> np.ndarray:
    """Inputs one row per event: image or waveform arrays (events x shape) are flattened."""
    if x.ndim > 2 or input_shape:
        want = input_shape or (n_inputs,)
        if x.shape[1:] != want and not (x.ndim == 2 and x.shape[1] == n_inputs):
            raise _fail(path, f"inputs have shape {x.shape}, the space says events x "
                        f"{' x '.join(map(str, want))}", "fix input.shape or the file "
                        "(channels last)")
        return x.reshape(len(x), -1)
    return x


def read_file(spec: DataSpec, n_inputs: int, n_classes: int,
              input_shape: tuple[int, ...] = ()) -> Events:
    """A user's data file, checked: shape, finite values, labels, classes, split. Inputs of
    ``input_shape`` may be stored per event in that shape or flat."""
    path = Path(spec.file)
    if not path.is_file():
        raise _fail(path, "does not exist", "fix data.file (relative paths start at the YAML file)")
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise _fail(path, f"has an unknown type '{path.suffix}'", "use .csv, .npz, .h5 or .hdf5")
    events = reader(path, spec)
    x, labels = _flat_inputs(path, events.x, n_inputs, input_shape), events.y
    if x.ndim != 2 or x.shape[1] != n_inputs:
        raise _fail(path, f"inputs have shape {x.shape}, the space says {n_inputs} per event",
                    "fix input.n_inputs or the file")
    if labels.shape != (x.shape[0],) or (events.split is not None and len(events.split) != len(x)):
        raise _fail(path, f"{labels.size} labels for {x.shape[0]} events",
                    "give one label (and split) per event")
    if not np.all(np.isfinite(x)):
        row = int(np.argwhere(~np.isfinite(x))[0][0])
        raise _fail(path, f"event {row} has a NaN or infinite input", "remove or fix it")
    if not np.all(np.isfinite(labels)) or np.any(labels != np.rint(labels)) or \
            labels.min() < 0 or labels.max() >= n_classes:
        raise _fail(path, f"labels must be integers 0..{n_classes - 1}",
                    "fix the labels or the space's classes")
    y = labels.astype(np.int64)
    counts = np.bincount(y, minlength=n_classes)
    if np.any(counts == 0):
        missing = [str(c) for c in np.flatnonzero(counts == 0)]
        raise _fail(path, f"class {', '.join(missing)} has no events",
                    "give events of every class or fewer classes")
    if counts.min() < MIN_PER_CLASS:
        raise _fail(path, f"class {int(np.argmin(counts))} has only {counts.min()} events",
                    f"give at least {MIN_PER_CLASS} events per class")
    return Events(x.astype(np.float32), y, events.split)


def load_events(space: Space, seed: int) -> Events:
    """All events of ``space`` for ``seed`` (at most ``data.n_events``)."""
    spec = space.data
    if spec.simulator:
        if spec.simulator not in SIMULATORS:
            raise DataError(f"unknown simulator '{spec.simulator}': use one of "
                            f"{', '.join(SIMULATORS)}")
        x, y = SIMULATORS[spec.simulator](seed, spec.n_events)
        return Events(x, y)
    if spec.dataset:
        if spec.dataset not in DATASETS:
            raise DataError(f"unknown dataset '{spec.dataset}': use one of {', '.join(DATASETS)}")
        x, y = DATASETS[spec.dataset](seed, spec.n_events)
        return Events(x, y)
    events = read_file(spec, space.n_inputs, space.n_classes, space.input_shape)
    if events.split is None:
        order = np.random.default_rng(seed).permutation(len(events.y))[: spec.n_events]
        return Events(events.x[order], events.y[order])
    return events
