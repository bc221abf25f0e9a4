import numpy as np
import pytest
from conftest import tiny_space

from nas._tf import set_seed, tf
from nas.errors import NasError
from nas.estimators.design import trained_design
from nas.model.config import StudentConfig, quantized_kernels, weight_mantissas
from nas.model.student import Distillation, train_student
from nas.spaces import StudentRanges
from nas.spaces.wcd_pulses import simulate

MIXED = StudentConfig(widths=(12, 6), weight_bits=(3, 5, 4), weight_int_bits=(0, 1, 1),
                      act_bits=(4, 6), act_int_bits=(2, 2), input_bits=6, input_int_bits=4,
                      sparsity=0.5)


@pytest.fixture(scope="module")
def trained():
    space = tiny_space()
    x, y = simulate(5, 1200)
    x = (x / 16.0).astype(np.float32)
    teacher_logits = np.eye(4, dtype=np.float32)[y] * 4.0  # a confident stand-in teacher
    set_seed(5)
    model, losses = train_student(MIXED, x, y, teacher_logits, 4, space.recipe, epochs=6)
    return model, losses


def test_quantized_weights_take_at_most_2_to_the_bits_levels(trained):
    model, _ = trained
    for kernel, bits, integer in zip(quantized_kernels(model, MIXED), MIXED.weight_bits,
                                     MIXED.weight_int_bits, strict=True):
        assert len(np.unique(kernel)) <= 2**bits
        mantissas = weight_mantissas(kernel, bits, integer)
        assert np.allclose(mantissas * 2.0 ** -(bits - 1 - integer), kernel)
        assert mantissas.min() >= -(2 ** (bits - 1)) and mantissas.max() <= 2 ** (bits - 1) - 1


def test_pruning_reaches_the_target_sparsity(trained):
    model, _ = trained
    for name in ("dense_1", "dense_2", "logits"):
        kernel = model.get_layer(name).kernel.numpy()
        assert abs(np.mean(kernel == 0) - MIXED.sparsity) <= 0.02, name


def test_distillation_loss_decreases(trained):
    _, losses = trained
    assert losses[-1] < 0.8 * losses[0]


def test_trained_design_counts_the_actual_nonzero_weights(trained):
    model, _ = trained
    design = trained_design(model, MIXED)
    kernels = quantized_kernels(model, MIXED)
    assert design.nonzero_weights == sum(np.count_nonzero(k) for k in kernels)
    assert [layer.input_bits for layer in design.layers] == [6, 4, 6]


def test_distillation_loss_terms():
    labels = tf.constant([[1.0, 0.0], [0.0, 1.0]])
    logits = tf.constant([[2.0, -1.0], [0.5, 0.3]])
    targets = tf.concat([labels, logits], axis=1)
    # Student equal to teacher: only the hard-label part remains.
    only_kl = Distillation(alpha=0.0, temperature=3.0).loss(2)(targets, logits)
    assert np.allclose(only_kl.numpy(), 0.0, atol=1e-5)
    only_ce = Distillation(alpha=1.0, temperature=3.0).loss(2)(targets, logits)
    expected = tf.keras.losses.categorical_crossentropy(labels, logits, from_logits=True)
    assert np.allclose(only_ce.numpy(), expected.numpy())


@pytest.mark.parametrize("changes, message", [
    ({"widths": (500,), "weight_bits": (8, 8), "weight_int_bits": (1, 1),
      "act_bits": (8,), "act_int_bits": (2,)}, "width 500"),
    ({"weight_bits": (1, 5, 4)}, "weight_bits 1"),
    ({"act_bits": (4, 20)}, "act_bits 20"),
    ({"sparsity": 0.99}, "sparsity 0.99"),
])
def test_config_out_of_range_is_a_user_error(changes, message):
    config = StudentConfig(**{**MIXED.to_dict(), **changes})
    with pytest.raises(NasError, match=message):
        config.validate(StudentRanges())


def test_integer_bits_must_fit_in_the_bits():
    config = StudentConfig(**{**MIXED.to_dict(), "weight_int_bits": (3, 1, 1)})
    with pytest.raises(NasError, match="integer bits 3 do not fit in 3 bits: use at most 2"):
        config.validate(StudentRanges(weight_int_bits=(0, 8)))


def test_inconsistent_config_lengths_are_a_user_error():
    with pytest.raises(ValueError, match="2 hidden layers"):
        StudentConfig(**{**MIXED.to_dict(), "weight_bits": (3, 5)})


@pytest.mark.parametrize("ranges, message", [
    (StudentRanges(weight_bits=(1, 8)), "weight_bits"),
    (StudentRanges(act_bits=(4, 40)), "act_bits"),
    (StudentRanges(width=(16, 8)), "width"),
    (StudentRanges(max_hidden_layers=5), "max_hidden_layers"),
])
def test_space_ranges_out_of_range_are_user_errors(ranges, message):
    with pytest.raises(NasError, match=message):
        ranges.validate()


def test_distillation_from_a_real_teacher_beats_the_labels_it_corrects():
    """A teacher trained on clean labels, students on a copy whose labels are 40 % wrong: the
    student that learns mostly from the teacher (alpha 0.1) beats the one that learns from the
    labels alone (alpha 1), on clean validation labels."""
    from dataclasses import replace

    from nas.model.data import DataSplits
    from nas.model.student import accuracy
    from nas.model.teacher import teacher_logits, train_teacher

    space = tiny_space()
    x, y = simulate(7, 3000)
    x = (x / 16.0).astype(np.float32)
    train, val = slice(0, 2000), slice(2000, 3000)
    data = DataSplits(x[train], y[train], x[val], y[val], x[val], y[val])
    teacher = train_teacher(replace(space, recipe=replace(space.recipe, teacher_epochs=20)),
                            data, seed=7)
    logits = teacher_logits(teacher, x[train])
    rng = np.random.default_rng(7)
    noisy = np.where(rng.random(2000) < 0.4, rng.integers(0, 4, 2000), y[train])
    config = replace(MIXED, sparsity=0.0)
    scores = {}
    for alpha in (1.0, 0.1):
        set_seed(7)
        model, _ = train_student(config, x[train], noisy, logits, 4, space.recipe, epochs=15,
                                 distillation=Distillation(alpha, 2.0))
        scores[alpha] = accuracy(model, x[val], y[val])
    assert accuracy(teacher, x[val], y[val]) > 0.9
    assert scores[0.1] > scores[1.0] + 0.02, scores
