"""The pipeline registers of a da4ml design that logic synthesis keeps.

da4ml's RTL registers every value that crosses a stage boundary at its full width
(``Pipeline.reg_bits``). yosys then drops the flip-flops nothing reads and merges those that
hold the same signal, and both are common in a quantized network:

* a value is often registered beside a bit slice of itself (a ReLU's output and its
  requantization to the next layer's activation type), and an adder's bits below the other
  operand's lowest bit are copies of the lower operand's: the same signals;
* a stage that only requantizes, applies a ReLU or selects by a sign reads part of a
  register: the bits below the result's step, above its range, or all but the sign bit;
* an adder reads an operand's low bits only where the result needs them: below the other
  operand's lowest bit they pass straight through, without a carry;
* half-even rounding subtracts a value's own truncation to find the lowest kept bit: the
  difference is the value's low bits, and the truncated operand is not read at all.

``kept_register_bits`` walks the stages from the output back, propagating which bits of each
value a later operation reads (per operation kind, as da4ml's Verilog computes it), and counts
the distinct signals among the register bits read. Operations it does not model (lookup
tables, multiplications, bit operations) read their operands whole, so the count errs towards
more flip-flops. Not modelled either: at fast clocks (deep pipelines), chains of three or more
registers that only pass a value on become shift-register LUTs (SRL16E) instead of flip-flops.
"""

from da4ml.types import Pipeline, QInterval

from nas.estimators.signals import Stages, constant_lsb, is_remainder, signal, span

#: A carry boundary below every bit (the operand's low bits all feed a carry) and above every
#: bit (no carry: the operation reads only the bits its result needs).
_ALL_CARRY, _NO_CARRY = -(2**31), 2**31


def _operand_bits(qint: QInterval, need: set[int], carry_from: int, shift: int = 0) -> set[int]:
    """Bits of an operand (shifted by ``shift`` into the result) that result bits ``need``
    depend on: the bits at needed positions, every bit from ``carry_from`` up to the highest
    needed one (they feed carries), and the sign bit when a needed bit is its extension."""
    low, high, signed = span(qint)
    if not need or high == low:
        return set()
    top = max(need) - shift
    bits = {p for p in range(low, min(high, top + 1))
            if p + shift in need or p + shift >= carry_from}
    if signed and top >= high - 1:
        bits.add(high - 1)
    return bits


def _mux_shift(data: int) -> int:
    shift = (data >> 32) & 0xFFFFFFFF
    return shift - 2**32 if shift >= 2**31 else shift


def _operand_needs(ops, index: int, need: set[int]) -> list[tuple[int, set[int]]]:
    """(operand index, its bits read) of operation ``index`` when bits ``need`` of its
    result are read (opcodes as in ``da4ml.types.CombLogic.predict``)."""
    op = ops[index]
    if op.opcode in (-1, 5):  # a stage input, a constant
        return []
    operand = ops[op.id0].qint
    if op.opcode in (0, 1):  # a +/- (b << data)
        second = ops[op.id1].qint
        low_a, low_b = span(operand)[0], span(second)[0] + op.data
        carry_b = low_a if op.opcode == 0 else _ALL_CARRY  # a subtrahend is negated whole
        return [(op.id0, _operand_bits(operand, need, low_b)),
                (op.id1, _operand_bits(second, need, carry_b, op.data))]
    if op.opcode in (2, 3):  # ReLU, requantization: a bit slice (a ReLU also reads the sign)
        bits = _operand_bits(operand, need, _NO_CARRY)
        low, high, signed = span(operand)
        if op.opcode == 2 and signed and need and high > low:
            bits.add(high - 1)
        return [(op.id0, bits)]
    if op.opcode == 4:  # + constant: carries from its lowest set bit
        lowest = constant_lsb(op) if op.data else _NO_CARRY
        return [(op.id0, _operand_bits(operand, need, lowest))]
    if op.opcode in (6, -6):  # MSB multiplexer: the condition's top bit selects a or +/- b
        condition = op.data & 0xFFFFFFFF
        low, high, _ = span(ops[condition].qint)
        carry_b = _NO_CARRY if op.opcode == 6 else _ALL_CARRY
        return [(op.id0, _operand_bits(operand, need, _NO_CARRY)),
                (op.id1, _operand_bits(ops[op.id1].qint, need, carry_b, _mux_shift(op.data))),
                (condition, {high - 1} if need and high > low else set())]
    if op.opcode in (-2, -3):  # a negation reads every bit up to the highest needed
        return [(op.id0, _operand_bits(operand, need, _ALL_CARRY))]
    operands = [op.id0, op.id1] if op.id1 >= 0 else [op.id0]  # the rest: whole operands
    return [(i, set(range(*span(ops[i].qint)[:2])) if need else set()) for i in operands]


def _input_needs(stages: Stages, position: int, output_needs: list[set[int]]) -> list[set[int]]:
    """Bits of each input of stage ``position`` read when bits ``output_needs`` of its
    outputs are."""
    stage, inputs_qint = stages.logic[position], stages.inputs[position]
    ops = stage.ops
    need: list[set[int]] = [set() for _ in ops]
    for index, bits, shift in zip(stage.out_idxs, output_needs, stage.out_shifts, strict=True):
        if index >= 0:
            need[index] |= {p - shift for p in bits}
    inputs: list[set[int]] = [set() for _ in inputs_qint]
    for index in range(len(ops) - 1, -1, -1):
        op = ops[index]
        if op.opcode == -1:
            inputs[op.id0] |= _operand_bits(inputs_qint[op.id0], need[index], _NO_CARRY)
        elif need[index] and is_remainder(stages, position, index):
            below = span(ops[op.id1].qint)[0]
            need[op.id0] |= {bit for bit in need[index] if bit < below}
            continue
        for operand, bits in _operand_needs(ops, index, need[index]):
            need[operand] |= bits
    return inputs


def kept_register_bits(pipeline: Pipeline) -> int:
    """Flip-flops of ``pipeline``'s RTL that synthesis keeps (module docstring): the output
    register's distinct values, then per stage boundary the distinct signals read."""
    stages = Stages(pipeline.solutions, tuple(tuple(s.inp_qint) for s in pipeline.solutions))
    last = stages.logic[-1]
    needs = [set(range(*span(q)[:2])) for q in last.out_qint]
    kept = sum(len(bits) for index, bits in
               dict(zip(last.out_idxs, needs, strict=True)).items() if index >= 0)
    for position in range(len(stages.logic) - 1, -1, -1):
        needs = _input_needs(stages, position, needs)
        signals = {signal(stages, position, copy, bit)
                   for copy, op in enumerate(stages.logic[position].ops) if op.opcode == -1
                   for bit in needs[op.id0]}
        kept += len(signals - {None})
    return kept
