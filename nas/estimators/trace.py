"""Value-aware features of the open flow: what da4ml builds from the trained, quantized weights.

The trace of a student (``nas.hls.open_flow.trace_student``) is the list of operations that
the RTL implements, each with the exact range of its result. The features count what each
operation costs in the Verilog that da4ml writes for it (``da4ml.codegen.rtl.verilog.comb``):

* an adder or subtractor ``a +/- (b << s)``: a carry chain over the result bits above the
  lower operand's pass-through bits, where a bit costs a LUT when both operands have a bit
  there (their own or a sign extension), or when it is a subtraction (the inverted operand);
  a bit where one operand is zero-extended rides the carry chain without a LUT;
* a constant addition: a carry chain whose bits read the other operand's bit as it is where
  the constant has a 0 (a wire) and inverted where it has a 1 (an inverter, one LUT): the set
  bits of the constant at the result's width, two's complement;
* a ReLU of a signed value: one AND per result bit (unsigned inputs: wires);
* a requantization: a bit slice, free, unless it negates (then an adder);
* half-even rounding's remainder, a value minus its own truncation: the value's low bits,
  wires; what is computed from it has a narrower range than da4ml gives it, and every count
  here reads the true ranges (``nas.estimators.signals.true_intervals``): a ReLU of a value
  that cannot be negative is wires;
* an MSB multiplexer (saturation): one multiplexer per result bit;
* operations nothing reads are not written, so not counted.

Cutting the trace into pipeline stages at the clock period gives the register bits and the
latency in cycles of the generated RTL, and of its register bits those synthesis keeps
(``nas.estimators.registers``: the bits a later stage reads, each distinct signal once).
yosys maps each chain bit to a LUT beside a CARRY4 bit, each kept register bit to an FF, so
a linear model on these counts predicts the synthesis of the same RTL closely, in a fraction
of a second.
"""

import hashlib
import json
from collections.abc import Mapping

from da4ml.trace.pipeline import to_pipeline
from da4ml.types import CombLogic, QInterval, minimal_kif

from nas.estimators.base import ResourceEstimator
from nas.estimators.registers import kept_register_bits
from nas.estimators.signals import remainder_intervals, span, true_intervals
from nas.hls.open_flow import trace_student
from nas.model.config import InputStage

#: Names of the features, as stored in calibration rows and files.
TRACE_FEATURES = ("two_operand_bits", "inverted_bits", "carry_only_bits", "n_add",
                  "const_one_bits", "relu_bits", "mux_bits", "negate_bits", "kept_register_bits",
                  "stages")


def _adder_bits(result: QInterval, first: QInterval, second: QInterval, op) -> dict[str, float]:
    """Bits of ``result = first +/- (second << op.data)`` by what each costs (module
    docstring)."""
    lsb0, msb0, sign0 = span(first)
    lsb1, msb1, sign1 = span(second)
    lsb1, msb1 = lsb1 + op.data, msb1 + op.data
    top = span(result)[1]
    start = max(lsb0, lsb1) if op.opcode == 0 else lsb1
    counts = {"two_operand_bits": 0.0, "inverted_bits": 0.0, "carry_only_bits": 0.0}
    for bit in range(int(start), int(top)):
        has0 = lsb0 <= bit < msb0 or (bit >= msb0 and sign0)
        has1 = lsb1 <= bit < msb1 or (bit >= msb1 and sign1)
        if has0 and has1:
            counts["two_operand_bits"] += 1
        elif (has0 or has1) and op.opcode == 1:
            counts["inverted_bits"] += 1
        else:
            counts["carry_only_bits"] += 1
    return counts


def _set_bits(constant: int, width: int) -> int:
    """Set bits of ``constant`` written in two's complement on ``width`` bits."""
    return (int(constant) % (1 << width)).bit_count()


def trace_features(comb: CombLogic, clock_mhz: float) -> dict[str, float]:
    """Logic bits by kind of operation, pipeline register bits and stages at ``clock_mhz``."""
    features = dict.fromkeys(TRACE_FEATURES, 0.0)
    ops, used = comb.ops, comb.ref_count
    remainders = remainder_intervals(comb)
    intervals = true_intervals(comb, remainders)
    for index, op in enumerate(ops):
        width = sum(minimal_kif(intervals[index]))
        if used[index] == 0 or width == 0 or index in remainders:
            continue
        if op.opcode in (0, 1):
            features["n_add"] += 1
            for name, bits in _adder_bits(intervals[index], intervals[op.id0], intervals[op.id1],
                                          op).items():
                features[name] += bits
        elif op.opcode == 4:
            features["const_one_bits"] += _set_bits(op.data, width)
        elif op.opcode in (2, -2) and intervals[op.id0].min < 0:
            features["relu_bits"] += width
        elif op.opcode in (6, -6):
            features["mux_bits"] += width
        if op.opcode in (-2, -3, -6):
            features["negate_bits"] += sum(minimal_kif(intervals[op.id0]))
    pipeline = to_pipeline(comb, 1000.0 / clock_mhz, verbose=False)
    features["kept_register_bits"] = float(kept_register_bits(pipeline))
    features["stages"] = float(len(pipeline.solutions))
    return features


#: Before calibration: a LUT per adder bit with two operands or inverted, per constant-adder,
#: ReLU, multiplexer or negation bit, an FF per kept register bit, a cycle per stage.
PRIOR = {"lut": (1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0), "ff": (1.0,),
         "latency_cycles": (1.0,)}


class TraceEstimator(ResourceEstimator):
    """Value-aware open-flow estimate: linear in the features of the student's da4ml trace
    (``trace_features``; the design passed to ``predict`` is that feature dict)."""

    name = "trace"
    prior = PRIOR
    flow = "open"
    part_family = "xc7"
    quantity_features = {"lut": ("two_operand_bits", "inverted_bits", "carry_only_bits", "n_add",
                                 "const_one_bits", "relu_bits", "mux_bits", "negate_bits"),
                         "ff": ("kept_register_bits",), "latency_cycles": ("stages",)}
    feature_definitions = {
        "two_operand_bits": "adder bits where both operands have a bit, at the values' true "
                            "ranges (signals.true_intervals; module docstring)",
        "inverted_bits": "subtractor bits where only one operand has a bit",
        "carry_only_bits": "adder bits where one operand is zero-extended",
        "n_add": "adders and subtractors",
        "const_one_bits": "set bits of every added constant at its result's width (two's "
                          "complement): inverters on the carry chain",
        "relu_bits": "result bits of every ReLU of a value that can be negative",
        "mux_bits": "result bits of every MSB multiplexer (saturation)",
        "negate_bits": "operand bits of every negation",
        "kept_register_bits": "pipeline register bits at the clock that synthesis keeps: read "
                              "by a later stage, one per distinct signal (estimators.registers)",
        "stages": "pipeline stages at the clock = latency in cycles",
    }

    def features(self, design: Mapping[str, float]) -> dict[str, float]:
        return dict(design)


#: A fingerprint of the features' definitions: rows computed under other definitions (the
#: same names, counted another way) are computed again.
TRACE_DEFINITIONS = hashlib.sha256(json.dumps(TraceEstimator.feature_definitions,
                                              sort_keys=True).encode()).hexdigest()[:12]


def student_features(model, config, stage: InputStage, clock_mhz: float) -> dict[str, float]:
    """``trace_features`` of a trained student whose inputs arrive as ``stage`` says."""
    return trace_features(trace_student(model, config, stage), clock_mhz)
