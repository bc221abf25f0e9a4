"""What a dense network in hls4ml (io_parallel) is to the vendor estimator: per layer the
sizes, widths (sign included), reuse factor, strategy, activation and what its constant
weights cost; per design the part family, its speed, the clock and the tool. Made from an
hls4ml project's facts (``design_from_facts``) or from a student as ``nas export`` writes it
(``student_design``).

**Weights.** When the weight values are known (a trained student, a project with weights),
their integer mantissas are counted; otherwise the expected counts of weights of standard
deviation ``1 / sqrt(n_in)`` (the scale of trained and initialized dense layers) on the weight
type's grid: drawn from a normal distribution (trained weights, whose tails reach past the
initial range), or from a uniform one where the facts say the layer was never trained
(Keras' ``lecun_uniform``, as the wa-hls4ml sweep generates its layers).

**Constant outputs.** An output whose weights are all zero is its bias, a constant that HLS
folds (no adder, activation or register), and so is every product of it in the next layer.
Counted from the weights when known; otherwise each weight of a pruned layer is taken as zero
independently (``Live``). So is every input an HGQ quantizer holds at zero
(``DenseFacts.input_widths``). The Resource strategy above reuse 1 reads its weights from
a ROM at run time: nothing of it is constant.

**Unread outputs.** An output no later layer reads (the next layer's quantizer holds that
input at zero, or all its weights in the next layer are zero, or it feeds only outputs that
are themselves unread) is removed by HLS with all its logic: the Verilog of the public HGQ
project Lrozzy/hls4ml-tutorial model_3.1 has 14, 8 and 7 outputs where its layers have 50, 26
and 32 outputs with a nonzero weight, one for each input the next layer reads. Counted where
the next layer's weights or quantizers are known (``read_outputs``); in an io_stream design
each layer writes its whole output to a stream, read or not.

**Wrapped products.** hls4ml assigns each product to the accumulator type, which wraps: an
input bit whose product with the weight type's lowest bit lands above the accumulator's top
bit reaches no result, and HLS drops it (``multiplied_bits``). freaksie/ML-on-Chip's
``ap_fixed<32,32>`` input times ``ap_fixed<18,4>`` weights into ``ap_fixed<18,4>`` is an 18-bit
product on one DSP48E1 (its report: 16 DSPs for 16 products), not a 32-bit one on two.
"""

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from functools import cache
from typing import TYPE_CHECKING

import numpy as np
from scipy.stats import norm, uniform

from nas.errors import DataError
from nas.estimators.csd import csd_digits
from nas.estimators.vendor.rules import (
    MAX_TABLE_INPUT_BITS,
    ODD_PART_TOOLS,
    multiplier_mask,
)
from nas.hls.project_facts import (
    DEFAULT_UNCERTAINTY,
    DenseFacts,
    FixedType,
    ProjectFacts,
    resource_reuse_factor,
)
from nas.model.config import STRATEGIES, StudentConfig, weight_mantissas
from nas.spaces.parts import delay_scale, part_family

if TYPE_CHECKING:
    from scipy.stats._distn_infrastructure import rv_continuous_frozen

#: How the weights of a layer whose values are not known are distributed (module docstring).
WEIGHT_DISTRIBUTIONS = ("normal", "uniform")
#: The most grid points the expected weight statistics sum over, and the weights drawn instead
#: on a finer grid (``_mantissa_law``).
MAX_GRID_POINTS, GRID_SAMPLE = 1 << 20, 1 << 17


@dataclass(frozen=True)
class WeightStats:
    """What a layer's constants cost: nonzero weights, the multiplier-worthy ones (see the
    module docstring), the CSD digits of the others and of those, and the bits of the widest
    multiplier-worthy constants (99th percentile, sign included)."""

    nonzero: float
    multipliers: float
    shift_add_digits: float
    multiplier_digits: float
    multiplier_bits: int
    exact: bool

    @classmethod
    def of(cls, mantissas: np.ndarray, odd_part: bool = True) -> "WeightStats":
        """The counts of these integer weights (``odd_part`` as ``rules.multiplier_mask``)."""
        m = np.asarray(mantissas, dtype=np.int64).ravel()
        m = m[m != 0]
        digits, mask = csd_digits(m), multiplier_mask(m, odd_part)
        bits = _signed_bits(m[mask]) if mask.any() else [0]
        return cls(float(m.size), float(mask.sum()), float(digits[~mask].sum()),
                   float(digits[mask].sum()), int(np.percentile(bits, 99, method="higher")), True)

    @classmethod
    def of_inputs(cls, mantissas: np.ndarray, inputs: "ElementInputs", odd_part: bool = True
                  ) -> "WeightStats":
        """The counts of a layer's ``(n_in, n_out)`` ``mantissas`` given its ``inputs``' widths:
        the products of the inputs ``inputs.tables`` marks are tables (``rules``), no
        multiplier and no CSD digit, each adding its bits over the input type's to the
        shift-add digits (a digit is a shifted copy of an input of the type's width); the
        other products follow ``of``."""
        table = inputs.tables[:, None]
        m = np.asarray(mantissas, dtype=np.int64)
        stats = cls.of(np.where(table, 0, m), odd_part)
        tables = np.where(table, m, 0)
        nonzero = tables != 0
        widths = np.broadcast_to(np.asarray(inputs.widths)[:, None], m.shape)
        product_bits = float((widths[nonzero] + _signed_bits(tables[nonzero])).sum())
        return replace(stats, nonzero=stats.nonzero + float(nonzero.sum()),
                       shift_add_digits=stats.shift_add_digits + product_bits / inputs.type_bits)

    @classmethod
    def expected(cls, nonzero: float, weight: FixedType, n_in: int,
                 distribution: str = "normal", odd_part: bool = True) -> "WeightStats":
        """The expected counts of ``nonzero`` weights of ``distribution`` (module docstring:
        ``WEIGHT_DISTRIBUTIONS``; ``odd_part`` as ``rules.multiplier_mask``)."""
        if distribution not in WEIGHT_DISTRIBUTIONS:
            raise ValueError(f"weight distribution {distribution!r}: expected one of "
                             f"{', '.join(WEIGHT_DISTRIBUTIONS)}")
        share, shift_add, multiplier, bits = _expected_per_weight(
            weight.width, weight.fraction, n_in, distribution, odd_part)
        return cls(nonzero, nonzero * share, nonzero * shift_add, nonzero * multiplier, bits,
                   False)


@dataclass(frozen=True)
class ElementInputs:
    """A layer's inputs as per-element (HGQ) quantizers set them: each one's width (0: held at
    zero), the input type's width, and the widest input whose products are tables
    (``rules.MAX_TABLE_INPUT_BITS``; 0: none; a parameter only to tabulate it)."""

    widths: tuple[int, ...]
    type_bits: int
    table_bits: int = MAX_TABLE_INPUT_BITS

    @property
    def tables(self) -> np.ndarray:
        """Which inputs make tables of their products."""
        return np.asarray(self.widths) <= self.table_bits


def _signed_bits(mantissas: np.ndarray) -> np.ndarray:
    """Bits of each nonzero integer, sign included."""
    return np.floor(np.log2(np.abs(mantissas))) + 2


def _weight_law(distribution: str, sigma: float) -> "rv_continuous_frozen":
    """A weight of standard deviation ``sigma`` (in mantissa units): normal, or uniform on
    ``+-sqrt(3) sigma``."""
    if distribution == "uniform":
        half = math.sqrt(3.0) * sigma
        return uniform(loc=-half, scale=2.0 * half)
    return norm(scale=sigma)


def _mantissa_law(width: int, sigma: float, distribution: str) -> tuple[np.ndarray, np.ndarray]:
    """The integer mantissas of a ``width``-bit grid a weight of standard deviation ``sigma``
    (in mantissa units) falls on, and their probabilities; on a grid of more than
    ``MAX_GRID_POINTS`` points within 12 sigma (fine grids: a 32-bit type would need billions),
    ``GRID_SAMPLE`` weights drawn with a fixed seed instead, each of equal probability."""
    law = _weight_law(distribution, sigma)
    low = max(-(2 ** (width - 1)), -int(12 * sigma) - 2)
    high = min(2 ** (width - 1) - 1, int(12 * sigma) + 2)
    if high - low + 1 > MAX_GRID_POINTS:
        drawn = law.rvs(size=GRID_SAMPLE, random_state=np.random.default_rng(0))
        m = np.clip(np.floor(drawn), low, high).astype(np.int64)
        return m, np.full(m.size, 1.0 / m.size)
    m = np.arange(low, high + 1)
    p = law.cdf(m + 1) - law.cdf(m)
    p[0] += law.cdf(low)
    p[-1] += 1.0 - law.cdf(high + 1)
    return m, p


@cache
def _expected_per_weight(width: int, fraction: int, n_in: int, distribution: str,
                         odd_part: bool) -> tuple[float, float, float, int]:
    """Per nonzero weight of standard deviation 1/sqrt(n_in) (``distribution``) on a
    ``width``-bit grid of ``fraction`` fractional bits (truncated, saturated): the multiplier
    share, the expected CSD digits of the others and of the multipliers, the multipliers' bits
    (99th percentile)."""
    m, p = _mantissa_law(width, 2.0 ** fraction / math.sqrt(max(n_in, 1)), distribution)
    p, m = p[m != 0], m[m != 0]
    if p.sum() <= 0:
        return 0.0, 1.0, 0.0, 0
    p = p / p.sum()
    digits, mask = csd_digits(m), multiplier_mask(m, odd_part)
    if not mask.any():
        return 0.0, float((p * digits).sum()), 0.0, 0
    bits = _signed_bits(m[mask])
    order = np.argsort(bits)
    cumulative = np.cumsum(p[mask][order])
    top = int(bits[order][np.searchsorted(cumulative, 0.99 * cumulative[-1])])
    return (float(p[mask].sum()), float((p * digits)[~mask].sum()),
            float((p * digits)[mask].sum()), top)


@dataclass(frozen=True)
class VendorLayer:
    """One dense layer as the estimator sees it (widths in bits, sign included)."""

    n_in: int
    n_out: int
    input_bits: int
    weight_bits: int
    accum_bits: int
    output_bits: int
    reuse_factor: int
    strategy: str
    activation: str
    weights: WeightStats
    #: Outputs that depend on an input (the others are constant); None: all of them.
    live_outputs: float | None = None
    #: Its inputs pass a per-element (HGQ) quantizer: the inputs it holds at zero are folded,
    #: those of a few bits make tables of their products (``WeightStats.of_inputs``); other
    #: widths narrower than the input type are not modelled (the calibration's HGQ layers,
    #: read from the public HGQ projects, carry that error; one without any flags such a layer
    #: as an extrapolation).
    per_element_inputs: bool = False

    @property
    def outputs(self) -> float:
        """The outputs HLS builds logic for (``live_outputs``, else all)."""
        return float(self.n_out if self.live_outputs is None else self.live_outputs)

    @property
    def n_weights(self) -> int:
        return self.n_in * self.n_out


@dataclass(frozen=True)
class VendorDesign:
    """A dense network in hls4ml (io_parallel) on a part family at a clock; ``dataflow``:
    its top function is a DATAFLOW region, each layer a process (else one pipeline)."""

    layers: tuple[VendorLayer, ...]
    io_type: str
    part_family: str
    delay_scale: float
    clock_period_ns: float
    clock_uncertainty_ns: float
    tool: str = "Vitis HLS"
    dataflow: bool = False

    @property
    def usable_ns(self) -> float:
        """The clock period HLS schedules into, in -1 Artix-7 nanoseconds."""
        return max(self.clock_period_ns - self.clock_uncertainty_ns, 0.1) / self.delay_scale

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "VendorDesign":
        layers = tuple(VendorLayer(**{**layer, "weights": WeightStats(**layer["weights"])})
                       for layer in values["layers"])
        return cls(**{**values, "layers": layers})


def _rom(strategy: str, reuse_factor: int) -> bool:
    """Whether hls4ml keeps the layer's weights in a ROM (Resource strategy above reuse 1)."""
    return strategy == "resource" and reuse_factor > 1


@dataclass(frozen=True)
class Live:
    """Which inputs of a layer are not constant (the previous layer's live outputs): a mask
    when the weights are known, else the expected fraction."""

    mask: np.ndarray | None = None
    fraction: float = 1.0

    def only(self, kept: np.ndarray) -> "Live":
        """These live inputs less those ``kept`` marks False (held at a constant)."""
        if self.mask is not None:
            return Live(mask=self.mask & kept)
        if self.fraction == 1.0:
            return Live(mask=np.asarray(kept, dtype=bool))
        return Live(fraction=self.fraction * float(np.mean(kept)))

    def through(self, mantissas: np.ndarray | None, nonzero: float, weight: FixedType,
                n_in: int, n_out: int, rom: bool, distribution: str = "normal",
                inputs: ElementInputs | None = None, odd_part: bool = True
                ) -> tuple[WeightStats, float | None, "Live"]:
        """A layer's weight costs and live outputs given these live inputs, and its own live
        outputs for the next layer (all of them when its weights sit in a ROM); the
        ``distribution`` of its weights when their values are not known; ``inputs`` their
        widths where per-element quantizers set them (``WeightStats.of_inputs``: constant
        weights only); ``odd_part`` as ``rules.multiplier_mask``."""
        if mantissas is not None:
            m = np.asarray(mantissas, dtype=np.int64).reshape(n_in, n_out)
            if self.mask is not None:
                m = m * self.mask[:, None]
            stats = WeightStats.of(m, odd_part) if inputs is None or rom else \
                WeightStats.of_inputs(m, inputs, odd_part)
            stats = _scaled(stats, self.fraction)
            out = (m != 0).any(axis=0)
            live = Live(mask=out) if self.fraction == 1.0 else \
                Live(fraction=float(out.mean()) * self.fraction)
        else:
            share = self.fraction if self.mask is None else float(self.mask.mean())
            stats = WeightStats.expected(nonzero * share, weight, n_in, distribution, odd_part)
            density = nonzero * share / max(n_in * n_out, 1)
            live = Live(fraction=1.0 - (1.0 - density) ** n_in)
        if rom:
            return stats, None, Live()
        outputs = float(live.mask.sum()) if live.mask is not None else n_out * live.fraction
        return stats, outputs, live


def _scaled(stats: WeightStats, fraction: float) -> WeightStats:
    """``stats`` with its counts scaled by ``fraction`` (inputs known live only in part)."""
    if fraction == 1.0:
        return stats
    return replace(stats, nonzero=stats.nonzero * fraction,
                   multipliers=stats.multipliers * fraction,
                   shift_add_digits=stats.shift_add_digits * fraction,
                   multiplier_digits=stats.multiplier_digits * fraction, exact=False)


def read_outputs(mantissas: Sequence[np.ndarray | None],
                 input_widths: Sequence[Sequence[int] | None],
                 rom: Sequence[bool]) -> list[np.ndarray | None]:
    """Per layer (its ``(n_in, n_out)`` integer weights when known, its inputs' widths where
    per-element quantizers set them, whether its weights sit in a ROM), the outputs a later
    layer reads (module docstring); None where it reads all of them, where that is not known,
    and for a layer whose weights sit in a ROM (it computes every output in its loop). The
    last layer's outputs are the network's: all read."""
    read: list[np.ndarray | None] = [None] * len(mantissas)
    for index in range(len(mantissas) - 1, 0, -1):
        used = None if input_widths[index] is None else np.asarray(input_widths[index]) > 0
        if mantissas[index] is not None and not rom[index]:
            rows = (_only_read(np.asarray(mantissas[index]), read[index]) != 0).any(axis=1)
            used = rows if used is None else used & rows
        if used is not None and not used.all() and not rom[index - 1]:
            read[index - 1] = used
    return read


def _only_read(mantissas: np.ndarray | None, read: np.ndarray | None) -> np.ndarray | None:
    """A layer's ``(n_in, n_out)`` weights with the columns of its unread outputs zeroed."""
    if mantissas is None or read is None:
        return mantissas
    return mantissas * read[None, :]


def multiplied_bits(layer: DenseFacts) -> int:
    """The bits of the layer's input type its products use: its fractional bits and its
    integer bits up to the accumulator's integer bits plus the weight's fractional bits
    (above those an input bit's products all wrap out of the accumulator); all of them where
    the accumulator saturates (each bit decides whether it does)."""
    if not layer.accum.wraps:
        return layer.input.width
    kept = min(layer.input.integer, layer.accum.integer + layer.weight.fraction)
    return max(1, kept + layer.input.fraction)


def design_from_facts(facts: ProjectFacts, table_input_bits: int = MAX_TABLE_INPUT_BITS,
                      odd_part_tools: tuple[str, ...] = ODD_PART_TOOLS) -> VendorDesign:
    """The estimator's view of an hls4ml project (``DataError`` for a part it cannot place);
    ``table_input_bits`` as ``ElementInputs.table_bits``, ``odd_part_tools`` as
    ``rules.ODD_PART_TOOLS`` (parameters only to tabulate the rules' alternatives)."""
    family = part_family(facts.part)
    if family is None:
        raise DataError(f"{facts.source}: part '{facts.part}' is not a 7-series or UltraScale "
                        f"part: the vendor estimator knows only those")
    tool = "Vitis HLS" if facts.tool.startswith("Vitis") else "Vivado HLS"
    layers, live = [], Live()
    weights = [None if layer.mantissas is None else
               np.asarray(layer.mantissas).reshape(layer.n_in, layer.n_out)
               for layer in facts.layers]
    roms = [_rom(layer.strategy, layer.reuse_factor) for layer in facts.layers]
    read = [None] * len(facts.layers) if facts.io_type == "io_stream" else read_outputs(
        weights, [layer.input_widths for layer in facts.layers], roms)
    for layer, mantissas, outputs_read, rom in zip(facts.layers, weights, read, roms,
                                                   strict=True):
        if layer.strategy not in STRATEGIES:
            raise DataError(f"{facts.source}: layer {layer.name} uses the {layer.strategy} "
                            f"strategy: the vendor estimator knows {' and '.join(STRATEGIES)}")
        nonzero = float(layer.n_in * layer.n_out - layer.n_zeros)
        inputs, input_bits = None, multiplied_bits(layer)
        if layer.input_widths is not None:
            live = live.only(np.array(layer.input_widths) > 0)
            inputs = ElementInputs(tuple(min(width, input_bits) for width in layer.input_widths),
                                   input_bits, table_input_bits)
        stats, outputs, live = live.through(_only_read(mantissas, outputs_read), nonzero,
                                            layer.weight, layer.n_in, layer.n_out, rom,
                                            layer.weight_distribution, inputs,
                                            tool in odd_part_tools)
        layers.append(VendorLayer(layer.n_in, layer.n_out, input_bits, layer.weight.width,
                                  layer.accum.width, layer.output.width,
                                  max(1, layer.reuse_factor), layer.strategy, layer.activation,
                                  stats, outputs, layer.input_widths is not None))
    dataflow = facts.dataflow if facts.dataflow is not None else \
        automatic_dataflow(facts.io_type, [layer.strategy for layer in layers])
    return VendorDesign(tuple(layers), facts.io_type, family, delay_scale(facts.part),
                        facts.clock_period_ns, facts.clock_uncertainty_ns, tool, dataflow)


def automatic_dataflow(io_type: str, strategies: Sequence[str]) -> bool:
    """hls4ml's automatic pipeline style (its ``SetPipelineStyle`` pass, the version this
    project exports with): a DATAFLOW region for io_stream and for a network with a
    Resource-strategy layer, else one pipeline. Taken where a project's top function was not
    read (a facts table's row, a student)."""
    return io_type == "io_stream" or "resource" in strategies


def _student_layer(n_in: int, n_out: int, input_bits: int, weight_bits: int, weight_int: int,
                   output_bits: int, config: StudentConfig, reuse: int,
                   mantissas: np.ndarray | None, read: np.ndarray | None,
                   live: Live) -> tuple[VendorLayer, Live]:
    """One dense layer of a student as ``nas export`` writes it (the student's strategy, the
    ``reuse`` factor as hls4ml adjusts it) given its integer weights when known, the outputs
    a later layer ``read`` (``read_outputs``) and its ``live`` inputs, and its own live
    outputs: the accumulator holds the exact range of the sum (from the weights when known,
    else from the widths)."""
    weight = FixedType(weight_bits, weight_int + 1)
    stats, outputs, after = live.through(_only_read(mantissas, read),
                                         n_in * n_out * (1.0 - config.sparsity),
                                         weight, n_in, n_out, _rom(config.strategy, reuse))
    magnitude = (n_in * 2.0 ** (weight_bits - 1) if mantissas is None
                 else float(np.abs(mantissas).sum(axis=0).max()))
    accum = input_bits + math.ceil(math.log2(magnitude + 1.0)) + 1
    return VendorLayer(n_in, n_out, input_bits, weight_bits, accum, output_bits or accum, reuse,
                       config.strategy, "relu" if output_bits else "linear", stats,
                       outputs), after


def student_design(config: StudentConfig, n_inputs: int, n_classes: int, part: str,
                   clock_mhz: float, kernels: Sequence[np.ndarray] | None = None) -> VendorDesign:
    """A student as ``nas export`` writes it (io_parallel, its strategy and reuse factor, no
    softmax) for Vitis HLS on ``part`` at ``clock_mhz``; its quantized ``kernels`` when
    trained, else the expected weights at its sparsity."""
    family = part_family(part)
    if family is None:
        raise DataError(f"part '{part}' is not a 7-series or UltraScale part: the vendor "
                        f"estimator knows only those")
    shapes = config.layer_shapes(n_inputs, n_classes)
    kernels = list(kernels) if kernels is not None else [None] * len(shapes)
    mantissas = [None if kernel is None else weight_mantissas(kernel, bits, integer)
                 for kernel, bits, integer in zip(kernels, config.weight_bits,
                                                  config.weight_int_bits, strict=True)]
    reuses = [resource_reuse_factor(n_in, n_out, config.reuse_factor)
              if config.strategy == "resource" else config.reuse_factor for n_in, n_out in shapes]
    read = read_outputs(mantissas, [None] * len(shapes),
                        [_rom(config.strategy, reuse) for reuse in reuses])
    layers, live = [], Live()
    for (n_in, n_out), in_bits, w_bits, w_int, out_bits, reuse, weights, outputs_read in zip(
            shapes, config.layer_input_bits(), config.weight_bits, config.weight_int_bits,
            [*config.act_bits, 0], reuses, mantissas, read, strict=True):
        layer, live = _student_layer(n_in, n_out, in_bits, w_bits, w_int, out_bits, config,
                                     reuse, weights, outputs_read, live)
        layers.append(layer)
    period = 1000.0 / clock_mhz
    return VendorDesign(tuple(layers), "io_parallel", family, delay_scale(part), period,
                        period * DEFAULT_UNCERTAINTY["Vitis HLS"], "Vitis HLS",
                        automatic_dataflow("io_parallel", [config.strategy]))
