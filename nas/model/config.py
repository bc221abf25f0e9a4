"""A student's configuration (widths and precisions of its layers) and the hardware view of its
weights. Nothing here imports TensorFlow: estimators and reports use it without training."""

import math
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
#: hls4ml's interfaces: every array a set of wires (io_parallel), or streams between layers
#: that convolutions read through line buffers (io_stream).
IO_TYPES = ("io_parallel", "io_stream")
#: io_parallel partitions every array into registers; Vivado/Vitis HLS partitions an array
#: completely only up to this many elements (``config_array_partition -maximum_size``).
PARALLEL_VALUES = 4096


@dataclass(frozen=True)
class ConvLayer:
    """One convolution of a CNN student: ``filters`` outputs per position, a ``kernel`` wide
    window (``kernel x kernel`` on images) moved by ``stride``, no padding ("valid"); with
    ``pool`` > 1, its activations are max-pooled over ``pool``-wide windows (``pool x pool``
    on images) that do not overlap, a partial window at the end dropped (Keras "valid")."""

    filters: int
    kernel: int
    stride: int
    pool: int = 1

    def conv_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """(positions per spatial axis..., filters) the convolution computes on an input of
        ``shape`` (spatial..., channels)."""
        spatial = tuple((n - self.kernel) // self.stride + 1 for n in shape[:-1])
        if min(spatial) < 1:
            raise ValueError(f"a kernel of {self.kernel} does not fit an input of shape {shape}")
        return (*spatial, self.filters)

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape the next layer reads: the convolution's, pooled."""
        *spatial, filters = self.conv_shape(shape)
        pooled = tuple(n // self.pool for n in spatial)
        if min(pooled) < 1:
            raise ValueError(f"a pool of {self.pool} does not fit the convolution's "
                             f"{'x'.join(map(str, spatial))} positions")
        return (*pooled, filters)

    def fan_in(self, shape: tuple[int, ...]) -> int:
        """Inputs each output reads: the window over every input channel."""
        return self.kernel ** (len(shape) - 1) * shape[-1]


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


def pool_after(convs: tuple[ConvLayer, ...], index: int) -> int:
    """The max pooling after weighted layer ``index``'s activation, ``convs`` being the
    network's convolutions (1: none; a dense layer never pools)."""
    return convs[index].pool if index < len(convs) else 1


def flattens_after(convs: tuple[ConvLayer, ...], index: int) -> bool:
    """Whether weighted layer ``index`` is the last of ``convs``, whose output is flattened
    for the dense head."""
    return bool(convs) and index == len(convs) - 1


@dataclass(frozen=True)
class StudentConfig:
    """One student. Its weighted layers are its convolutions (CNN students: ``convs`` on inputs
    of ``input_shape``, spatial axes then channels), the hidden dense layers, then the logits
    layer. Per weighted layer: weight bits (sign included) and integer bits; per layer before
    the logits: activation (ReLU) bits and integer bits; per hidden dense layer: its width."""

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
    convs: tuple[ConvLayer, ...] = ()
    input_shape: tuple[int, ...] = ()

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise ValueError(f"student strategy '{self.strategy}' is unknown: use one of "
                             f"{', '.join(STRATEGIES)}")
        if self.reuse_factor < 1:
            raise ValueError(f"student reuse factor {self.reuse_factor} is below 1")
        if self.convs and len(self.input_shape) not in (2, 3):
            raise ValueError("a CNN student needs its input shape: (samples, channels) or "
                             "(height, width, channels)")
        n_hidden = len(self.convs) + len(self.widths)
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
                  for key, value in values.items() if key not in ("inputs", "convs")}
        inputs = values.get("inputs")
        convs = tuple(ConvLayer(**conv) for conv in values.get("convs", ()))
        return cls(**fields, convs=convs,
                   inputs=None if inputs is None else InputStage.from_dict(inputs))

    def to_dict(self) -> dict:
        return asdict(self)

    def validate(self, ranges: StudentRanges) -> None:
        """``InvalidValue`` for the first value outside the space's ranges."""
        least_hidden = 0 if self.convs else 1
        checks = [("hidden layers", [len(self.widths)], (least_hidden, ranges.max_hidden_layers)),
                  ("width", self.widths, ranges.width),
                  ("convolutions", [len(self.convs)], (0, ranges.conv_layers[1])),
                  ("filters", [c.filters for c in self.convs], ranges.filters),
                  ("kernel", [c.kernel for c in self.convs], ranges.kernel),
                  ("stride", [c.stride for c in self.convs], ranges.stride),
                  ("pool", [c.pool for c in self.convs], ranges.pool),
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

    def conv_at(self, index: int) -> ConvLayer | None:
        """The convolution that weighted layer ``index`` is (None: a dense layer)."""
        return self.convs[index] if index < len(self.convs) else None

    def layer_geometry(self, n_inputs: int, n_classes: int) -> list[tuple[int, int, int]]:
        """Per weighted layer: inputs each output reads, outputs per position, positions (1
        for a dense layer; a convolution computes its outputs at every window position)."""
        geometry, shape = [], self.input_shape or (n_inputs,)
        for conv in self.convs:
            geometry.append((conv.fan_in(shape), conv.filters,
                             math.prod(conv.conv_shape(shape)[:-1])))
            shape = conv.output_shape(shape)
        sizes = [math.prod(shape), *self.widths, n_classes]
        return geometry + [(n_in, n_out, 1) for n_in, n_out in zip(sizes[:-1], sizes[1:],
                                                                      strict=True)]

    def layer_shapes(self, n_inputs: int, n_classes: int) -> list[tuple[int, int]]:
        """Per weighted layer as a dense layer doing the same multiplications: inputs per
        output and outputs (a convolution's at every position)."""
        return [(fan_in, n_out * positions)
                for fan_in, n_out, positions in self.layer_geometry(n_inputs, n_classes)]

    def layer_input_bits(self) -> list[int]:
        """Width of each weighted layer's input values: the input quantizer, then each ReLU."""
        return [self.input_bits, *self.act_bits]

    def n_params(self, n_inputs: int, n_classes: int) -> int:
        return sum(fan_in * n_out + n_out
                   for fan_in, n_out, _ in self.layer_geometry(n_inputs, n_classes))


def io_type_for(config: StudentConfig, n_inputs: int, n_classes: int) -> str:
    """io_parallel unless a layer's output has more values than HLS partitions completely (a
    convolution over a large input): then io_stream."""
    largest = max([n_inputs] + [n_out * positions for _, n_out, positions
                                in config.layer_geometry(n_inputs, n_classes)])
    return "io_parallel" if largest <= PARALLEL_VALUES else "io_stream"


def layer_names(n_hidden: int, n_convs: int = 0) -> list[str]:
    """Names of the weighted layers of a student with ``n_convs`` convolutions and
    ``n_hidden`` hidden dense layers."""
    return ([f"conv_{i + 1}" for i in range(n_convs)] +
            [f"dense_{i + 1}" for i in range(n_hidden)] + ["logits"])


def weighted_layer_names(config: StudentConfig) -> list[str]:
    return layer_names(len(config.widths), len(config.convs))


def quantized_kernels(model, config: StudentConfig) -> list[np.ndarray]:
    """Each weighted layer's kernel as the hardware uses it (after quantization), float values."""
    kernels = []
    for name in weighted_layer_names(config):
        layer = model.get_layer(name)
        kernels.append(np.asarray(layer.kernel_quantizer_internal(layer.kernel)))
    return kernels


def weight_mantissas(kernel: np.ndarray, bits: int, integer: int) -> np.ndarray:
    """Integer mantissas of a quantized kernel: value * 2**(fractional bits)."""
    return np.rint(kernel * 2.0 ** (bits - 1 - integer)).astype(np.int64)
