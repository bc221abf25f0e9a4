"""Value-aware features of the open flow: what da4ml builds from the trained, quantized weights.

The trace of a student (``nas.hls.open_flow.trace_student``) is the list of operations that
the RTL implements, each with the exact range of its result. The features count what each
operation costs in the Verilog that da4ml writes for it (``da4ml.codegen.rtl.verilog.comb``):

* an adder or subtractor ``a +/- (b << s)``: a carry chain over the result bits above the
  lower operand's pass-through bits, where a bit costs a LUT when both operands have a bit
  there (their own or a sign extension), or when it is a subtraction (the inverted operand);
  a bit where one operand is zero-extended rides the carry chain without a LUT;
* a constant addition: a chain from the constant's lowest set bit up;
* a ReLU of a signed value: one AND per result bit (unsigned inputs: wires);
* a requantization: a bit slice, free, unless it negates (then an adder);
* an MSB multiplexer (saturation): one multiplexer per result bit;
* operations nothing reads are not written, so not counted.

Cutting the trace into pipeline stages at the clock period gives the register bits and the
latency in cycles of the generated RTL, and of its register bits those synthesis keeps
(``nas.estimators.registers``: the bits a later stage reads, each distinct signal once).
yosys maps each chain bit to a LUT beside a CARRY4 bit, each kept register bit to an FF, so
a linear model on these counts predicts the synthesis of the same RTL closely, in a fraction
of a second.
"""

import math
from collections.abc import Mapping

from da4ml.trace.pipeline import to_pipeline
from da4ml.types import CombLogic, minimal_kif

from nas.estimators.base import ResourceEstimator
from nas.estimators.csd import trailing_zeros
from nas.estimators.registers import kept_register_bits
from nas.hls.open_flow import trace_student
from nas.model.config import InputStage

#: Names of the features, as stored in calibration rows and files.
TRACE_FEATURES = ("both_bits", "inverted_bits", "carry_only_bits", "n_add", "const_add_bits",
                  "relu_bits", "mux_bits", "negate_bits", "kept_register_bits", "stages")


def _lsb(qint) -> float:
    return math.log2(qint.step)


def _adder_bits(op, first, second) -> dict[str, float]:
    """Result bits of ``first +/- (second << shift)`` by what each costs (module docstring)."""
    lsb0, lsb1 = _lsb(first.qint), _lsb(second.qint) + op.data
    (sign0, *_), (sign1, *_) = minimal_kif(first.qint), minimal_kif(second.qint)
    msb0 = lsb0 + sum(minimal_kif(first.qint))
    msb1 = lsb1 + sum(minimal_kif(second.qint))
    top = _lsb(op.qint) + sum(minimal_kif(op.qint))
    start = max(lsb0, lsb1) if op.opcode == 0 else lsb1
    counts = {"both_bits": 0.0, "inverted_bits": 0.0, "carry_only_bits": 0.0}
    for bit in range(int(start), int(top)):
        has0 = lsb0 <= bit < msb0 or (bit >= msb0 and sign0)
        has1 = lsb1 <= bit < msb1 or (bit >= msb1 and sign1)
        if has0 and has1:
            counts["both_bits"] += 1
        elif (has0 or has1) and op.opcode == 1:
            counts["inverted_bits"] += 1
        else:
            counts["carry_only_bits"] += 1
    return counts


def trace_features(comb: CombLogic, clock_mhz: float) -> dict[str, float]:
    """Logic bits by kind of operation, pipeline register bits and stages at ``clock_mhz``."""
    features = dict.fromkeys(TRACE_FEATURES, 0.0)
    ops, used = comb.ops, comb.ref_count
    for index, op in enumerate(ops):
        width = sum(minimal_kif(op.qint))
        if used[index] == 0 or width == 0:
            continue
        if op.opcode in (0, 1):
            features["n_add"] += 1
            for name, bits in _adder_bits(op, ops[op.id0], ops[op.id1]).items():
                features[name] += bits
        elif op.opcode == 4:
            features["const_add_bits"] += max(1.0, width - trailing_zeros(op.data))
        elif op.opcode in (2, -2) and ops[op.id0].qint.min < 0:
            features["relu_bits"] += width
        elif op.opcode in (6, -6):
            features["mux_bits"] += width
        if op.opcode in (-2, -3, -6):
            features["negate_bits"] += sum(minimal_kif(ops[op.id0].qint))
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
    quantity_features = {"lut": ("both_bits", "inverted_bits", "carry_only_bits", "n_add",
                                 "const_add_bits", "relu_bits", "mux_bits", "negate_bits"),
                         "ff": ("kept_register_bits",), "latency_cycles": ("stages",)}
    feature_definitions = {
        "both_bits": "adder bits where both operands have a bit (module docstring)",
        "inverted_bits": "subtractor bits where only one operand has a bit",
        "carry_only_bits": "adder bits where one operand is zero-extended",
        "n_add": "adders and subtractors",
        "const_add_bits": "carry-chain bits of every constant addition",
        "relu_bits": "result bits of every ReLU of a signed value",
        "mux_bits": "result bits of every MSB multiplexer (saturation)",
        "negate_bits": "operand bits of every negation",
        "kept_register_bits": "pipeline register bits at the clock that synthesis keeps: read "
                              "by a later stage, one per distinct signal (estimators.registers)",
        "stages": "pipeline stages at the clock = latency in cycles",
    }

    def features(self, design: Mapping[str, float]) -> dict[str, float]:
        return dict(design)


def student_features(model, config, stage: InputStage, clock_mhz: float) -> dict[str, float]:
    """``trace_features`` of a trained student whose inputs arrive as ``stage`` says."""
    return trace_features(trace_student(model, config, stage), clock_mhz)
