"""Every built-in space makes its data and trains a tiny student; the CLYC simulator's physics."""

import dataclasses

import numpy as np
import pytest

from nas._tf import set_seed
from nas.errors import NasError
from nas.model.config import StudentConfig
from nas.model.data import prepared, split
from nas.model.student import accuracy, train_student
from nas.spaces import SPACES, get_space
from nas.spaces.clyc_pulses import simulate as simulate_clyc
from nas.spaces.sources import load_events


@pytest.mark.parametrize("name", sorted(SPACES))
def test_space_makes_data_and_trains_a_tiny_student(name):
    space = get_space(name)
    space.validate()
    small = dataclasses.replace(space, data=dataclasses.replace(
        space.data, n_events=min(1200, space.data.n_events)))
    data = prepared(space, split(load_events(small, 0), space.input_divisor))
    x, y = data.x_train, data.y_train
    assert x.shape == (len(y), space.n_inputs) and len(y) >= 0.6 * small.data.n_events - 1
    assert set(np.unique(y)) == set(range(space.n_classes))
    assert np.all(np.isfinite(x)) and len(data.stage.port) == space.n_inputs
    ranges = space.student
    config = StudentConfig((8,), (6, 6), (1, 1), (6,), (2,), ranges.input_bits[1],
                           ranges.input_int_bits[1] - int(data.stage.signed), 0.0, data.stage)
    config.validate(ranges)
    set_seed(0)
    one_hot_teacher = np.eye(space.n_classes, dtype=np.float32)[y] * 3.0
    recipe = dataclasses.replace(space.recipe, batch_size=64)
    model, losses = train_student(config, x, y, one_hot_teacher, space.n_classes, recipe, epochs=5)
    assert losses[-1] < losses[0]
    assert accuracy(model, x, y) > 1.5 / space.n_classes


def test_clyc_gammas_rise_faster_and_the_balance_is_the_iaea_one():
    x, y = simulate_clyc(3, 6000)
    assert abs(np.mean(y == 0) - 0.28) < 0.03
    assert x.shape == (6000, 35) and x.max() <= 1023
    baseline = x[:, :4].mean(axis=1, keepdims=True)
    rise = x - baseline
    # Fraction of the last sample's height reached after 2 ns (8 samples past the start window).
    early = rise[:, 16] / np.maximum(rise[:, -1], 1.0)
    assert np.median(early[y == 0]) > np.median(early[y == 1]) + 0.2


def test_unknown_space_names_the_known_ones():
    with pytest.raises(NasError, match="mlp_psd, mlp_gn, digits"):
        get_space("mlp_nope")
