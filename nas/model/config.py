"""A student's configuration (widths and precisions of its layers) and the hardware view of its
weights. Nothing here imports TensorFlow: estimators and reports use it without training."""

from dataclasses import asdict, dataclass

import numpy as np

from nas.errors import InvalidValue
from nas.spaces.space import StudentRanges

#: Extra bits and integer bits of a bias over its layer's weights: biases are few and cheap
#: (one adder input each), and a wider range keeps them from saturating.
BIAS_EXTRA_BITS = 4
BIAS_EXTRA_INT_BITS = 3
#: hls4ml's dense strategies the vendor flow searches (io_parallel).
STRATEGIES = ("latency", "resource")


@dataclass(frozen=True)
class InputStage:
    """What the firmware does with its inputs before the student's input quantizer: each
    arrives in its port format ``(k, i, f)`` and, when ``offsets`` are given, is conditioned to
    ``(x - offset) * 2**shift`` (``nas.model.port``)."""

    port: tuple[tuple[int, int, int], ...]
    offsets: tuple[float, ...] = ()
    shifts: tuple[int, ...] = ()

    @property
    def conditioned(self) -> bool:
        return bool(self.offsets)

    @property
    def signed(self) -> bool:
        """Whether the values reaching the input quantizer can be negative."""
        return self.conditioned or any(k for k, _, _ in self.port)

    def conditioned_formats(self) -> list[tuple[int, int, int]]:
        """(k, i, f) of each conditioned input: the port shifted (one more integer bit for
        the subtraction of the offset)."""
        if not self.conditioned:
            return list(self.port)
        return [(1, i + 1 + s, f - s) for (_, i, f), s in zip(self.port, self.shifts, strict=True)]

    @classmethod
    def from_dict(cls, values: dict) -> "InputStage":
        return cls(tuple(tuple(p) for p in values["port"]), tuple(values.get("offsets", ())),
                   tuple(values.get("shifts", ())))


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
    #: The port and conditioning (None: integer inputs of the space's divisor, found from the
    #: data, as studies made before input stages were recorded).
    inputs: InputStage | None = None
    #: How hls4ml builds the dense layers (the vendor flow searches them; the network, the
    #: trace and the RTL do not depend on them): the reuse factor asked for and the strategy.
    reuse_factor: int = 1
    strategy: str = "latency"

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise ValueError(f"student strategy '{self.strategy}' is unknown: use one of "
                             f"{', '.join(STRATEGIES)}")
        if self.reuse_factor < 1:
            raise ValueError(f"student reuse factor {self.reuse_factor} is below 1")
        n_hidden = len(self.widths)
        lengths = {"weight_bits": len(self.weight_bits), "weight_int_bits": len(self.weight_int_bits)}
        if any(n != n_hidden + 1 for n in lengths.values()) or \
                len(self.act_bits) != n_hidden or len(self.act_int_bits) != n_hidden:
            raise ValueError(
                f"student config has {n_hidden} hidden layers: give {n_hidden + 1} weight "
                f"precisions (hidden layers and logits) and {n_hidden} activation precisions"
            )

    @classmethod
    def from_dict(cls, values: dict) -> "StudentConfig":
        fields = {key: tuple(value) if isinstance(value, list) else value
                  for key, value in values.items() if key != "inputs"}
        inputs = values.get("inputs")
        return cls(**fields, inputs=None if inputs is None else InputStage.from_dict(inputs))

    def to_dict(self) -> dict:
        return asdict(self)

    def validate(self, ranges: StudentRanges) -> None:
        """``InvalidValue`` for the first value outside the space's ranges."""
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
                raise InvalidValue(f"student {name}", bad[0], f"use {low}..{high}")
        # Weights are signed (the sign takes a bit); activations and inputs are unsigned.
        signed = zip(self.weight_bits, self.weight_int_bits, strict=True)
        unsigned = zip(self.act_bits + (self.input_bits,),
                       self.act_int_bits + (self.input_int_bits,), strict=True)
        for bits, integer, limit in [(b, i, b - 1) for b, i in signed] + \
                                    [(b, i, b) for b, i in unsigned]:
            if integer > limit:
                raise InvalidValue("integer bits", integer, f"use at most {limit}",
                                   problem=f"do not fit in {bits} bits")

    def layer_shapes(self, n_inputs: int, n_classes: int) -> list[tuple[int, int]]:
        sizes = [n_inputs, *self.widths, n_classes]
        return list(zip(sizes[:-1], sizes[1:], strict=True))

    def layer_input_bits(self) -> list[int]:
        """Width of each dense layer's input values: the input quantizer, then each ReLU."""
        return [self.input_bits, *self.act_bits]

    def n_params(self, n_inputs: int, n_classes: int) -> int:
        return sum(n_in * n_out + n_out for n_in, n_out in self.layer_shapes(n_inputs, n_classes))


def layer_names(n_hidden: int) -> list[str]:
    """Names of the dense layers of a student with ``n_hidden`` hidden layers."""
    return [f"dense_{i + 1}" for i in range(n_hidden)] + ["logits"]


def dense_layer_names(config: StudentConfig) -> list[str]:
    return layer_names(len(config.widths))


def quantized_kernels(model, config: StudentConfig) -> list[np.ndarray]:
    """Each dense layer's kernel as the hardware uses it (after quantization), float values."""
    kernels = []
    for name in dense_layer_names(config):
        layer = model.get_layer(name)
        kernels.append(np.asarray(layer.kernel_quantizer_internal(layer.kernel)))
    return kernels


def weight_mantissas(kernel: np.ndarray, bits: int, integer: int) -> np.ndarray:
    """Integer mantissas of a quantized kernel: value * 2**(fractional bits)."""
    return np.rint(kernel * 2.0 ** (bits - 1 - integer)).astype(np.int64)
