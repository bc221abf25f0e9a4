"""Which bits of a da4ml trace carry the same signal, as logic synthesis sees them.

A requantization is a bit slice of its operand, an adder's bits below the other operand's
lowest bit are copies of the lower operand's, and a register holds what its stage's input
does: following these, two bits that are the same wire are recognised as one. Half-even
rounding (``nas.hls.open_flow.quantize_half_even``) subtracts a value's own truncation to find
the lowest kept bit; every bit of the subtrahend is a bit of the minuend, so the difference is
the minuend's bits below the truncation's step, non-negative, which synthesis reduces to wires
(``remainder_intervals``). da4ml's interval arithmetic does not see the shared bits and gives
the difference the full signed range of a subtraction, and every value computed from it
inherits that range; ``true_intervals`` computes the ranges again from the remainders' true
ones. Both the register count (``nas.estimators.registers``) and the logic count
(``nas.estimators.trace``) read these facts.
"""

import math
from collections.abc import Callable
from typing import NamedTuple

from da4ml.types import CombLogic, QInterval, minimal_kif

from nas.estimators.csd import trailing_zeros


class Stages(NamedTuple):
    """A pipeline's stages and each stage's input intervals (read once: da4ml computes them
    again on every access)."""

    logic: tuple[CombLogic, ...]
    inputs: tuple[tuple[QInterval, ...], ...]


def span(qint: QInterval) -> tuple[int, int, bool]:
    """Positions of a value's bits: lowest, one past the highest, and whether it is signed."""
    width = sum(minimal_kif(qint))
    lsb = int(math.log2(qint.step)) if width else 0
    return lsb, lsb + width, qint.min < 0


def constant_lsb(op) -> int:
    """Position of the lowest set bit of a constant addition's constant."""
    return int(math.log2(op.qint.step)) + trailing_zeros(op.data)


def _passed_through(ops, op, bit: int) -> tuple[int, int] | None:
    """(operand, its bit) that ``bit`` of an addition's result is a copy of: below the other
    operand's (or a constant's) lowest bit, the lower operand's bits pass unchanged."""
    if op.opcode == 4:
        return (op.id0, bit) if op.data and bit < constant_lsb(op) else None
    if op.opcode not in (0, 1):
        return None
    low_a, low_b = span(ops[op.id0].qint)[0], span(ops[op.id1].qint)[0] + op.data
    if bit < low_b:
        return op.id0, bit
    if bit < low_a and op.opcode == 0:
        return op.id1, bit - op.data
    return None


def signal(stages: Stages, position: int, index: int, bit: int) -> tuple[int, int, int] | None:
    """The signal on ``bit`` of operation ``index`` of stage ``position``, followed through
    bit slices (requantizations, bits an adder passes through) and registers to the operation
    that makes it: (stage, operation, bit), (-1, input, bit) for a port bit, or None for a
    constant bit."""
    while True:
        ops = stages.logic[position].ops
        op = ops[index]
        if op.opcode == 5:
            return None
        through = (op.id0, bit) if op.opcode in (-1, 3) else _passed_through(ops, op, bit)
        if through is None:
            return position, index, bit
        operand, bit = through
        source = stages.inputs[position][operand] if op.opcode == -1 else ops[operand].qint
        low, high, signed = span(source)
        if bit < low or (bit >= high and not signed):
            return None  # below the source's step, or an unsigned value's zero extension
        bit = min(bit, high - 1)
        if op.opcode != -1:
            index = operand
        elif position == 0:
            return -1, operand, bit
        else:
            position, index = position - 1, stages.logic[position - 1].out_idxs[operand]


def is_remainder(stages: Stages, position: int, index: int) -> bool:
    """Whether operation ``index`` is ``a - b`` with ``b`` a truncation of ``a`` (every bit of
    ``b`` is the same signal as ``a``'s bit there): the result is ``a``'s bits below ``b``'s
    step, which synthesis reduces to wires (rounding half to even makes these)."""
    ops = stages.logic[position].ops
    op = ops[index]
    if op.opcode != 1 or op.data != 0:
        return False

    def shared(bit: int) -> bool:
        first = signal(stages, position, op.id0, bit)
        return first is not None and first == signal(stages, position, op.id1, bit)

    low, high, _ = span(ops[op.id1].qint)
    return high > low and all(shared(bit) for bit in range(low, high))


def remainder_intervals(comb: CombLogic) -> dict[int, QInterval]:
    """Per half-even rounding remainder of ``comb`` (``is_remainder``), its true interval:
    the minuend's bits below the subtrahend's step, from 0 up, at the minuend's step."""
    stages = Stages((comb,), (tuple(comb.inp_qint),))
    intervals = {}
    for index, op in enumerate(comb.ops):
        if op.opcode == 1 and is_remainder(stages, 0, index):
            minuend, subtrahend = comb.ops[op.id0].qint, comb.ops[op.id1].qint
            intervals[index] = QInterval(0.0, subtrahend.step - minuend.step, minuend.step)
    return intervals


def _within(qint: QInterval, low: float, high: float) -> QInterval:
    """``[low, high]`` at ``qint``'s step (rounded down, as da4ml truncates) where that lies
    within ``qint``; ``qint`` where it does not (the value wraps around)."""
    low = math.floor(low / qint.step) * qint.step
    high = math.floor(high / qint.step) * qint.step
    return QInterval(low, high, qint.step) if qint.min <= low and high <= qint.max else qint


#: Per opcode whose result range follows from its operands' (``CombLogic.predict``): the range,
#: from the operation and its operands' true intervals.
_RANGES: dict[int, Callable] = {
    0: lambda op, a, b: (a.min + b.min * 2.0**op.data, a.max + b.max * 2.0**op.data),
    1: lambda op, a, b: (a.min - b.max * 2.0**op.data, a.max - b.min * 2.0**op.data),
    2: lambda op, a, b: (max(a.min, 0.0), max(a.max, 0.0)),
    3: lambda op, a, b: (a.min, a.max),
    4: lambda op, a, b: (a.min + op.data * op.qint.step, a.max + op.data * op.qint.step),
}


def true_intervals(comb: CombLogic, remainders: dict[int, QInterval]) -> list[QInterval]:
    """Each operation's interval with the rounding remainders at their true ones
    (``remainders``, from ``remainder_intervals``: passed in, as finding them is the costly
    part and callers need them too), carried through additions, ReLUs, requantizations and
    constant additions; da4ml's interval where the value may wrap around or the operation is
    another. A value's bits above its true interval are constants that synthesis propagates (a
    carry into bits where both operands are zero-extended is zero)."""
    intervals: list[QInterval] = []
    for index, op in enumerate(comb.ops):
        if index in remainders:
            intervals.append(remainders[index])
        elif op.opcode in _RANGES:
            second = intervals[op.id1] if op.opcode in (0, 1) else None
            intervals.append(_within(op.qint, *_RANGES[op.opcode](op, intervals[op.id0], second)))
        else:
            intervals.append(op.qint)
    return intervals
