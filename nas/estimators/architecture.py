"""Architecture-level estimate of the open flow (da4ml distributed arithmetic, xc7 logic).

The formula, per dense layer with ``D`` nonzero CSD digits in its weights, ``n_out``
outputs, input width ``b_in`` and weight width ``b_w``:

* terms per output ``t = D / n_out``: each nonzero digit adds one shifted copy of an input;
  the output's adder tree adds ``t`` terms and the bias, so the layer has ``D`` adders;
* accumulator width ``w = b_in + b_w + ceil(log2(t + 1))``; an adder costs about one LUT
  per bit on a 7-series carry chain, but shifted operands leave low bits unused and da4ml
  shares common subexpressions, hence a coefficient below one;
* ``LUT = c_add * sum(D * w) + c_act * sum(n_out * b_out)`` (the second term: ReLU,
  rounding and saturation of each output kept at ``b_out`` bits);
* adder tree depth ``ceil(log2(t + 1))`` levels plus one for the activation; at a clock
  period ``P`` a pipeline stage holds ``floor(P / t_level)`` levels, and the layer takes
  ``ceil(levels / levels_per_stage)`` cycles; the design's latency is the sum over layers;
* ``FF = c_ff * pipeline register bits``: at the end of each stage of a layer, the partial
  sums still alive (``n_out * ceil(t / 2**levels_done)`` of ``w`` bits, the outputs of
  ``b_out`` bits at the last stage);
* DSP = 0 and BRAM = 0: distributed arithmetic builds constant multiplications from adders
  and keeps weights in logic.

``PRIOR`` holds the coefficients from this reasoning; the shipped calibration
(``nas calibrate``) refits them on synthesized designs.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from nas.estimators.base import ResourceEstimator
from nas.estimators.design import DesignSummary, LayerSummary


@dataclass(frozen=True)
class LayerCost:
    """Features of one layer that the coefficients multiply."""

    adder_bits: float
    activation_bits: float
    register_bits: float
    cycles: int


def _accumulator_bits(layer: LayerSummary, terms: float) -> int:
    return layer.input_bits + layer.weight_bits + math.ceil(math.log2(terms + 1.0))


def layer_cost(layer: LayerSummary, levels_per_stage: int) -> LayerCost:
    terms = layer.csd_digits / layer.n_out
    width = _accumulator_bits(layer, terms)
    out_bits = layer.output_bits or width
    levels = math.ceil(math.log2(terms + 1.0)) + 1
    cycles = max(1, math.ceil(levels / levels_per_stage))
    register_bits = 0.0
    for stage in range(1, cycles + 1):
        if stage == cycles:
            register_bits += layer.n_out * out_bits
        else:
            alive = math.ceil(terms / 2 ** (stage * levels_per_stage))
            register_bits += layer.n_out * max(alive, 1) * width
    return LayerCost(layer.csd_digits * width, layer.n_out * out_bits, register_bits, cycles)


#: The coefficients from the reasoning above, before any calibration (``c_add``, ``c_act``,
#: ``c_ff``, cycles): a calibration file replaces them (``nas.estimators.calibration``).
PRIOR = {"lut": (0.55, 1.0), "ff": (1.0,), "latency_cycles": (1.0,)}


class ArchitectureEstimator(ResourceEstimator):
    """Open-flow estimate from widths, bits and weight statistics (microseconds per design).

    Parameters
    ----------
    clock_mhz: target clock; sets how many adder levels fit in one pipeline stage.
    coefficients: per quantity, the coefficients of its features (``quantity_features``);
        default: the uncalibrated ``PRIOR``.
    level_delay_ns: delay of one adder level with routing on a 7-series part.
    """

    name = "architecture"
    prior = PRIOR
    flow = "open"
    part_family = "xc7"
    quantity_features = {"lut": ("adder_bits", "activation_bits"), "ff": ("register_bits",),
                         "latency_cycles": ("cycles",)}
    feature_definitions = {
        "adder_bits": "sum over layers of CSD digits x accumulator width",
        "activation_bits": "sum over layers of outputs x output width",
        "register_bits": "pipeline register bits of the adder trees (module docstring)",
        "cycles": "pipeline stages at the clock, level_delay_ns per adder level",
    }

    def __init__(self, clock_mhz: float = 200.0,
                 coefficients: Mapping[str, Sequence[float]] | None = None,
                 level_delay_ns: float = 1.6):
        if clock_mhz <= 0 or level_delay_ns <= 0:
            raise ValueError("clock_mhz and level_delay_ns must be positive")
        super().__init__(coefficients)
        self.clock_mhz = clock_mhz
        self.level_delay_ns = level_delay_ns

    @property
    def levels_per_stage(self) -> int:
        return max(1, int((1000.0 / self.clock_mhz) // self.level_delay_ns))

    def features(self, design: DesignSummary) -> dict[str, float]:
        costs = [layer_cost(layer, self.levels_per_stage) for layer in design.layers]
        return {"adder_bits": sum(c.adder_bits for c in costs),
                "activation_bits": sum(c.activation_bits for c in costs),
                "register_bits": sum(c.register_bits for c in costs),
                "cycles": float(sum(c.cycles for c in costs))}
