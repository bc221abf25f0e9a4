"""The vendor HLS estimator: features of what HLS builds (``rules``) for a design
(``design``), each quantity a non-negative combination of named features, whose coefficients
are named in ``PRIOR`` and fitted by ``fit.fit_log_huber``.

**Pipeline.** HLS chains operations into a clock cycle while their delays fit in the period
less the clock uncertainty, on a part whose logic is ``delay_scale`` times a -1 Artix-7's: the
latency model is linear in nanoseconds of delay per usable nanosecond of the clock (a
multiplier, an adder level, an adder level per accumulator bit, the extra a level takes in
Vitis HLS; per part family; the softmax and sigmoid/tanh tables), plus the reuse passes (one
cycle each: fixed, not fitted), a register between two layers (a lone layer whose delays fit
the period is combinational: the wa-hls4ml sweep reports 0 cycles for most) and the
interface. Its coefficients are delays in nanoseconds and cycles. The flip-flops are the
registers such a pipeline needs: the adder-tree bits times the cycles one pass through the
layer takes as the fitted latency counts them, unrounded (a layer whose delays fit far inside
a cycle registers almost nothing: the per-layer reports of the public projects show 0 FF for
every 0-cycle layer; the latency is fitted first), on UltraScale also the adder-tree bits per
usable nanosecond; the operand bits of each DSP slice times the pipeline registers its product
needs (``_multiplier_registers``: on 7-series a step, on UltraScale a line in the clock), the
registered sums (the layer outputs; a Resource-strategy layer above reuse 1 has its
accumulators instead), the products that wait for a later pass.

**LUT** is linear in the adder-tree bits, the bits of the fabric multipliers (CSD digits x
input width), the glue of each DSP product, the activations' bits, the softmax outputs, the
operand multiplexers of shared multipliers and the Resource strategy's multiplexers and
accumulators, plus a constant for the interface and control and one for each layer after the
first (hls4ml's layers are modules of their own, each with its control). **BRAM** counts the
softmax and sigmoid/tanh tables and the Resource strategy's weight ROMs.
"""

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from nas.estimators.base import QUANTITIES, ResourceEstimator, check_fit_data
from nas.estimators.vendor.design import VendorDesign, VendorLayer
from nas.estimators.vendor.fit import fit_log_huber
from nas.estimators.vendor.rules import LayerPlan, plan, tree_bits
from nas.estimators.vendor.rules import interval as pipelined_interval
from nas.spaces.parts import DSP_PORTS

FAMILIES = tuple(DSP_PORTS)
LATENCY = "latency_cycles"
TABLE_ACTIVATIONS = ("sigmoid", "tanh")
#: The latency features of a layer's activation (HLS makes it a function of its own).
ACTIVATION_DELAYS = ("softmax_ns", "table_ns")

#: Per family, a DSP multiplier's delay, an adder level's, an adder level's per accumulator
#: bit and the extra a level takes in Vitis HLS (ns of a -1 Artix-7), before calibration.
_FAMILY_DELAYS = {"xc7": {"multiplier_ns": 8.0, "level_ns": 1.0, "level_bit_ns": 0.05,
                          "vitis_level_ns": 0.0},
                  "ultrascale": {"multiplier_ns": 5.0, "level_ns": 0.6, "level_bit_ns": 0.03,
                                 "vitis_level_ns": 0.0}}
#: Per family, registered bits per DSP operand bit (UltraScale: per pipeline stage; 7-series:
#: with one register, with the slice's whole pipeline) and, on UltraScale, ns of adder delay
#: per registered adder-tree bit, before calibration. 7-series counts its adder-tree
#: registers by depth alone: fitted beside the depth count, the per-ns count was 0 on all
#: the reports and traded places with it when a repository was left out (MinhNguy3n's deep
#: fabric pipeline: 0 and 2.1 FF per bit-ns against 0.15 and 0 per bit-cycle); chosen for
#: each repository by the others' leave-one-repository-out FF, the depth alone won for 11 of 12.
_FAMILY_REGISTERS = {"xc7": {"multiplier_stage_bits": 1.0, "multiplier_pipeline_bits": 3.0},
                     "ultrascale": {"tree_register_ns": 0.5, "multiplier_stage_bits": 0.4}}
#: A DSP product's delay through the slice and its routing, unregistered (ns of a -1
#: Artix-7): a period this long or longer needs no pipeline register in it.
MULTIPLIER_NS = 8.0
#: 7-series: below this usable period (ns of a -1 Artix-7) HLS fills the DSP48E1's own
#: pipeline (input, multiplier and output registers) rather than registering the product once.
#: The per-layer reports (products of up to 18 bits) step there rather than follow the
#: clock: 25-38 FF per DSP where 5.86 and 6.61 ns are usable (a -2 Virtex-7, a -3), 108-117
#: where 3.65 and 4.38 are (-1 Zynq parts at 5 ns), about 2 at 21.9 ns (pominiq's 25 ns).
#: Any value between 4.38 and 5.86 counts these reports alike.
FULL_PIPELINE_NS = 5.0


def _per_family(values: dict[str, dict[str, float]]) -> dict[str, float]:
    return {f"{name}_{family}": value for family in FAMILIES
            for name, value in values[family].items()}


#: Resource strategy above ``reuse = n_in``: hls4ml's loop sends each multiplier's products to
#: ``reuse / n_in`` accumulators in turn, and what HLS makes of that accumulator multiplexing
#: depends on that fold (classes up to 2, 3, 4, 6, 8, 12, 16 and more: the sweep's LUTs per
#: output bit differ by up to 10x between folds, and not monotonically) and on whether the
#: layer has more than
#: ``WIDE_OUTPUTS`` outputs (the sweep's LUTs per output jump between 128 and 160 outputs at
#: every fold), so each fold class and size has its own coefficient: a table read off the
#: wa-hls4ml sweep, the only Resource-strategy reports at hand.
FOLDS = {"2": 2.0, "3": 3.0, "4": 4.0, "6": 6.0, "8": 8.0, "12": 12.0, "16": 16.0,
         "more": float("inf")}
WIDE_OUTPUTS = 128
FOLD_FEATURES = tuple(f"resource_fold_{fold}_{size}_bits" for fold in FOLDS
                      for size in ("narrow", "wide"))


def fold_feature(layer: VendorLayer) -> str | None:
    """The fold feature (``FOLD_FEATURES``) a Resource-strategy layer counts in, None at
    ``reuse <= n_in`` and for the Latency strategy."""
    if layer.strategy != "resource" or layer.reuse_factor <= layer.n_in:
        return None
    fold = layer.reuse_factor / layer.n_in
    name = next(name for name, most in FOLDS.items() if fold <= most)
    return f"resource_fold_{name}_{'wide' if layer.n_out > WIDE_OUTPUTS else 'narrow'}_bits"


#: Per quantity, its features and their coefficients before calibration (delays in ns of a
#: -1 Artix-7, cycles, LUTs or FFs per counted bit, BRAM36 per table or per 36 Kib of ROM).
#: The order of a quantity's features is the order of its coefficients in calibration files.
PRIOR: dict[str, dict[str, float]] = {
    "latency_cycles": {**_per_family(_FAMILY_DELAYS), "layer_boundaries": 1.0,
                       "reuse_passes": 1.0, "softmax_ns": 20.0, "table_ns": 8.0, "design": 1.0},
    "ff": {**_per_family(_FAMILY_REGISTERS), **{f"depth_adder_bits_{f}": 0.0 for f in FAMILIES},
           "sum_register_bits": 1.0, "reuse_register_bits": 1.0,
           "resource_accum_bits": 1.0, "design": 100.0},
    "lut": {"adder_bits": 1.0, "fabric_multiplier_bits": 1.0, "dsp_products": 10.0,
            "activation_bits": 1.0, "softmax_outputs": 50.0, "reuse_mux_bits": 1.0,
            "resource_mux_bits": 1.0, "resource_accum_bits": 2.0,
            **dict.fromkeys(FOLD_FEATURES, 10.0), "resource_input_select_bits": 2.0,
            "layer_boundaries": 100.0, "design": 100.0},
    "dsp": {"dsp_slices": 1.0, "softmax": 5.0},
    "bram": {"softmax": 1.0, "table_activations": 0.5, "resource_rom_bits": 1.0 / 36864},
}
#: Coefficients that structure fixes rather than the fit: every pass over shared multipliers
#: (Latency strategy) and every iteration of the Resource strategy's reuse loop (pipelined at
#: an interval of 1) is one clock cycle; every DSP slice the binding rule counts is one DSP
#: (fitted, the coefficient drifts to 1.02 with the public reports and the sweep's exact
#: counts are lost: 81 % of all designs exact with it fixed, 67 % fitted); every output bit of
#: an activation is one LUT (a ReLU gates each bit by the sign; fitted, the coefficient drifts
#: to 3.5 LUTs a bit, taking up what the adder trees miss, and the pruned designs, which keep
#: their outputs while losing most adders, are over-estimated: leave-one-repository-out LUT
#: MAPE on the public reports 66.8 % fitted, 58.7 % fixed, when this was decided).
FIXED = {"latency_cycles": {"reuse_passes": 1.0}, "dsp": {"dsp_slices": 1.0},
         "lut": {"activation_bits": 1.0}}
ALL_FEATURES = tuple(dict.fromkeys(name for named in PRIOR.values() for name in named))


def _latency_terms(design: VendorDesign, layer: VendorLayer, step: LayerPlan) -> dict[str, float]:
    """One layer's share of each latency feature."""
    usable, family = design.usable_ns, design.part_family
    values = dict.fromkeys(PRIOR[LATENCY], 0.0)
    values[f"multiplier_ns_{family}"] = (1.0 if step.dsp_units else 0.0) / usable
    values[f"level_ns_{family}"] = step.levels / usable
    values[f"level_bit_ns_{family}"] = step.levels * layer.accum_bits / usable
    if design.tool == "Vitis HLS":
        values[f"vitis_level_ns_{family}"] = step.levels / usable
    values["reuse_passes"] = step.passes - 1.0
    values["softmax_ns"] = float(layer.activation == "softmax") / usable
    values["table_ns"] = float(layer.activation in TABLE_ACTIVATIONS) / usable
    return values


class VendorEstimator(ResourceEstimator):
    """Vendor HLS estimate of an hls4ml dense network (module docstring)."""

    name = "vendor_hls"
    flow = "vitis"
    part_family = "xc7+ultrascale"
    prior = {quantity: tuple(named.values()) for quantity, named in PRIOR.items()}
    quantity_features = {quantity: tuple(named) for quantity, named in PRIOR.items()}
    feature_definitions = {
        **{f"multiplier_ns_{f}": f"{f}: layers with DSP products, per usable ns of the clock "
           f"(coefficient: a DSP multiplier's delay, ns)" for f in FAMILIES},
        **{f"level_ns_{f}": f"{f}: adder-tree levels per usable ns (coefficient: ns per level)"
           for f in FAMILIES},
        **{f"level_bit_ns_{f}": f"{f}: adder-tree levels x accumulator bits per usable ns "
           f"(coefficient: ns per carry bit)" for f in FAMILIES},
        **{f"vitis_level_ns_{f}": f"{f}: adder-tree levels per usable ns in Vitis HLS "
           f"(coefficient: the ns per level Vitis HLS adds to Vivado HLS's)" for f in FAMILIES},
        "layer_boundaries": "dense layers after the first (latency: the register between two "
                            "layers; LUT: each further layer module's control)",
        "reuse_passes": "passes beyond the first over shared multipliers, summed over layers",
        "softmax_ns": "softmax activations per usable ns (coefficient: a softmax's delay, ns)",
        "table_ns": "sigmoid and tanh activations (table lookups) per usable ns (coefficient: "
                    "a lookup's delay, ns)",
        "softmax": "softmax activations",
        "table_activations": "sigmoid and tanh activations (table lookups)",
        "design": "one per design (interface and control)",
        "tree_register_ns_ultrascale": "ultrascale: adder-tree bits per usable ns of the clock "
                                       "(coefficient: ns of adder delay per registered bit)",
        "multiplier_stage_bits_ultrascale": "ultrascale: DSP slices x operand bits x the "
                                            "pipeline stages a product needs, MULTIPLIER_NS / "
                                            "usable ns - 1 (none at a period that long; "
                                            "coefficient: registered bits per operand bit and "
                                            "stage)",
        "multiplier_stage_bits_xc7": "xc7: DSP slices x operand bits where the usable period is "
                                     "FULL_PIPELINE_NS or more and under MULTIPLIER_NS (one "
                                     "register; coefficient: registered bits per operand bit)",
        "multiplier_pipeline_bits_xc7": "xc7: DSP slices x operand bits where the usable period "
                                        "is under FULL_PIPELINE_NS (the slice's whole pipeline; "
                                        "coefficient: registered bits per operand bit)",
        **{f"depth_adder_bits_{f}": f"{f}: adder-tree bits x the cycles one pass through the "
           f"layer takes, as the fitted latency counts them (Latency strategy or reuse 1; "
           f"coefficient: registered bits per adder-tree bit and cycle)" for f in FAMILIES},
        "sum_register_bits": "registered sums x accumulator bits: the outputs of each layer "
                             "but the Resource strategy's above reuse 1 (whose sums are its "
                             "accumulators: resource_accum_bits)",
        "reuse_register_bits": "products waiting for a later pass x accumulator bits",
        "resource_accum_bits": "Resource strategy: outputs x accumulator bits",
        "resource_input_select_bits": "Resource strategy: inputs x input bits (the multiplexer "
                                      "that picks each pass's input)",
        **{f"resource_fold_{fold}_{size}_bits": f"Resource strategy, reuse / n_in in the fold "
           f"class {fold} (up to {most:g}), {size} ({'more than' if size == 'wide' else 'at most'} "
           f"{WIDE_OUTPUTS} outputs): outputs x accumulator bits"
           for fold, most in FOLDS.items() for size in ("narrow", "wide")},
        "adder_bits": "adder-tree bits (each adder as wide as its operands' sum, at most the "
                      "accumulator)",
        "fabric_multiplier_bits": "CSD digits of fabric-built constants x input bits",
        "dsp_products": "products bound to DSP slices",
        "activation_bits": "output bits of layers with an activation (coefficient fixed: one "
                           "LUT per bit, a ReLU gating each bit by the sign)",
        "softmax_outputs": "outputs of softmax activations",
        "reuse_mux_bits": "operand multiplexer bits of shared multipliers",
        "resource_mux_bits": "Resource strategy: multipliers x operand bits",
        "dsp_slices": "DSP slices of the DSP-bound products (shared: the multiplier limit)",
        "resource_rom_bits": "Resource strategy: weight ROM bits",
    }

    def multiplier_registers(self, family: str, usable: float) -> dict[str, float]:
        """Per DSP operand bit, the FF features a product's pipeline registers count in at a
        ``usable`` period (``_multiplier_registers``; the benchmark scores another form)."""
        return _multiplier_registers(family, usable)

    def features(self, design: VendorDesign) -> dict[str, float]:
        family, usable = design.part_family, design.usable_ns
        values = dict.fromkeys(ALL_FEATURES, 0.0)
        for layer in design.layers:
            step = plan(layer, family)
            latency = _latency_terms(design, layer, step)
            for name, value in latency.items():
                values[name] += value
            values["softmax"] += float(layer.activation == "softmax")
            values["table_activations"] += float(layer.activation in TABLE_ACTIVATIONS)
            if layer.strategy == "latency" or layer.reuse_factor == 1:
                if f"tree_register_ns_{family}" in values:
                    values[f"tree_register_ns_{family}"] += \
                        step.terms * layer.outputs * layer.accum_bits / usable
                values[f"depth_adder_bits_{family}"] += \
                    self._pipeline_depth(latency) * _adder_bits(layer, step)
            for name, registers in self.multiplier_registers(family, usable).items():
                values[name] += step.slices * (layer.input_bits + layer.weight_bits) * registers
            _add_resources(values, layer, step)
        values["layer_boundaries"] = len(design.layers) - 1.0
        values["design"] = 1.0
        return values

    def layer_cycles(self, design: VendorDesign) -> list[float]:
        """Each dense layer's own cycles as the latency estimate counts them, unrounded: its
        share of the latency features (the multiplier, the adder levels, the reuse passes)
        times their coefficients; its activation, the registers between layers and the
        interface apart. What the report of the layer's own function says, where HLS keeps
        one."""
        return [self._cycles(_latency_terms(design, layer, plan(layer, design.part_family)),
                             ACTIVATION_DELAYS) for layer in design.layers]

    def _cycles(self, terms: dict[str, float], apart: tuple[str, ...]) -> float:
        """The cycles a layer's latency ``terms`` give, those named ``apart`` left out."""
        return sum(coefficient * terms[name] for name, coefficient in zip(
            self.quantity_features[LATENCY], self.coefficients[LATENCY], strict=True)
            if name not in apart)

    def _pipeline_depth(self, terms: dict[str, float]) -> float:
        """The cycles one pass through a layer of these latency ``terms`` takes (its own
        cycles less its passes beyond the first), none below zero: the stages its adder trees
        are cut into."""
        return max(self._cycles(terms, (*ACTIVATION_DELAYS, "reuse_passes")), 0.0)

    def interval(self, design: VendorDesign) -> int:
        """Cycles between inputs. One pipeline (a Latency-strategy network): the most passes
        of any layer over its shared multipliers (``rules.interval``). A DATAFLOW region: its
        slowest layer, one that shares its multipliers taking its passes and one that does
        not its latency + 1 (a process that is not pipelined: so the wa-hls4ml sweep's
        Resource-strategy layers at reuse 1 report, 35 of 35)."""
        if not design.dataflow:
            return pipelined_interval(design)
        return max(self._process_interval(design, layer) for layer in design.layers)

    def _process_interval(self, design: VendorDesign, layer: VendorLayer) -> int:
        passes = plan(layer, design.part_family).passes
        if passes > 1:
            return passes
        cycles = float(self._values([replace(design, layers=(layer,))])[LATENCY][0])
        return int(np.floor(max(cycles, 0.0) + 0.5)) + 1

    def fit(self, designs: Sequence, measured: np.ndarray,
            sample_weight: Sequence[float] | None = None) -> "VendorEstimator":
        """Each quantity by ``fit_log_huber`` from the prior; the coefficients in ``FIXED``
        keep their value. The latency first: the pipeline-depth registers of the flip-flops
        (``depth_adder_bits``) count the cycles its coefficients give."""
        measured, weight = check_fit_data(designs, measured, sample_weight)
        self._fit_quantity(LATENCY, self._matrices(designs)[LATENCY], measured, weight)
        for quantity, matrix in self._matrices(designs).items():
            if quantity != LATENCY:
                self._fit_quantity(quantity, matrix, measured, weight)
        return self

    def _fit_quantity(self, quantity: str, matrix: np.ndarray, measured: np.ndarray,
                      weight: np.ndarray) -> None:
        names, fixed = self.quantity_features[quantity], FIXED.get(quantity, {})
        free = np.array([name not in fixed for name in names])
        coefficients = np.array([fixed.get(name, 0.0) for name in names])
        coefficients[free] = fit_log_huber(
            matrix[:, free], measured[:, QUANTITIES.index(quantity)],
            np.asarray(self.prior[quantity])[free], weight,
            offset=matrix[:, ~free] @ coefficients[~free])
        self.coefficients[quantity] = tuple(float(c) for c in coefficients)


def multiplier_stages(usable: float) -> float:
    """The pipeline stages a DSP product needs at a ``usable`` period as a line in the clock,
    ``MULTIPLIER_NS / usable - 1``, none at ``MULTIPLIER_NS`` or longer."""
    return max(0.0, MULTIPLIER_NS / usable - 1.0)


def _multiplier_registers(family: str, usable: float) -> dict[str, float]:
    """Per DSP operand bit, the FF features a product's pipeline registers count in at a
    ``usable`` period (ns of a -1 Artix-7): on 7-series one register from ``MULTIPLIER_NS``
    down to ``FULL_PIPELINE_NS`` and the slice's whole pipeline below (a step, as the
    per-layer reports show), on UltraScale ``MULTIPLIER_NS / usable - 1`` stages (its reports,
    at 5.2-7.1 usable ns, follow that line; the step fitted there was worse)."""
    if family != "xc7":
        return {f"multiplier_stage_bits_{family}": multiplier_stages(usable)}
    return {"multiplier_stage_bits_xc7": float(FULL_PIPELINE_NS <= usable < MULTIPLIER_NS),
            "multiplier_pipeline_bits_xc7": float(usable < FULL_PIPELINE_NS)}


def _adder_bits(layer: VendorLayer, step: LayerPlan) -> float:
    """The bits of a layer's adder trees (one per live output)."""
    return layer.outputs * tree_bits(step.terms, layer.input_bits + layer.weight_bits,
                                     layer.accum_bits)


def _add_resources(values: dict[str, float], layer: VendorLayer, step: LayerPlan) -> None:
    """One layer's share of the LUT, FF, DSP and BRAM features."""
    if layer.activation not in ("linear", ""):
        values["activation_bits"] += layer.outputs * layer.output_bits
    if layer.activation == "softmax":
        values["softmax_outputs"] += layer.n_out
    values["dsp_slices"] += step.slices
    if layer.strategy == "resource" and layer.reuse_factor > 1:
        values["resource_mux_bits"] += step.mux_bits
        values["resource_accum_bits"] += layer.n_out * layer.accum_bits
        values["resource_input_select_bits"] += layer.n_in * layer.input_bits
        fold = fold_feature(layer)
        if fold:
            values[fold] += layer.n_out * layer.accum_bits
        values["resource_rom_bits"] += layer.n_weights * layer.weight_bits
        return
    values["sum_register_bits"] += layer.outputs * layer.accum_bits
    values["adder_bits"] += _adder_bits(layer, step)
    values["fabric_multiplier_bits"] += step.fabric_digits * layer.input_bits
    values["dsp_products"] += step.dsp_products
    values["reuse_mux_bits"] += step.mux_bits
    values["reuse_register_bits"] += step.waiting * layer.accum_bits
