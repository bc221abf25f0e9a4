"""What hls4ml generates for a dense layer (io_parallel) and what Vivado/Vitis HLS binds it to.

**Multiplications.** hls4ml's Latency strategy writes every product of an input and a weight
as a multiplication by a constant (``nnet_dense_latency.h``), under an ``ALLOCATION`` limit
of ``ceil(n_in * n_out / reuse) - floor(n_zeros / reuse)`` multipliers. HLS folds a constant
into shifts and adds when that is cheap; only the others stay multipliers. The rule used here
(checked on the public reports whose weights are known, see README): a constant stays a
multiplier when it has at least 3 nonzero canonical-signed-digit (CSD) digits and, in Vitis
HLS, an odd part of at least 5 bits (Vivado HLS keeps those of a narrower odd part as
multipliers too), and is bound to a DSP slice when the input is at least
``MIN_DSP_INPUT_BITS`` wide; every other constant is built in the fabric from its CSD digits. A
product wider than the DSP's ports (7-series DSP48E1 25 x 18, UltraScale DSP48E2 27 x 18)
takes several slices. With a reuse factor, the multipliers (in DSPs or in the fabric) share
``limit`` units in ``passes = ceil(multipliers / limit)`` passes, each a clock cycle (the
interval is the most). The Resource strategy (``nnet_dense_resource.h``) keeps the weights in
a ROM and runs ``ceil(n_in * n_out / reuse)`` real multipliers ``reuse`` times.

**Narrow inputs.** An input that an HGQ per-element quantizer keeps at a few bits makes each
of its products with a constant a table: a LUT6 computes any bit of a product of an input of up
to 6 bits by a constant. Such a product (input at most ``MAX_TABLE_INPUT_BITS`` wide) is never
a multiplier nor a DSP and has no CSD digits; it costs the fabric its bits (the input's width
plus the constant's, sign included) and enters the adder tree as that many bits of the layer's
input type, as shift-add digits do (``WeightStats.of_inputs``).

**Adder tree.** Each output adds its terms (shift-add terms and DSP products) and the bias in
a balanced tree of ``ceil(log2(terms + 1))`` levels. A product enters the tree cast to the
accumulator type; where that type is wider than the product (hls4ml infers the accumulator of
QKeras and HGQ layers from the input and weight widths), HLS sizes each adder from its
operands' widths: a level ``k`` adder is ``k`` bits wider than the product, up to the
accumulator's width (``tree_bits``).
"""

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from nas.estimators.csd import csd_digits
from nas.spaces.parts import DSP_PORTS

if TYPE_CHECKING:
    from nas.estimators.vendor.design import VendorDesign, VendorLayer

#: Narrower inputs never go to a DSP slice (a fabric multiplier is cheaper). Tabulated from the
#: reports: ``benchmarks/bench_vendor_hls.py`` counts the DSPs this rule gives at thresholds of
#: 4-16 bits on every public report (Vivado HLS 2018.3-2020.1, Vitis HLS 2022.2-2025.1,
#: 7-series and UltraScale+). Set at 10 when the table's rows (inputs of 6 or 16 bits) made
#: every threshold of 8-16 bits equal; with every design read from its folder (HGQ inputs of 8
#: to 15 bits) 8-12 bits give the least error, 6 and 14 bits more, and no tool, version or
#: family apart: 10 was kept.
MIN_DSP_INPUT_BITS = 10
#: Inputs at most this wide make tables of their products (module docstring). Picked among
#: none, 3, 4 and 6 bits by leave-one-repository-out on the public reports (the least mean of
#: the four quantities' MAPEs averaged per repository: ``bench_vendor_hls.rule_choice``,
#: which also scores each repository at the width picked without it).
MAX_TABLE_INPUT_BITS = 3
#: A constant stays a multiplier with at least this many CSD digits and odd-part bits.
MIN_MULTIPLIER_DIGITS, MIN_MULTIPLIER_ODD_BITS = 3, 5
#: The tools that fold a constant of a narrower odd part (module docstring): Vitis HLS, not
#: Vivado HLS. Picked between these and both tools by leave-one-repository-out on the public
#: reports (``bench_vendor_hls.rule_choice``, which also gives the nested check).
ODD_PART_TOOLS = ("Vitis HLS",)


def _odd_bits(mantissas: np.ndarray) -> np.ndarray:
    """Bits of the odd part of each integer (0 for 0): the width left after its trailing
    zeros, which are free shifts."""
    m = np.abs(np.asarray(mantissas, dtype=np.int64))
    odd = np.where(m > 0, m // np.maximum(m & -m, 1), 0)
    return np.where(odd > 0, np.floor(np.log2(np.maximum(odd, 1))) + 1, 0)


def multiplier_mask(mantissas: np.ndarray, odd_part: bool = True) -> np.ndarray:
    """Which integer constants HLS keeps as multipliers (the others become shifts and adds);
    ``odd_part``: the tool folds a constant of a narrow odd part (``ODD_PART_TOOLS``)."""
    mask = csd_digits(mantissas) >= MIN_MULTIPLIER_DIGITS
    return mask & (_odd_bits(mantissas) >= MIN_MULTIPLIER_ODD_BITS) if odd_part else mask



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


def plan(layer: "VendorLayer", family: str, min_dsp_input_bits: int = MIN_DSP_INPUT_BITS
         ) -> LayerPlan:
    """What HLS builds for ``layer`` (the module docstring's rules; ``min_dsp_input_bits`` the
    binding threshold, a parameter only to tabulate it). The Resource strategy at reuse 1
    keeps its weights as constants (no ROM), like the Latency strategy."""
    if layer.strategy == "resource" and layer.reuse_factor > 1:
        block = math.ceil(layer.n_weights / layer.reuse_factor)
        wide = min(layer.input_bits, layer.weight_bits) >= MIN_MULTIPLIER_ODD_BITS
        slices = block * dsp_slices(family, layer.input_bits, layer.weight_bits) if wide else 0
        return LayerPlan(0.0, float(block if wide else 0), float(slices), 0.0,
                         max(1.0, block / layer.n_out), layer.reuse_factor,
                         block * (layer.input_bits + layer.weight_bits))
    stats = layer.weights
    to_dsp = layer.input_bits >= min_dsp_input_bits
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
                     (fabric + products) / max(layer.outputs, 1e-9), passes,
                     shared * (layer.input_bits + layer.weight_bits) * (passes - 1),
                     stats.multipliers - shared)


def tree_bits(terms: float, product_bits: int, accum_bits: int) -> float:
    """Adder bits of one output's balanced tree over ``terms`` products and the bias: about
    ``(terms + 1) / 2**k`` adders at level ``k``, each ``product_bits + k`` bits wide (a sum
    of two operands needs one bit more than either) and at most ``accum_bits``."""
    operands, levels = terms + 1.0, math.ceil(math.log2(terms + 1.0))
    leaf = min(product_bits, accum_bits)
    return float(sum(operands / 2 ** k * min(leaf + k, accum_bits)
                     for k in range(1, levels + 1)))


def interval(design: "VendorDesign") -> int:
    """Initiation interval of one pipeline (hls4ml's top function without a Resource-strategy
    layer): the most passes of any layer over its shared multipliers. A DATAFLOW region's is
    ``VendorEstimator.interval`` (it needs the latency of its layers)."""
    return max(plan(layer, design.part_family).passes for layer in design.layers)
