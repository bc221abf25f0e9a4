"""Learned bit widths: a student whose weights each have their own number of fractional bits,
trained by gradient together with the weights, under a resource penalty.

The method is high-granularity quantization (HGQ, Sun et al. 2024), written here for tf_keras
because the ``hgq`` package wants Keras 2 as ``keras`` (our environment has Keras 3 there, for
TensorFlow 2.21) and ``hgq2`` replaces QKeras:

* every weight ``w`` (of a dense layer or a convolution) has a trainable fractional bit
  count ``f``; the forward pass rounds ``w`` to ``round(f)`` fractional bits (half to even).
  The weight gets the straight-through gradient; ``f`` gets ``-ln 2 * (w_q - w)``, the
  surrogate HGQ derives for the rounding error;
* each hidden layer's ReLU output has one trainable fractional bit count and one trainable
  integer bit count: larger values saturate (as QKeras' ``quantized_relu`` does), and the
  integer bits get the gradient of that clipping (as PACT's learned clipping level does);
* the penalty is ``beta * EBOPs``: for each multiplication, the bits of the weight (those
  between its highest set bit and ``2**-f``, none for a zero) times the bits of the input it
  multiplies (a convolution's weight once per window position, as the firmware has a
  multiplier for each). A weight rounded to zero is pruned: it costs no adder in the open flow.

``freeze`` turns a trained model into the QKeras student of ``StudentConfig`` whose quantizers
hold every learned value exactly (per layer, the widest weight and the learned activation
format), so that everything downstream (trace, RTL, hls4ml export, estimators) sees an
ordinary student.
"""

import math
from dataclasses import dataclass

import numpy as np

from nas import stop
from nas._tf import keras, tf
from nas.model.config import (
    BIAS_EXTRA_INT_BITS,
    ConvLayer,
    InputStage,
    StudentConfig,
    layer_names,
    weighted_layer_names,
)
from nas.model.student import (
    Distillation,
    build_student,
    distillation_targets,
    input_layers,
    pooled_and_flattened,
)

LN2 = math.log(2.0)
#: Range of the learned fractional bits: weights may be coarser than 1 (negative f), but at
#: most 12 fractional bits keep every accumulator far below float32's 24-bit mantissa.
WEIGHT_FRAC_RANGE = (-2.0, 12.0)
ACT_FRAC_RANGE = (0.0, 10.0)
ACT_INT_RANGE = (0.0, 10.0)
INITIAL_WEIGHT_FRAC = 6.0
INITIAL_ACT_FRAC = 6.0
INITIAL_ACT_INT = 4.0


def _round_ste(x):
    """``round(x)`` forward, identity gradient."""
    return x + tf.stop_gradient(tf.round(x) - x)


def quantize(x, frac):
    """``x`` rounded half to even to ``round(frac)`` fractional bits, with HGQ's gradients:
    straight-through for ``x``, ``-ln 2 * (x_q - x)`` for ``frac``."""
    scale = tf.pow(2.0, tf.stop_gradient(tf.round(frac)))
    error = tf.stop_gradient(tf.round(x * scale) / scale - x)
    surrogate = error * frac * LN2
    return x + tf.stop_gradient(error + surrogate) - surrogate


def weight_bits(quantized, frac):
    """Bits of each quantized weight (sign not counted), differentiable in ``frac``: from its
    highest set bit down to ``2**-round(frac)``; zero for a weight rounded to zero."""
    magnitude = tf.stop_gradient(tf.abs(quantized))
    nonzero = magnitude > 0
    top = tf.floor(tf.math.log(tf.where(nonzero, magnitude, 1.0)) / LN2) + 1.0
    return tf.where(nonzero, tf.nn.relu(top + _round_ste(frac)), 0.0)


class LearnedReLU(keras.layers.Layer):
    """ReLU quantized to learned numbers of integer and fractional bits (unsigned); values
    above the largest it holds saturate."""

    def build(self, input_shape):
        self.frac = self.add_weight(name="frac", shape=(), trainable=True,
                                    initializer=keras.initializers.Constant(INITIAL_ACT_FRAC))
        self.integer = self.add_weight(name="integer", shape=(), trainable=True,
                                       initializer=keras.initializers.Constant(INITIAL_ACT_INT))

    def bits(self):
        """Total bits of the output, differentiable in both bit counts."""
        return _round_ste(self.integer) + _round_ste(self.frac)

    def call(self, x):
        self.frac.assign(tf.clip_by_value(self.frac, *ACT_FRAC_RANGE))
        self.integer.assign(tf.clip_by_value(self.integer, *ACT_INT_RANGE))
        top = tf.pow(2.0, _round_ste(self.integer)) - tf.pow(2.0, -tf.round(self.frac))
        return quantize(tf.minimum(tf.nn.relu(x), top), self.frac)


class _LearnedWeights(keras.layers.Layer):
    """A weighted layer whose weights each have a learned number of fractional bits; adds
    ``beta * EBOPs`` to the model's losses: each weight's bits times the bits of the input it
    multiplies (``input_bits``, a callable), as many times as the layer applies it
    (``positions``: 1 for a dense layer, every window position of a convolution)."""

    def __init__(self, input_bits, beta, **kwargs):
        super().__init__(**kwargs)
        self.input_bits, self.beta, self.positions = input_bits, beta, 1

    def _add_weights(self, shape: tuple[int, ...]) -> None:
        self.kernel = self.add_weight(name="kernel", shape=shape,
                                      initializer=keras.initializers.GlorotUniform())
        self.bias = self.add_weight(name="bias", shape=(shape[-1],), initializer="zeros")
        self.frac = self.add_weight(name="frac", shape=shape, trainable=True,
                                    initializer=keras.initializers.Constant(INITIAL_WEIGHT_FRAC))

    def quantized_kernel(self):
        self.frac.assign(tf.clip_by_value(self.frac, *WEIGHT_FRAC_RANGE))
        return quantize(self.kernel, self.frac)

    def ebops(self, kernel):
        return tf.reduce_sum(weight_bits(kernel, self.frac)) * self.input_bits() * self.positions

    def call(self, x):
        kernel = self.quantized_kernel()
        self.add_loss(self.beta * self.ebops(kernel))
        return self._apply(x, kernel) + self.bias


class LearnedDense(_LearnedWeights):
    """Dense layer of learned weight bits (``_LearnedWeights``)."""

    def __init__(self, units: int, input_bits, beta, **kwargs):
        super().__init__(input_bits, beta, **kwargs)
        self.units = units

    def build(self, input_shape):
        self._add_weights((int(input_shape[-1]), self.units))

    def _apply(self, x, kernel):
        return tf.matmul(x, kernel)


class LearnedConv(_LearnedWeights):
    """Convolution of learned weight bits (``_LearnedWeights``): ``conv``'s filters, kernel
    and stride over a waveform (samples, channels) or an image (height, width, channels), no
    padding, as QKeras' ``QConv1D``/``QConv2D`` of the frozen student compute it."""

    def __init__(self, conv: ConvLayer, input_bits, beta, **kwargs):
        super().__init__(input_bits, beta, **kwargs)
        self.conv = conv

    def build(self, input_shape):
        spatial = tuple(int(n) for n in input_shape[1:-1])
        self._add_weights((*(self.conv.kernel,) * len(spatial), int(input_shape[-1]),
                           self.conv.filters))
        self.positions = math.prod(self.conv.conv_shape((*spatial, 1))[:-1])

    def _apply(self, x, kernel):
        if len(kernel.shape) == 3:
            return tf.nn.conv1d(x, kernel, stride=self.conv.stride, padding="VALID")
        return tf.nn.conv2d(x, kernel, strides=self.conv.stride, padding="VALID")


@dataclass(frozen=True)
class LearnedArchitecture:
    """What the search chooses for a learned-precision student: hidden widths and the input
    quantizer (bits, integer bits); the bit widths of weights and activations are learned."""

    widths: tuple[int, ...]
    input_bits: int
    input_int_bits: int
    inputs: InputStage | None = None
    #: A CNN student's convolutions, before the dense layers, over inputs of ``input_shape``.
    convs: tuple[ConvLayer, ...] = ()
    input_shape: tuple[int, ...] = ()


def _weighted_layer(arch: LearnedArchitecture, index: int, n_classes: int, input_bits, beta,
                    name: str) -> _LearnedWeights:
    """The ``index``-th weighted layer: a convolution, a hidden dense layer or the logits."""
    if index < len(arch.convs):
        return LearnedConv(arch.convs[index], input_bits, beta, name=name)
    dense = index - len(arch.convs)
    units = arch.widths[dense] if dense < len(arch.widths) else n_classes
    return LearnedDense(units, input_bits, beta, name=name)


def build_learned(arch: LearnedArchitecture, n_inputs: int, n_classes: int,
                  beta: tf.Variable) -> "keras.Model":
    """The trainable model, laid out as ``build_student`` lays out the frozen one: the input
    stage and quantizer, [reshape, LearnedConv + LearnedReLU (+ max pooling) per convolution,
    flatten], LearnedDense (+ LearnedReLU) layers. ``beta`` (a variable, so that a schedule
    can move it) scales the EBOPs penalty."""
    inputs = keras.Input((n_inputs,), name="adc")
    x = input_layers(inputs, arch.inputs, arch.input_bits, arch.input_int_bits)
    if arch.convs:
        x = keras.layers.Reshape(arch.input_shape, name="shape")(x)
    input_bits = lambda: tf.constant(float(arch.input_bits))  # noqa: E731
    names = layer_names(len(arch.widths), len(arch.convs))
    for i, name in enumerate(names):
        x = _weighted_layer(arch, i, n_classes, input_bits, beta, name)(x)
        if i == len(names) - 1:
            break
        relu = LearnedReLU(name=f"relu_{i + 1}")
        x = relu(x)
        input_bits = relu.bits
        x = pooled_and_flattened(x, arch.convs, arch.input_shape, i)
    return keras.Model(inputs, x, name="learned_student")


def _weighted_layers(model: "keras.Model") -> list[_LearnedWeights]:
    return [layer for layer in model.layers if isinstance(layer, _LearnedWeights)]


def ebops(model: "keras.Model") -> float:
    """The model's EBOPs at its current bit widths."""
    return float(sum(layer.ebops(layer.quantized_kernel()) for layer in _weighted_layers(model)))


def _round_half_even(values: np.ndarray, frac: np.ndarray) -> np.ndarray:
    scale = np.power(2.0, frac)
    return np.round(values * scale) / scale  # numpy rounds half to even, as tf.round


def _signed_format(values: np.ndarray, frac: int) -> tuple[int, int]:
    """(bits, integer bits) of a QKeras ``quantized_bits`` that holds ``values`` (multiples of
    ``2**-frac``) exactly: range ``[-2**i, 2**i - 2**-frac]``."""
    integer = 0
    while values.max(initial=0.0) > 2.0**integer - 2.0**-frac or values.min(initial=0.0) < -2.0**integer:
        integer += 1
    return 1 + integer + frac, integer


def frozen_values(model: "keras.Model", arch: LearnedArchitecture
                  ) -> tuple[StudentConfig, list[np.ndarray]]:
    """The fixed-point student the learned model stands for: its configuration and weights
    (kernel and bias of each layer, in ``build_student`` order). Per layer, the weights keep
    their learned grid (the layer's format is the widest), the bias is rounded to the layer's
    finest weight grid (and clipped to the range ``build_student`` gives it), and each ReLU
    keeps its learned format."""
    layers = _weighted_layers(model)
    relus = [layer for layer in model.layers if isinstance(layer, LearnedReLU)]
    quant = model.get_layer("input_quant").activation.get_config()
    weights, w_bits, w_int = [], [], []
    for layer in layers:
        frac = np.clip(np.round(layer.frac.numpy().astype(np.float64)), *WEIGHT_FRAC_RANGE)
        kernel = _round_half_even(layer.kernel.numpy().astype(np.float64), frac)
        layer_frac = int(max(frac[kernel != 0].max(initial=0.0), 0.0))
        bits, integer = _signed_format(kernel, layer_frac)
        bias_range = 2.0 ** (integer + BIAS_EXTRA_INT_BITS)
        bias = np.clip(_round_half_even(layer.bias.numpy().astype(np.float64), np.float64(layer_frac)),
                       -bias_range, bias_range - 2.0**-layer_frac)
        weights += [kernel.astype(np.float32), bias.astype(np.float32)]
        w_bits.append(bits)
        w_int.append(integer)
    a_bits, a_int = [], []
    for relu in relus:
        frac = int(np.clip(np.round(relu.frac.numpy()), *ACT_FRAC_RANGE))
        integer = int(np.clip(np.round(relu.integer.numpy()), *ACT_INT_RANGE))
        a_bits.append(max(1, integer + frac))
        a_int.append(integer)
    n_weights = sum(w.size for w in weights[::2])
    zeros = sum(int(np.sum(w == 0)) for w in weights[::2])
    config = StudentConfig(arch.widths, tuple(w_bits), tuple(w_int), tuple(a_bits), tuple(a_int),
                           quant["bits"], quant["integer"], round(zeros / n_weights, 4),
                           arch.inputs, convs=arch.convs,
                           input_shape=arch.input_shape if arch.convs else ())
    return config, weights


#: Fraction of training over which the penalty grows to its full strength.
RAMP_END = 0.6


def beta_at(beta: float, progress: float) -> float:
    """The penalty's strength at ``progress`` (0..1) of training: ``beta / 1000`` at the start,
    growing geometrically to ``beta`` at ``RAMP_END``, then held, so that the last epochs
    fine-tune the weights at the bit widths the penalty settled on."""
    return beta * 1000.0 ** (min(1.0, progress / RAMP_END) - 1.0)


def _epoch_function(model: "keras.Model", loss, optimizer, x, targets, batch_size: int):
    """One epoch (shuffled batches) as a single TensorFlow graph: a tiny model trains about
    four times faster than with ``Model.fit``, whose per-batch Python overhead dominates.
    Written without autograph, which would spend seconds converting the Keras layers anew for
    every trial's model."""
    n_events = int(x.shape[0])
    steps = max(1, n_events // batch_size)

    def step(i, order, total):
        batch = order[i * batch_size:(i + 1) * batch_size]
        with tf.GradientTape() as tape:
            outputs = model(tf.gather(x, batch), training=True)
            value = tf.reduce_mean(loss(tf.gather(targets, batch), outputs)) + tf.add_n(model.losses)
        variables = model.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(value, variables), variables, strict=True))
        return i + 1, order, total + value

    @tf.function(autograph=False)
    def epoch():
        order = tf.random.shuffle(tf.range(n_events))
        _, _, total = tf.while_loop(lambda i, order, total: i < steps, step,
                                    (tf.constant(0), order, tf.constant(0.0)))
        return total / steps

    return epoch


class LearnedTrainer:
    """Trains a learned-precision student in stages: ``train(until)`` continues to epoch
    ``until`` of a schedule of ``epochs`` (the penalty follows ``beta_at``), ``freeze()`` gives
    the fixed-point QKeras student it stands for at that point. Teacher logits and labels
    make the distillation targets as for the searched students."""

    def __init__(self, arch: LearnedArchitecture, beta: float, x_train: np.ndarray,
                 y_train: np.ndarray, teacher_logits: np.ndarray, n_classes: int, recipe,
                 distillation: Distillation, epochs: int):
        self.beta, self.epochs, self.n_classes = beta, epochs, n_classes
        self.n_inputs = x_train.shape[1]
        self.arch = arch
        self.strength = tf.Variable(0.0, trainable=False, dtype=tf.float32)
        self.model = build_learned(arch, self.n_inputs, n_classes, self.strength)
        targets = distillation_targets(y_train, teacher_logits, n_classes)
        optimizer = keras.optimizers.Adam(recipe.learning_rate)
        optimizer.build(self.model.trainable_variables)  # or the graph is traced twice
        self._epoch = _epoch_function(self.model, distillation.loss(n_classes), optimizer,
                                      tf.constant(x_train), tf.constant(targets),
                                      recipe.batch_size)
        self.losses: list[float] = []

    def train(self, until: int) -> None:
        """Raises FloatingPointError when the loss becomes NaN."""
        for index in range(len(self.losses), min(until, self.epochs)):
            stop.raise_if_requested()  # an epoch is one graph call: the stop is seen between them
            self.strength.assign(beta_at(self.beta, index / self.epochs))
            self.losses.append(float(self._epoch()))
            if not np.isfinite(self.losses[-1]):
                raise FloatingPointError("student training diverged (NaN loss)")

    def freeze(self) -> tuple["keras.Model", StudentConfig]:
        config, weights = frozen_values(self.model, self.arch)
        frozen = build_student(config, self.n_inputs, self.n_classes)
        variables = [w for name in weighted_layer_names(config)
                     for w in frozen.get_layer(name).weights]
        for variable, value in zip(variables, weights, strict=True):
            variable.assign(value)
        return frozen, config
