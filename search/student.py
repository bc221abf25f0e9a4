"""The student: a QKeras MLP described by a ``StudentConfig``, and how it is trained.

Layers: input quantizer -> [QDense -> quantized ReLU] x 1..3 -> QDense logits. No softmax:
the firmware takes the argmax of the logits. Inputs (ADC counts over the space's divisor) are
quantized to ``input_bits`` unsigned bits of which ``input_int_bits`` are integer bits: fewer
integer bits saturate large pulses early, fewer fractional bits drop the ADC's low bits.
"""

from dataclasses import asdict, dataclass

import numpy as np

from nas._tf import keras, tf
from nas.errors import UserError
from nas.estimators.design import DesignSummary, LayerSummary
from nas.spaces.space import StudentRanges, TrainingRecipe

#: Extra bits and integer bits of a bias over its layer's weights: biases are few and cheap
#: (one adder input each), and a wider range keeps them from saturating.
BIAS_EXTRA_BITS = 4
BIAS_EXTRA_INT_BITS = 3


@dataclass(frozen=True)
class StudentConfig:
    """One student. Per dense layer (the hidden ones, then the logits layer): weight bits
    (sign included) and integer bits; per hidden layer: width, activation bits and integer bits."""

    widths: tuple[int, ...]
    weight_bits: tuple[int, ...]
    weight_int_bits: tuple[int, ...]
    act_bits: tuple[int, ...]
    act_int_bits: tuple[int, ...]
    input_bits: int
    input_int_bits: int
    sparsity: float

    def __post_init__(self):
        n_hidden = len(self.widths)
        lengths = {"weight_bits": len(self.weight_bits), "weight_int_bits": len(self.weight_int_bits)}
        if any(n != n_hidden + 1 for n in lengths.values()) or \
                len(self.act_bits) != n_hidden or len(self.act_int_bits) != n_hidden:
            raise UserError(
                f"student config has {n_hidden} hidden layers: give {n_hidden + 1} weight "
                f"precisions (hidden layers and logits) and {n_hidden} activation precisions"
            )

    @classmethod
    def from_dict(cls, values: dict) -> "StudentConfig":
        fields = {key: tuple(value) if isinstance(value, list) else value
                  for key, value in values.items()}
        return cls(**fields)

    def to_dict(self) -> dict:
        return asdict(self)

    def validate(self, ranges: StudentRanges) -> None:
        """A UserError for the first value outside the space's ranges."""
        checks = [("hidden layers", [len(self.widths)], (1, ranges.max_hidden_layers)),
                  ("width", self.widths, ranges.width),
                  ("weight_bits", self.weight_bits, ranges.weight_bits),
                  ("weight_int_bits", self.weight_int_bits, ranges.weight_int_bits),
                  ("act_bits", self.act_bits, ranges.act_bits),
                  ("act_int_bits", self.act_int_bits, ranges.act_int_bits),
                  ("input_bits", [self.input_bits], ranges.input_bits),
                  ("input_int_bits", [self.input_int_bits], ranges.input_int_bits),
                  ("sparsity", [self.sparsity], ranges.sparsity)]
        for name, values, (low, high) in checks:
            bad = [v for v in values if not low <= v <= high]
            if bad:
                raise UserError(f"student {name} {bad[0]} is out of range: use {low}..{high}")
        # Weights are signed (the sign takes a bit); activations and inputs are unsigned.
        signed = zip(self.weight_bits, self.weight_int_bits, strict=True)
        unsigned = zip(self.act_bits + (self.input_bits,),
                       self.act_int_bits + (self.input_int_bits,), strict=True)
        for bits, integer, limit in [(b, i, b - 1) for b, i in signed] + \
                                    [(b, i, b) for b, i in unsigned]:
            if integer > limit:
                raise UserError(f"{integer} integer bits do not fit in {bits} bits: "
                                f"use at most {limit}")

    def layer_shapes(self, n_inputs: int, n_classes: int) -> list[tuple[int, int]]:
        sizes = [n_inputs, *self.widths, n_classes]
        return list(zip(sizes[:-1], sizes[1:], strict=True))

    def layer_input_bits(self) -> list[int]:
        """Width of each dense layer's input values: the input quantizer, then each ReLU."""
        return [self.input_bits, *self.act_bits]

    def n_params(self, n_inputs: int, n_classes: int) -> int:
        return sum(n_in * n_out + n_out for n_in, n_out in self.layer_shapes(n_inputs, n_classes))

    def expected_design(self, n_inputs: int, n_classes: int) -> DesignSummary:
        """The estimator's view before training (target sparsity, mean CSD digits)."""
        out_bits = [*self.act_bits, 0]
        return DesignSummary(tuple(
            LayerSummary.expected(n_in, n_out, in_bits, w_bits, self.sparsity, o_bits)
            for (n_in, n_out), in_bits, w_bits, o_bits in zip(
                self.layer_shapes(n_inputs, n_classes), self.layer_input_bits(),
                self.weight_bits, out_bits, strict=True)))


def _quantizers():
    from qkeras import quantized_bits, quantized_relu
    return quantized_bits, quantized_relu


def dense_layer_names(config: StudentConfig) -> list[str]:
    return [f"dense_{i + 1}" for i in range(len(config.widths))] + ["logits"]


def build_student(config: StudentConfig, n_inputs: int, n_classes: int) -> "keras.Model":
    """The QKeras model of ``config`` (untrained). Quantizers use ``alpha=1`` (no learned
    scale), so every value is a plain fixed-point number that firmware can reproduce."""
    from qkeras import QActivation, QDense

    quantized_bits, quantized_relu = _quantizers()
    inputs = keras.Input((n_inputs,), name="adc")
    x = QActivation(quantized_bits(config.input_bits, config.input_int_bits,
                                   keep_negative=False, alpha=1),
                    name="input_quant")(inputs)
    names = dense_layer_names(config)
    for i, name in enumerate(names):
        bits, integer = config.weight_bits[i], config.weight_int_bits[i]
        width = config.widths[i] if i < len(config.widths) else n_classes
        x = QDense(width, name=name,
                   kernel_quantizer=quantized_bits(bits, integer, alpha=1),
                   bias_quantizer=quantized_bits(bits + BIAS_EXTRA_BITS,
                                                 integer + BIAS_EXTRA_INT_BITS, alpha=1))(x)
        if i < len(config.widths):
            x = QActivation(quantized_relu(config.act_bits[i], config.act_int_bits[i]),
                            name=f"relu_{i + 1}")(x)
    return keras.Model(inputs, x, name="student")


def quantized_kernels(model: "keras.Model", config: StudentConfig) -> list[np.ndarray]:
    """Each dense layer's kernel as the hardware uses it (after quantization), float values."""
    kernels = []
    for name in dense_layer_names(config):
        layer = model.get_layer(name)
        kernels.append(np.asarray(layer.kernel_quantizer_internal(layer.kernel)))
    return kernels


def weight_mantissas(kernel: np.ndarray, bits: int, integer: int) -> np.ndarray:
    """Integer mantissas of a quantized kernel: value * 2**(fractional bits)."""
    return np.rint(kernel * 2.0 ** (bits - 1 - integer)).astype(np.int64)


def trained_design(model: "keras.Model", config: StudentConfig) -> DesignSummary:
    """The estimator's view of a trained student: actual nonzero weights and CSD digits."""
    out_bits = [*config.act_bits, 0]
    layers = []
    for kernel, in_bits, w_bits, w_int, o_bits in zip(
            quantized_kernels(model, config), config.layer_input_bits(), config.weight_bits,
            config.weight_int_bits, out_bits, strict=True):
        layers.append(LayerSummary.from_mantissas(weight_mantissas(kernel, w_bits, w_int),
                                                  in_bits, w_bits, o_bits))
    return DesignSummary(tuple(layers))


def distillation_loss(n_classes: int, alpha: float, temperature: float):
    """Hinton-style distillation. ``y_true`` holds the one-hot label then the teacher's
    logits; the loss is ``alpha * CE(label) + (1 - alpha) * T^2 * KL(teacher_T || student_T)``."""

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
                  epochs: int | None = None) -> tuple["keras.Model", list[float]]:
    """Train by distillation with magnitude pruning; return the stripped model and the loss
    per epoch. Raises FloatingPointError when the loss becomes NaN."""
    import tensorflow_model_optimization as tfmot

    epochs = epochs or recipe.student_epochs
    model = build_student(config, x_train.shape[1], n_classes)
    steps_per_epoch = int(np.ceil(len(x_train) / recipe.batch_size))
    callbacks = [keras.callbacks.TerminateOnNaN()]
    trained = model
    if config.sparsity > 0:
        trained = tfmot.sparsity.keras.prune_low_magnitude(
            model, pruning_schedule=_pruning_schedule(config.sparsity, steps_per_epoch, epochs))
        callbacks.append(tfmot.sparsity.keras.UpdatePruningStep())
    trained.compile(optimizer=keras.optimizers.Adam(recipe.learning_rate),
                    loss=distillation_loss(n_classes, recipe.alpha, recipe.temperature))
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
    logits = model.predict(x, batch_size=4096, verbose=0)
    return float(np.mean(np.argmax(logits, axis=1) == y))
