import csv

import numpy as np
import pytest
from conftest import SHARED

from nas.spaces.wcd_pulses import CLASS_NAMES, pulse_shape, simulate

REAL_PULSES = SHARED / "data" / "lago_pulses" / "lago_wcd_pulses.csv"


@pytest.fixture(scope="module")
def simulated():
    return simulate(seed=7, n_events=4000)


def test_same_seed_same_pulses_other_seed_other_pulses():
    x1, y1 = simulate(3, 200)
    x2, y2 = simulate(3, 200)
    x3, _ = simulate(4, 200)
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert not np.array_equal(x1, x3)


def test_shapes_balance_and_adc_range(simulated):
    x, y = simulated
    assert x.shape == (4000, 30) and y.shape == (4000,)
    assert np.bincount(y).tolist() == [1000] * len(CLASS_NAMES)
    assert np.all(x == np.rint(x)) and x.min() >= 0 and x.max() <= 255


def test_saturation_only_in_saturated_class(simulated):
    x, y = simulated
    saturated = x.max(axis=1) >= 220
    assert saturated[y == 3].mean() > 0.95
    assert saturated[y != 3].mean() < 0.01


def test_pulse_shape_peaks_at_one():
    t = np.linspace(0, 30, 3001)[None, :]
    shape = pulse_shape(t, np.array([[5.0]]), np.array([[1.0]]), np.array([[4.0]]))
    assert shape.max() == pytest.approx(1.0, abs=1e-3)
    assert np.all(shape[t < 5.0] == 0)


def _real_pulses():
    if not REAL_PULSES.exists():
        pytest.skip("../shared/data/lago_pulses is absent (project cloned alone)")
    with REAL_PULSES.open() as f:
        rows = list(csv.DictReader(f))
    # type 1, index 0 is a 0..29 ramp test pattern, not a pulse
    rows = [r for r in rows if not (r["pulse_type"] == "1" and r["index"] == "0")]
    labels = np.array([int(r["pulse_type"]) for r in rows])
    traces = np.array([[float(r[f"s{i}"]) for i in range(30)] for r in rows])
    return traces, labels


def _pulse_start(traces: np.ndarray) -> np.ndarray:
    """First sample at least 4 counts above the baseline (mean of samples 0-4)."""
    baseline = traces[:, :5].mean(axis=1, keepdims=True)
    return np.argmax(traces > baseline + 4, axis=1)


def test_simulated_pulses_resemble_the_real_lago_pulses(simulated):
    real, real_labels = _real_pulses()
    x, y = simulated
    real_baseline, sim_baseline = real[:, :5].mean(), x[:, :5].mean()
    assert 0 <= real_baseline <= 3 and 0 <= sim_baseline <= 3
    assert abs(real_baseline - sim_baseline) < 1.0
    real_plateau = real[real_labels == 3].max(axis=1)
    sim_plateau = np.median(x[y == 3].max(axis=1))
    assert real_plateau.min() - 3 <= sim_plateau <= real_plateau.max() + 3
    for label in (0, 1, 2):
        real_peak = np.median(real[real_labels == label].max(axis=1))
        sim_peak = np.median(x[y == label].max(axis=1))
        assert 0.5 * real_peak <= sim_peak <= 2.0 * real_peak, CLASS_NAMES[label]
    assert abs(np.median(_pulse_start(x)) - np.median(_pulse_start(real))) <= 2
