"""Learned bit widths: the quantizer's forward and gradients, bits that move under the resource
penalty, zero-bit weights that are exact zeros, and frozen students that trace, synthesize and
export bit-exactly; screening of learned trials."""

import dataclasses
import math

import numpy as np
import pytest

from nas._tf import set_seed, tf
from nas.hls.export import write_project
from nas.hls.open_flow import run_open_flow
from nas.model.config import ConvLayer, quantized_kernels
from nas.model.learned import (
    LearnedArchitecture,
    LearnedTrainer,
    ebops,
    quantize,
    weight_bits,
)
from nas.model.student import Distillation
from nas.search.screening import SCREEN_STARTUP, promising
from nas.spaces import TrainingRecipe, get_part
from nas.spaces.wcd_pulses import simulate

ARCH = LearnedArchitecture(widths=(12,), input_bits=6, input_int_bits=4)
#: A 1-D CNN over the 30 samples: a pooled convolution, a strided one, no hidden dense layer.
CNN = LearnedArchitecture(widths=(), input_bits=6, input_int_bits=4,
                          convs=(ConvLayer(4, 5, 1, pool=2), ConvLayer(6, 3, 2)),
                          input_shape=(30, 1))
#: The same layers with half the filters: the RTL check's design (5,453 LUT against 10,749;
#: its open flow 47 s against 79 alone on 2 cores).
NARROW_CNN = dataclasses.replace(CNN, convs=(ConvLayer(2, 5, 1, pool=2), ConvLayer(3, 3, 2)))


def test_quantize_rounds_half_to_even_with_hgq_gradients():
    x = tf.Variable([0.3, -0.71, 0.625, 0.875, 1.0])
    frac = tf.Variable([2.0, 1.6, 2.0, 2.0, -1.0])
    with tf.GradientTape() as tape:
        q = quantize(x, frac)
        total = tf.reduce_sum(q)
    dx, df = tape.gradient(total, [x, frac])
    # 0.625 * 4 = 2.5 -> 2 (even), 0.875 * 4 = 3.5 -> 4 (even); f 1.6 rounds to 2; f -1 is a
    # grid of 2: 1.0 -> 0 (half to even)
    assert q.numpy().tolist() == [0.25, -0.75, 0.5, 1.0, 0.0]
    assert dx.numpy().tolist() == [1.0] * 5  # straight through
    expected = -math.log(2.0) * (q.numpy() - x.numpy())
    assert df.numpy() == pytest.approx(expected, abs=1e-6)


@pytest.fixture(scope="module")
def pulses():
    x, y = simulate(3, 2400)
    x = (x / 16.0).astype(np.float32)
    return x[:2000], y[:2000], x[2000:]


def _trained(pulses, beta: float, epochs: int = 20, arch: LearnedArchitecture = ARCH):
    x, y, _ = pulses
    set_seed(3)
    trainer = LearnedTrainer(arch, beta, x, y, np.eye(4, dtype=np.float32)[y] * 4.0, 4,
                             TrainingRecipe(batch_size=64), Distillation(0.5, 2.0), epochs)
    trainer.train(epochs)
    return trainer


def test_bits_move_under_the_resource_penalty(pulses):
    free, penalized = _trained(pulses, 0.0), _trained(pulses, 3e-4)
    assert ebops(penalized.model) < 0.6 * ebops(free.model)
    (_, free_config), (_, config) = free.freeze(), penalized.freeze()
    assert config.sparsity > free_config.sparsity
    assert sum(config.weight_bits) < sum(free_config.weight_bits)
    assert len(penalized.losses) == 20 and all(np.isfinite(penalized.losses))


def test_zero_bit_weights_are_exact_zeros_and_the_frozen_format_holds_every_weight(pulses):
    trainer = _trained(pulses, 3e-4)
    model, config = trainer.freeze()
    layer = trainer.model.get_layer("dense_1")
    frac = np.round(layer.frac.numpy())
    rounded_to_zero = np.round(layer.kernel.numpy() * 2.0**frac) == 0
    kernels = quantized_kernels(model, config)
    assert rounded_to_zero.any() and np.all(kernels[0][rounded_to_zero] == 0)
    for quantized, stored in zip(kernels, model.get_weights()[::2], strict=True):
        assert np.array_equal(quantized, stored)  # the QKeras quantizer changes no weight
    zeros = sum(int(np.sum(k == 0)) for k in kernels)
    assert config.sparsity == pytest.approx(zeros / sum(k.size for k in kernels), abs=1e-4)


@pytest.mark.slow
def test_frozen_student_is_bit_exact_in_rtl_and_hls_c_simulation(pulses, tmp_path):
    _, _, x_test = pulses
    model, config = _trained(pulses, 1e-4).freeze()
    rtl = run_open_flow(model, config, x_test, 16.0, tmp_path / "rtl", "xc7a35tcpg236-1", 200.0)
    assert rtl.bit_exact and rtl.rtl_exact_fraction == 1.0 and rtl.lut > 0
    export = write_project(model, config, x_test, 16.0, tmp_path / "prj", get_part("xc7a35t"),
                           200.0)
    assert export.exact_fraction == 1.0 and export.argmax_fraction == 1.0


def test_a_learned_cnn_freezes_into_the_qkeras_student_it_trained_as(pulses):
    # Convolutions learn their weights' bits as dense layers do; the penalty counts a kernel
    # weight at every window position; the frozen QKeras CNN computes what the trained one did.
    _, _, x_test = pulses
    free, penalized = _trained(pulses, 0.0, 8, CNN), _trained(pulses, 3e-4, 8, CNN)
    assert ebops(penalized.model) < 0.6 * ebops(free.model)
    conv = free.model.get_layer("conv_1")
    kernel = conv.quantized_kernel()
    per_position = float(tf.reduce_sum(weight_bits(kernel, conv.frac))) * 6  # 6-bit inputs
    assert conv.positions == 26  # 30 samples, a 5-wide window
    assert float(conv.ebops(kernel)) == pytest.approx(26 * per_position)
    model, config = penalized.freeze()
    assert config.convs == CNN.convs and config.input_shape == (30, 1) and config.widths == ()
    assert len(config.weight_bits) == 3 and len(config.act_bits) == 2
    kernels = quantized_kernels(model, config)
    assert kernels[0].shape == (5, 1, 4) and config.sparsity > 0
    for quantized, stored in zip(kernels, model.get_weights()[::2], strict=True):
        assert np.array_equal(quantized, stored)  # the QKeras quantizer changes no weight
    for name, frozen in zip(("conv_1", "conv_2", "logits"), kernels, strict=True):
        trained = penalized.model.get_layer(name).quantized_kernel().numpy()
        # every weight where it was trained (the trained pass computes it to float rounding)
        np.testing.assert_allclose(frozen, trained, atol=1e-6)
    # Mostly the same classes (the biases are rounded to the weights' grid when frozen, so
    # not the same logits).
    same = np.mean(np.argmax(model.predict(x_test, verbose=0), axis=1) ==
                   np.argmax(penalized.model.predict(x_test, verbose=0), axis=1))
    assert same >= 0.85


@pytest.mark.slow
def test_a_frozen_learned_cnn_is_bit_exact_in_rtl(pulses, tmp_path):
    _, _, x_test = pulses
    model, config = _trained(pulses, 1e-4, 8, NARROW_CNN).freeze()
    rtl = run_open_flow(model, config, x_test, 16.0, tmp_path / "rtl", "xc7a35tcpg236-1", 200.0)
    assert rtl.bit_exact and rtl.rtl_exact_fraction == 1.0 and rtl.lut > 0


def test_screening_promotes_what_no_earlier_design_beats_by_the_margin():
    earlier = [(0.95, 1000.0)] * SCREEN_STARTUP
    assert promising((0.95, 900.0), earlier)  # cheaper
    assert promising((0.949, 1200.0), earlier)  # within the margin
    assert not promising((0.94, 1200.0), earlier)  # less accurate and dearer
    assert promising((0.5, 5000.0), earlier[:-1])  # too few screened yet
