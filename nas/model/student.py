"""The student: a QKeras MLP or CNN described by a ``StudentConfig``, and how it is trained.

Layers: [conditioning] -> input quantizer -> [CNN: reshape -> [QConv1D/QConv2D -> quantized
ReLU -> [max pooling]] x 1..4 -> flatten] -> [QDense -> quantized ReLU] x 0..3 (MLP: 1..3)
-> QDense logits.
No softmax: the firmware takes the argmax of the logits. Inputs (as the port receives them,
``nas.model.port``) are conditioned when the input stage says so, then quantized to
``input_bits`` bits (signed when conditioned) of which ``input_int_bits`` are integer bits:
fewer integer bits saturate large inputs early, fewer fractional bits drop low bits.
"""

from dataclasses import dataclass

import numpy as np

from nas import stop
from nas._tf import keras, tf
from nas.model.config import (
    BIAS_EXTRA_BITS,
    BIAS_EXTRA_INT_BITS,
    ConvLayer,
    InputStage,
    StudentConfig,
    flattens_after,
    pool_after,
    weighted_layer_names,
)
from nas.spaces.space import TrainingRecipe


def _quantizers():
    from qkeras import quantized_bits, quantized_relu
    return quantized_bits, quantized_relu


#: The conditioning layer keeps a batch normalization's four weights (what hls4ml converts:
#: ``data * scale + bias`` in fixed point) with its variance plus epsilon exactly one:
#: mean = offset, gamma = 2**shift.
CONDITION_EPSILON = 2.0**-10


class ExactCondition(keras.layers.BatchNormalization):
    """A batch normalization that computes ``(x - mean) * gamma`` exactly, as the firmware does.

    Keras's own computes ``x * inv + (beta - mean * inv)`` with ``inv = rsqrt(variance +
    epsilon) * gamma``, and TensorFlow's vectorized ``rsqrt`` on CPU is approximate
    (``rsqrt(1.0)`` gives 0.9999999 in some lanes): inputs that land on a rounding boundary of
    the input quantizer then round the other way than in the firmware (seen on float CSV data:
    2-5 % of events with other logits). Here the input and the offset are on the port's grid
    and the scale is a power of two, so float32 holds every step exactly."""

    def call(self, inputs, training=None):
        return (inputs - self.moving_mean) * self.gamma


def input_layers(inputs, stage: InputStage | None, bits: int, integer: int):
    """The conditioning (when ``stage`` has one) and the input quantizer on ``inputs``."""
    from qkeras import QActivation, quantized_bits

    x = inputs
    if stage is not None and stage.conditioned:
        condition = ExactCondition(epsilon=CONDITION_EPSILON, name="condition", trainable=False)
        x = condition(x)
        condition.set_weights([2.0 ** np.array(stage.shifts, dtype=np.float32),
                               np.zeros(len(stage.shifts), dtype=np.float32),
                               np.array(stage.offsets, dtype=np.float32),
                               np.full(len(stage.shifts), 1.0 - CONDITION_EPSILON, np.float32)])
    signed = stage is not None and stage.signed
    return QActivation(quantized_bits(bits, integer, keep_negative=signed, alpha=1),
                       name="input_quant")(x)


def _weighted_layer(config: StudentConfig, index: int, n_classes: int, name: str):
    """The ``index``-th weighted layer: a convolution, a hidden dense layer or the logits."""
    from qkeras import QConv1D, QConv2D, QDense

    quantized_bits, _ = _quantizers()
    bits, integer = config.weight_bits[index], config.weight_int_bits[index]
    quantizers = {"kernel_quantizer": quantized_bits(bits, integer, alpha=1),
                  "bias_quantizer": quantized_bits(bits + BIAS_EXTRA_BITS,
                                                   integer + BIAS_EXTRA_INT_BITS, alpha=1)}
    conv = config.conv_at(index)
    if conv is not None:
        layer = QConv1D if len(config.input_shape) == 2 else QConv2D
        return layer(conv.filters, conv.kernel, strides=conv.stride, name=name, **quantizers)
    dense = index - len(config.convs)
    return QDense(config.widths[dense] if dense < len(config.widths) else n_classes, name=name,
                  **quantizers)


def build_student(config: StudentConfig, n_inputs: int, n_classes: int) -> "keras.Model":
    """The QKeras model of ``config`` (untrained). Quantizers use ``alpha=1`` (no learned
    scale), so every value is a plain fixed-point number that firmware can reproduce."""
    from qkeras import QActivation

    _, quantized_relu = _quantizers()
    inputs = keras.Input((n_inputs,), name="adc")
    x = input_layers(inputs, config.inputs, config.input_bits, config.input_int_bits)
    if config.convs:
        x = keras.layers.Reshape(config.input_shape, name="shape")(x)
    for i, name in enumerate(weighted_layer_names(config)):
        x = _weighted_layer(config, i, n_classes, name)(x)
        if i < len(config.act_bits):
            x = QActivation(quantized_relu(config.act_bits[i], config.act_int_bits[i]),
                            name=f"relu_{i + 1}")(x)
        x = pooled_and_flattened(x, config.convs, config.input_shape, i)
    return keras.Model(inputs, x, name="student")


def pooled_and_flattened(x, convs: tuple[ConvLayer, ...], input_shape: tuple[int, ...],
                         index: int):
    """Weighted layer ``index``'s activations max-pooled (a convolution with a pool above 1),
    flattened after the last convolution (``pool_after``, ``flattens_after``): the layout of
    the student, of the learned model it is frozen from, and of the open flow's trace."""
    if pool_after(convs, index) > 1:
        pooling = (keras.layers.MaxPooling1D if len(input_shape) == 2
                   else keras.layers.MaxPooling2D)
        x = pooling(pool_after(convs, index), name=f"pool_{index + 1}")(x)
    if flattens_after(convs, index):
        x = keras.layers.Flatten(name="flatten")(x)
    return x


@dataclass(frozen=True)
class Distillation:
    """Hinton-style distillation: ``alpha`` weighs the hard labels, ``temperature`` softens
    both networks' outputs."""

    alpha: float
    temperature: float

    def loss(self, n_classes: int):
        """``y_true`` holds the one-hot label then the teacher's logits; the loss is
        ``alpha * CE(label) + (1 - alpha) * T^2 * KL(teacher_T || student_T)``."""
        alpha, temperature = self.alpha, self.temperature

        def loss(y_true, student_logits):
            labels, teacher_logits = y_true[:, :n_classes], y_true[:, n_classes:]
            hard = keras.losses.categorical_crossentropy(labels, student_logits, from_logits=True)
            soft_teacher = tf.nn.softmax(teacher_logits / temperature)
            log_student = tf.nn.log_softmax(student_logits / temperature)
            log_teacher = tf.math.log(soft_teacher + 1e-12)
            kl = tf.reduce_sum(soft_teacher * (log_teacher - log_student), axis=-1)
            return alpha * hard + (1.0 - alpha) * temperature**2 * kl

        return loss


def distillation_targets(labels: np.ndarray, teacher_logits: np.ndarray, n_classes: int):
    return np.concatenate([np.eye(n_classes, dtype=np.float32)[labels],
                           teacher_logits.astype(np.float32)], axis=1)


class StopWhenAsked(keras.callbacks.Callback):
    """Ends training at the end of the batch during which a stop was asked for, even if
    the stop's exception was swallowed on the way (``nas.stop``)."""

    def __init__(self):
        super().__init__()
        self._supports_tf_logs = True  # it reads no logs: Keras need not fetch them per batch

    def on_train_batch_end(self, batch, logs=None) -> None:
        stop.raise_if_requested()


def _pruning_schedule(sparsity: float, steps_per_epoch: int, epochs: int):
    """Polynomial ramp from 0 to the target between 20% and 70% of training, so that the
    last 30% fine-tunes the surviving weights."""
    import tensorflow_model_optimization as tfmot

    total = steps_per_epoch * epochs
    return tfmot.sparsity.keras.PolynomialDecay(
        initial_sparsity=0.0, final_sparsity=sparsity, begin_step=int(0.2 * total),
        end_step=max(int(0.7 * total), int(0.2 * total) + 1),
        frequency=max(1, steps_per_epoch // 4))


def train_student(config: StudentConfig, x_train: np.ndarray, y_train: np.ndarray,
                  teacher_logits: np.ndarray, n_classes: int, recipe: TrainingRecipe,
                  epochs: int | None = None, distillation: Distillation | None = None
                  ) -> tuple["keras.Model", list[float]]:
    """Train by distillation (the recipe's unless given) with magnitude pruning; return the
    stripped model and the loss per epoch. Raises FloatingPointError when the loss becomes NaN."""
    distillation = distillation or Distillation(recipe.alpha, recipe.temperature)
    import tensorflow_model_optimization as tfmot

    epochs = epochs or recipe.epochs(recipe.student_epochs, len(x_train))
    model = build_student(config, x_train.shape[1], n_classes)
    steps_per_epoch = int(np.ceil(len(x_train) / recipe.batch_size))
    callbacks = [keras.callbacks.TerminateOnNaN(), StopWhenAsked()]
    trained = model
    if config.sparsity > 0:
        trained = tfmot.sparsity.keras.prune_low_magnitude(
            model, pruning_schedule=_pruning_schedule(config.sparsity, steps_per_epoch, epochs))
        callbacks.append(tfmot.sparsity.keras.UpdatePruningStep())
    trained.compile(optimizer=keras.optimizers.Adam(recipe.learning_rate),
                    loss=distillation.loss(n_classes))
    history = trained.fit(x_train, distillation_targets(y_train, teacher_logits, n_classes),
                          epochs=epochs, batch_size=recipe.batch_size, verbose=0,
                          callbacks=callbacks)
    losses = [float(v) for v in history.history["loss"]]
    if not np.all(np.isfinite(losses)):
        raise FloatingPointError("student training diverged (NaN loss)")
    if config.sparsity > 0:
        model = tfmot.sparsity.keras.strip_pruning(trained)
    return model, losses


def accuracy(model: "keras.Model", x: np.ndarray, y: np.ndarray) -> float:
    """Fraction of ``x`` whose largest logit is the label (the model called directly, in
    batches like ``predict``'s: ``predict`` first builds a function for every new model)."""
    logits = np.concatenate([model(x[start:start + 4096], training=False).numpy()
                             for start in range(0, len(x), 4096)])
    return float(np.mean(np.argmax(logits, axis=1) == y))
