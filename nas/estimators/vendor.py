"""The vendor HLS flow: what hls4ml generates for a dense network (io_parallel), and an estimate
of what Vivado/Vitis HLS makes of it, with a structure that follows the generated code.

**Multiplications.** hls4ml's Latency strategy writes every product of an input and a weight
as a multiplication by a constant (``nnet_dense_latency.h``), under an ``ALLOCATION`` limit
of ``ceil(n_in * n_out / reuse) - floor(n_zeros / reuse)`` multipliers. HLS folds a constant
into shifts and adds when that is cheap; only the others stay multipliers. The rule used here
(checked on the public reports whose weights are known, see README): a constant stays a
multiplier, bound to a DSP slice, when it has at least 3 nonzero canonical-signed-digit (CSD)
digits and an odd part of at least 5 bits, and the input is at least ``MIN_DSP_INPUT_BITS``
wide; every other constant is built in the fabric from its CSD digits. A product wider than
the DSP's ports (7-series DSP48E1 25 x 18, UltraScale DSP48E2 27 x 18) takes several slices.
With a reuse factor, the multipliers (in DSPs or in the fabric) share ``limit`` units in
``passes = ceil(multipliers / limit)`` passes, each a clock cycle (the interval is the most).
The Resource strategy (``nnet_dense_resource.h``) keeps the weights in a ROM and runs
``ceil(n_in * n_out / reuse)`` real multipliers ``reuse`` times.

**Weights.** When the weight values are known (a trained student, a project with weights),
their integer mantissas are counted; otherwise the expected counts of weights drawn from a
normal distribution of standard deviation ``1 / sqrt(n_in)`` (the scale of trained and
initialized dense layers) on the weight type's grid.

**Pipeline.** Each output adds its terms (shift-add terms and DSP products) and the bias in a
balanced tree of ``ceil(log2(terms + 1))`` levels of accumulator-wide adders. HLS chains
operations into a clock cycle while their delays fit in the period less the clock
uncertainty, on a part whose logic is ``delay_scale`` times a -1 Artix-7's: the latency model
is linear in nanoseconds of delay per usable nanosecond of the clock (a multiplier, an adder
level, an adder level per accumulator bit, the extra a level takes in Vitis HLS; per part
family; the softmax and sigmoid/tanh tables), plus the reuse passes (one cycle each: fixed,
not fitted), a register per layer and the interface. Its coefficients are delays in
nanoseconds and cycles. The flip-flops are the registers such a pipeline needs: adder-tree
and DSP-operand bits per usable nanosecond (per family), the layer outputs, the products that
wait for a later pass.

**LUT** is linear in the adder-tree bits, the bits of the fabric multipliers (CSD digits x
input width), the glue of each DSP product, the activations' bits, the softmax outputs,
the operand multiplexers of shared multipliers and the Resource strategy's multiplexers and
accumulators, plus a constant for the interface and control. **BRAM** counts the softmax and
sigmoid/tanh tables and the Resource strategy's weight ROMs.

Coefficients are fitted on C-synthesis reports (``nas calibrate --flow vitis``) by
``fit_log_huber``: non-negative, robust to reports whose facts are incomplete, pulled gently
towards the documented priors so that a feature absent from the data keeps its prior.
"""

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cache

import numpy as np
from scipy.optimize import nnls
from scipy.stats import norm

from nas.errors import DataError
from nas.estimators.base import QUANTITIES, ResourceEstimator, check_fit_data
from nas.estimators.csd import csd_digits
from nas.hls.hls4ml_project import (
    DEFAULT_UNCERTAINTY,
    FixedType,
    ProjectFacts,
    resource_reuse_factor,
)
from nas.model.config import STRATEGIES, StudentConfig, weight_mantissas
from nas.spaces.parts import DSP_PORTS, delay_scale, part_family

#: Narrower inputs never go to a DSP slice (a fabric multiplier is cheaper).
MIN_DSP_INPUT_BITS = 10
#: A constant stays a multiplier with at least this many CSD digits and odd-part bits.
MIN_MULTIPLIER_DIGITS, MIN_MULTIPLIER_ODD_BITS = 3, 5
FAMILIES = tuple(DSP_PORTS)
TABLE_ACTIVATIONS = ("sigmoid", "tanh")


def _odd_bits(mantissas: np.ndarray) -> np.ndarray:
    """Bits of the odd part of each integer (0 for 0): the width left after its trailing
    zeros, which are free shifts."""
    m = np.abs(np.asarray(mantissas, dtype=np.int64))
    odd = np.where(m > 0, m // np.maximum(m & -m, 1), 0)
    return np.where(odd > 0, np.floor(np.log2(np.maximum(odd, 1))) + 1, 0)


def _multiplier_mask(mantissas: np.ndarray) -> np.ndarray:
    return (csd_digits(mantissas) >= MIN_MULTIPLIER_DIGITS) & \
        (_odd_bits(mantissas) >= MIN_MULTIPLIER_ODD_BITS)


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
    def of(cls, mantissas: np.ndarray) -> "WeightStats":
        m = np.asarray(mantissas, dtype=np.int64).ravel()
        m = m[m != 0]
        digits, mask = csd_digits(m), _multiplier_mask(m)
        bits = np.floor(np.log2(np.maximum(np.abs(m[mask]), 1))) + 2 if mask.any() else [0]
        return cls(float(m.size), float(mask.sum()), float(digits[~mask].sum()),
                   float(digits[mask].sum()), int(np.percentile(bits, 99, method="higher")), True)

    @classmethod
    def expected(cls, nonzero: float, weight: FixedType, n_in: int) -> "WeightStats":
        share, shift_add, multiplier, bits = _expected_per_weight(weight.width, weight.fraction,
                                                                  n_in)
        return cls(nonzero, nonzero * share, nonzero * shift_add, nonzero * multiplier, bits,
                   False)


@cache
def _expected_per_weight(width: int, fraction: int, n_in: int) -> tuple[float, float, float, int]:
    """Per nonzero weight of N(0, 1/n_in) on a ``width``-bit grid of ``fraction`` fractional
    bits (truncated, saturated): the multiplier share, the expected CSD digits of the others
    and of the multipliers, the multipliers' bits (99th percentile)."""
    sigma = 2.0 ** fraction / math.sqrt(max(n_in, 1))
    low = max(-(2 ** (width - 1)), -int(12 * sigma) - 2)
    high = min(2 ** (width - 1) - 1, int(12 * sigma) + 2)
    m = np.arange(low, high + 1)
    p = norm.cdf((m + 1) / sigma) - norm.cdf(m / sigma)
    p[0] += norm.cdf(low / sigma)
    p[-1] += norm.sf((high + 1) / sigma)
    p, m = p[m != 0], m[m != 0]
    if p.sum() <= 0:
        return 0.0, 1.0, 0.0, 0
    p = p / p.sum()
    digits, mask = csd_digits(m), _multiplier_mask(m)
    if not mask.any():
        return 0.0, float((p * digits).sum()), 0.0, 0
    bits = np.floor(np.log2(np.abs(m[mask]))) + 2
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

    @property
    def n_weights(self) -> int:
        return self.n_in * self.n_out


@dataclass(frozen=True)
class VendorDesign:
    """A dense network in hls4ml (io_parallel) on a part family at a clock."""

    layers: tuple[VendorLayer, ...]
    io_type: str
    part_family: str
    delay_scale: float
    clock_period_ns: float
    clock_uncertainty_ns: float
    tool: str = "Vitis HLS"

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


def design_from_facts(facts: ProjectFacts) -> VendorDesign:
    """The estimator's view of an hls4ml project (``DataError`` for a part it cannot place)."""
    family = part_family(facts.part)
    if family is None:
        raise DataError(f"{facts.source}: part '{facts.part}' is not a 7-series or UltraScale "
                        f"part: the vendor estimator knows only those")
    layers = []
    for layer in facts.layers:
        if layer.strategy not in STRATEGIES:
            raise DataError(f"{facts.source}: layer {layer.name} uses the {layer.strategy} "
                            f"strategy: the vendor estimator knows {' and '.join(STRATEGIES)}")
        nonzero = float(layer.n_in * layer.n_out - layer.n_zeros)
        stats = (WeightStats.of(layer.mantissas) if layer.mantissas is not None
                 else WeightStats.expected(nonzero, layer.weight, layer.n_in))
        layers.append(VendorLayer(layer.n_in, layer.n_out, layer.input.width, layer.weight.width,
                                  layer.accum.width, layer.output.width,
                                  max(1, layer.reuse_factor), layer.strategy, layer.activation,
                                  stats))
    return VendorDesign(tuple(layers), facts.io_type, family, delay_scale(facts.part),
                        facts.clock_period_ns, facts.clock_uncertainty_ns,
                        "Vitis HLS" if facts.tool.startswith("Vitis") else "Vivado HLS")


def _student_layer(n_in: int, n_out: int, input_bits: int, weight_bits: int, weight_int: int,
                   output_bits: int, config: StudentConfig, kernel: np.ndarray | None
                   ) -> VendorLayer:
    """One dense layer of a student as ``nas export`` writes it (the student's strategy and
    reuse factor, as hls4ml adjusts it): the accumulator holds the exact range of the sum (from
    the weights when known, else from the widths)."""
    sparsity = config.sparsity
    reuse = (resource_reuse_factor(n_in, n_out, config.reuse_factor)
             if config.strategy == "resource" else config.reuse_factor)
    weight = FixedType(weight_bits, weight_int + 1)
    if kernel is None:
        stats = WeightStats.expected(n_in * n_out * (1.0 - sparsity), weight, n_in)
        magnitude = n_in * 2.0 ** (weight_bits - 1)
    else:
        mantissas = weight_mantissas(kernel, weight_bits, weight_int)
        stats = WeightStats.of(mantissas)
        magnitude = float(np.abs(mantissas).sum(axis=0).max())
    accum = input_bits + math.ceil(math.log2(magnitude + 1.0)) + 1
    return VendorLayer(n_in, n_out, input_bits, weight_bits, accum, output_bits or accum, reuse,
                       config.strategy, "relu" if output_bits else "linear", stats)


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
    layers = tuple(
        _student_layer(n_in, n_out, in_bits, w_bits, w_int, out_bits, config, kernel)
        for (n_in, n_out), in_bits, w_bits, w_int, out_bits, kernel in zip(
            shapes, config.layer_input_bits(), config.weight_bits, config.weight_int_bits,
            [*config.act_bits, 0], kernels, strict=True))
    period = 1000.0 / clock_mhz
    return VendorDesign(layers, "io_parallel", family, delay_scale(part), period,
                        period * DEFAULT_UNCERTAINTY["Vitis HLS"], "Vitis HLS")


# --- structure ------------------------------------------------------------------------------


def dsp_slices(family: str, a_bits: int, b_bits: int) -> int:
    """DSP slices of an ``a_bits`` x ``b_bits`` product on ``family`` (the cheaper way round)."""
    if a_bits <= 0 or b_bits <= 0:
        return 0
    wide, narrow = DSP_PORTS[family]
    return min(math.ceil(a_bits / wide) * math.ceil(b_bits / narrow),
               math.ceil(b_bits / wide) * math.ceil(a_bits / narrow))


@dataclass(frozen=True)
class LayerPlan:
    """What HLS builds for one layer: DSP-bound products, the slices they occupy, the fabric
    terms (CSD digits), the terms each output adds, the passes over shared multipliers, the
    bits of their operand multiplexers and the products that wait for a later pass."""

    dsp_products: float
    dsp_units: float
    slices: float
    fabric_digits: float
    terms: float
    passes: int
    mux_bits: float
    waiting: float = 0.0

    @property
    def levels(self) -> int:
        return math.ceil(math.log2(self.terms + 1.0))


def plan(layer: VendorLayer, family: str) -> LayerPlan:
    """What HLS builds for ``layer`` (the module docstring's rules). The Resource strategy at
    reuse 1 keeps its weights as constants (no ROM), like the Latency strategy."""
    if layer.strategy == "resource" and layer.reuse_factor > 1:
        block = math.ceil(layer.n_weights / layer.reuse_factor)
        wide = min(layer.input_bits, layer.weight_bits) >= MIN_MULTIPLIER_ODD_BITS
        slices = block * dsp_slices(family, layer.input_bits, layer.weight_bits) if wide else 0
        return LayerPlan(0.0, float(block if wide else 0), float(slices), 0.0,
                         max(1.0, block / layer.n_out), layer.reuse_factor,
                         block * (layer.input_bits + layer.weight_bits))
    stats = layer.weights
    to_dsp = layer.input_bits >= MIN_DSP_INPUT_BITS
    products = stats.multipliers if to_dsp else 0.0
    fabric = stats.shift_add_digits + (0.0 if to_dsp else stats.multiplier_digits)
    zeros = layer.n_weights - stats.nonzero
    limit = max(1, math.ceil(layer.n_weights / layer.reuse_factor)
                - int(zeros // layer.reuse_factor))
    # Every multiplier (in a DSP or in the fabric) counts against the limit.
    shared = min(stats.multipliers, limit)
    passes = max(1, math.ceil(stats.multipliers / limit))
    units = min(products, limit)
    per_product = dsp_slices(family, layer.input_bits, stats.multiplier_bits)
    return LayerPlan(products, units, units * per_product, fabric,
                     (fabric + products) / layer.n_out, passes,
                     shared * (layer.input_bits + layer.weight_bits) * (passes - 1),
                     stats.multipliers - shared)


def interval(design: VendorDesign) -> int:
    """Initiation interval: the most passes of any layer over its shared multipliers."""
    return max(plan(layer, design.part_family).passes for layer in design.layers)


# --- the estimator --------------------------------------------------------------------------

_DELAYS = ("multiplier_ns", "level_ns", "level_bit_ns", "vitis_level_ns")
LATENCY_FEATURES = tuple(f"{name}_{family}" for family in FAMILIES for name in _DELAYS) + (
    "layers", "reuse_passes", "softmax_ns", "table_ns", "design")
FF_FEATURES = tuple(f"{name}_{family}" for family in FAMILIES
                    for name in ("tree_register_ns", "multiplier_register_ns")) + (
    "output_bits", "reuse_register_bits", "resource_accum_bits", "design")
LUT_FEATURES = ("adder_bits", "fabric_multiplier_bits", "dsp_products", "activation_bits",
                "softmax_outputs", "reuse_mux_bits", "resource_mux_bits", "resource_accum_bits",
                "design")
DSP_FEATURES = ("dsp_slices", "softmax")
BRAM_FEATURES = ("softmax", "table_activations", "resource_rom_bits")

#: Coefficients before calibration (delays in ns of a -1 Artix-7, cycles, LUTs or FFs per
#: counted bit, BRAM36 per table or per 36 Kib of ROM).
PRIOR = {
    "latency_cycles": (8.0, 1.0, 0.05, 0.0, 5.0, 0.6, 0.03, 0.0, 1.0, 1.0, 20.0, 8.0, 1.0),
    "ff": (1.0, 8.0, 0.5, 1.0, 1.0, 1.0, 1.0, 100.0),
    "lut": (1.0, 1.0, 10.0, 1.0, 50.0, 1.0, 1.0, 2.0, 100.0),
    "dsp": (1.0, 5.0),
    "bram": (1.0, 0.5, 1.0 / 36864),
}


def _latency_terms(design: VendorDesign, layer: VendorLayer, step: LayerPlan) -> dict[str, float]:
    """One layer's share of each latency feature."""
    usable, family = design.usable_ns, design.part_family
    values = dict.fromkeys(LATENCY_FEATURES, 0.0)
    values[f"multiplier_ns_{family}"] = (1.0 if step.dsp_units else 0.0) / usable
    values[f"level_ns_{family}"] = step.levels / usable
    values[f"level_bit_ns_{family}"] = step.levels * layer.accum_bits / usable
    if design.tool == "Vitis HLS":
        values[f"vitis_level_ns_{family}"] = step.levels / usable
    values["layers"] = 1.0
    values["reuse_passes"] = step.passes - 1.0
    values["softmax_ns"] = float(layer.activation == "softmax") / usable
    values["table_ns"] = float(layer.activation in TABLE_ACTIVATIONS) / usable
    return values


class VendorEstimator(ResourceEstimator):
    """Vendor HLS estimate of an hls4ml dense network (module docstring)."""

    name = "vendor_hls"
    flow = "vitis"
    part_family = "xc7+ultrascale"
    prior = PRIOR
    quantity_features = {"lut": LUT_FEATURES, "ff": FF_FEATURES, "dsp": DSP_FEATURES,
                         "bram": BRAM_FEATURES, "latency_cycles": LATENCY_FEATURES}
    feature_definitions = {
        **{f"multiplier_ns_{f}": f"{f}: layers with DSP products, per usable ns of the clock "
           f"(coefficient: a DSP multiplier's delay, ns)" for f in FAMILIES},
        **{f"level_ns_{f}": f"{f}: adder-tree levels per usable ns (coefficient: ns per level)"
           for f in FAMILIES},
        **{f"level_bit_ns_{f}": f"{f}: adder-tree levels x accumulator bits per usable ns "
           f"(coefficient: ns per carry bit)" for f in FAMILIES},
        **{f"vitis_level_ns_{f}": f"{f}: adder-tree levels per usable ns in Vitis HLS "
           f"(coefficient: the ns per level Vitis HLS adds to Vivado HLS's)" for f in FAMILIES},
        "layers": "dense layers (a register each)",
        "reuse_passes": "passes beyond the first over shared multipliers, summed over layers",
        "softmax_ns": "softmax activations per usable ns (coefficient: a softmax's delay, ns)",
        "table_ns": "sigmoid and tanh activations (table lookups) per usable ns (coefficient: "
                    "a lookup's delay, ns)",
        "softmax": "softmax activations",
        "table_activations": "sigmoid and tanh activations (table lookups)",
        "design": "one per design (interface and control)",
        **{f"tree_register_ns_{f}": f"{f}: adder-tree bits per usable ns of the clock "
           f"(coefficient: ns of adder delay per registered bit)" for f in FAMILIES},
        **{f"multiplier_register_ns_{f}": f"{f}: DSP multipliers x operand bits per usable ns "
           f"(coefficient: ns of multiplier pipeline held in fabric registers)"
           for f in FAMILIES},
        "output_bits": "layer outputs x accumulator bits",
        "reuse_register_bits": "products waiting for a later pass x accumulator bits",
        "resource_accum_bits": "Resource strategy: outputs x accumulator bits",
        "adder_bits": "adder-tree terms x accumulator bits",
        "fabric_multiplier_bits": "CSD digits of fabric-built constants x input bits",
        "dsp_products": "products bound to DSP slices",
        "activation_bits": "outputs x accumulator bits of layers with an activation",
        "softmax_outputs": "outputs of softmax activations",
        "reuse_mux_bits": "operand multiplexer bits of shared multipliers",
        "resource_mux_bits": "Resource strategy: multipliers x operand bits",
        "dsp_slices": "DSP slices of the DSP-bound products (shared: the multiplier limit)",
        "resource_rom_bits": "Resource strategy: weight ROM bits",
    }

    def features(self, design: VendorDesign) -> dict[str, float]:
        family, usable = design.part_family, design.usable_ns
        values = dict.fromkeys((*LATENCY_FEATURES, *FF_FEATURES, *LUT_FEATURES, *DSP_FEATURES,
                                *BRAM_FEATURES), 0.0)
        for layer in design.layers:
            step = plan(layer, family)
            for name, value in _latency_terms(design, layer, step).items():
                values[name] += value
            values["softmax"] += float(layer.activation == "softmax")
            values["table_activations"] += float(layer.activation in TABLE_ACTIVATIONS)
            if layer.strategy == "latency" or layer.reuse_factor == 1:
                values[f"tree_register_ns_{family}"] += \
                    step.terms * layer.n_out * layer.accum_bits / usable
            values[f"multiplier_register_ns_{family}"] += \
                step.dsp_units * (layer.input_bits + layer.weight_bits) / usable
            _add_resources(values, layer, step)
        values["design"] = 1.0
        return values

    def fit(self, designs: Sequence, measured: np.ndarray,
            sample_weight: Sequence[float] | None = None) -> "VendorEstimator":
        """Each quantity by ``fit_log_huber`` from the prior; the coefficients in ``FIXED``
        keep their value."""
        measured, weight = check_fit_data(designs, measured, sample_weight)
        for quantity, matrix in self._matrices(designs).items():
            names, fixed = self.quantity_features[quantity], FIXED.get(quantity, {})
            free = np.array([name not in fixed for name in names])
            coefficients = np.array([fixed.get(name, 0.0) for name in names])
            coefficients[free] = fit_log_huber(
                matrix[:, free], measured[:, QUANTITIES.index(quantity)],
                np.asarray(self.prior[quantity])[free], weight,
                offset=matrix[:, ~free] @ coefficients[~free])
            self.coefficients[quantity] = tuple(float(c) for c in coefficients)
        return self


def _add_resources(values: dict[str, float], layer: VendorLayer, step: LayerPlan) -> None:
    """One layer's share of the LUT, FF, DSP and BRAM features."""
    values["output_bits"] += layer.n_out * layer.accum_bits
    if layer.activation not in ("linear", ""):
        values["activation_bits"] += layer.n_out * layer.accum_bits
    if layer.activation == "softmax":
        values["softmax_outputs"] += layer.n_out
    values["dsp_slices"] += step.slices
    if layer.strategy == "resource" and layer.reuse_factor > 1:
        values["resource_mux_bits"] += step.mux_bits
        values["resource_accum_bits"] += layer.n_out * layer.accum_bits
        values["resource_rom_bits"] += layer.n_weights * layer.weight_bits
        return
    values["adder_bits"] += step.terms * layer.n_out * layer.accum_bits
    values["fabric_multiplier_bits"] += step.fabric_digits * layer.input_bits
    values["dsp_products"] += step.dsp_products
    values["reuse_mux_bits"] += step.mux_bits
    values["reuse_register_bits"] += step.waiting * layer.accum_bits


#: Coefficients that structure fixes rather than the fit: every pass over shared multipliers
#: (Latency strategy) and every iteration of the Resource strategy's reuse loop (pipelined at
#: an interval of 1) is one clock cycle.
FIXED = {"latency_cycles": {"reuse_passes": 1.0}}
#: How far one relative residual counts fully before the fit treats it as an outlier
#: (in natural-log units: 0.3 is about 35 %).
HUBER_DELTA = 0.3
#: Pull towards the prior: a coefficient at twice its prior costs as much as one design
#: missed by this much (log units).
PRIOR_PULL = 0.1


def fit_log_huber(matrix: np.ndarray, measured: np.ndarray, prior: Sequence[float],
                  sample_weight: np.ndarray | None = None, iterations: int = 30,
                  offset: np.ndarray | None = None) -> np.ndarray:
    """Non-negative coefficients minimizing the (``sample_weight``-weighted) Huber loss of
    ``log(predicted / measured)`` plus a pull of each towards its prior, where ``predicted``
    is ``matrix @ coefficients + offset`` (the part of the model that is not fitted).

    A relative error is what matters across designs of 1k to 100k LUTs; its logarithm is
    symmetric (a design predicted 3x too high counts as one predicted 3x too low), and the
    Huber loss keeps a design whose recorded facts are incomplete from dragging every
    coefficient. Solved by Gauss-Newton: each step a non-negative least-squares problem in
    the linearized log residuals. Values below one (a design without DSPs) count as one.
    """
    prior = np.asarray(prior, dtype=float)
    measured = np.asarray(measured, dtype=float)
    floor = 1.0
    target = np.maximum(measured, floor)
    scale = np.sqrt(np.ones(len(measured)) if sample_weight is None else
                    np.asarray(sample_weight, dtype=float) * len(measured)
                    / np.sum(sample_weight))
    anchors = [j for j, value in enumerate(prior) if value > 0]
    anchor_rows = np.zeros((len(anchors), len(prior)))
    for row, j in enumerate(anchors):
        anchor_rows[row, j] = PRIOR_PULL / prior[j]
    offset = np.zeros(len(measured)) if offset is None else np.asarray(offset, dtype=float)
    coefficients = prior.copy()
    for step in range(iterations):
        predicted = np.maximum(matrix @ coefficients + offset, floor)
        residual = np.log(predicted / target)
        weight = scale * np.sqrt(np.minimum(1.0, HUBER_DELTA
                                            / np.maximum(np.abs(residual), 1e-12)))
        rows = matrix / predicted[:, None] * weight[:, None]
        solution, _ = nnls(np.vstack([rows, anchor_rows]),
                           np.concatenate([(1.0 - residual - offset / predicted) * weight,
                                           np.full(len(anchors), PRIOR_PULL)]))
        coefficients = solution if step >= 3 else 0.5 * (coefficients + solution)
    return coefficients


def measured_of(facts: ProjectFacts) -> dict[str, float]:
    """The report's numbers as calibration measures them (BRAM in 36 Kib blocks)."""
    report = facts.report
    return {"lut": float(report.lut or 0), "ff": float(report.ff or 0),
            "dsp": float(report.dsp or 0), "bram": float(report.bram18 or 0) / 2,
            "latency_cycles": float(report.latency_worst or 0)}


def calibration_row(facts: ProjectFacts) -> dict:
    """A calibration row of a reported design: its view, numbers and provenance."""
    if facts.report is None:
        raise DataError(f"{facts.source}: no C-synthesis report of the top function to "
                        f"calibrate on: build the project first")
    return {"design": design_from_facts(facts).to_dict(), "measured": measured_of(facts),
            "interval": facts.report.interval_max, "source": facts.source, "name": facts.name,
            "group": facts.group, "tool": facts.tool, "part": facts.part,
            "assumed": list(facts.assumed)}
