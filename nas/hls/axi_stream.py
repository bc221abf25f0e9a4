"""The AXI4-Stream wrapper of a pipelined da4ml design (Verilog text, ``student_axis``).

da4ml's pipeline has no stall input, but all its registers sit in one ``always`` block of its
top (the stages are combinational modules), so the wrapper takes a copy of that top with a
clock enable (``stallable_core``; the stages, the logic checked bit-exact, are untouched) and
stalls the whole pipeline while a result waits at the output: a valid bit and the event's
``TLAST`` move beside each event, the scores and their argmax (the first class of the largest
score) go into a result register, and ``s_axis_tready`` is low exactly while the pipeline is
stalled, so nothing is dropped or repeated, with no buffer: the flip-flops' clock-enable pins
do the holding. With both sides ready one event goes in per clock (``packed`` mode) and the
wrapper adds one cycle of latency (the result register, which also keeps the argmax's
comparison tree off the output). ``m_axis_tready`` reaches ``s_axis_tready`` and the
pipeline's clock enable through one gate, which Vivado's timing, not run here, has to accept.

``m_axis_tlast`` follows the input: a result carries the ``s_axis_tlast`` of its event's last
beat, so an AXI DMA transfer of N events comes back as one transfer of N results, and an event
sent alone as a transfer of its own. The formats and slots are those of
``nas.hls.axis_packing.StreamLayout``.
"""

import re

from nas.hls.board.axis_packing import StreamLayout

MODULE = "student_axis"
#: da4ml's pipeline top with a clock enable.
STALLABLE = "student_stall"


def layout_of(comb, latency: int, divisor: float, mode: str, argmax: bool = True) -> StreamLayout:
    """The stream layout of da4ml logic ``comb`` (its minimal input and output formats)."""
    from da4ml.types import minimal_kif

    def formats(qints):
        return tuple(tuple(int(v) for v in minimal_kif(q)) for q in qints)

    return StreamLayout(formats(comb.inp_qint), formats(comb.out_qint), int(latency),
                        float(divisor), mode, argmax)


def _offsets(widths: list[int]) -> list[int]:
    offsets, total = [], 0
    for width in widths:
        offsets.append(total)
        total += width
    return offsets


def _extend(vector: str, low: int, width: int, signed: bool, to: int, shift: int = 0) -> str:
    """Bits ``[low, low + width)`` of ``vector`` shifted left by ``shift`` and sign- or
    zero-extended to ``to`` bits."""
    if width == 0:
        return f"{to}'d0"
    parts = [f"{vector}[{low + width - 1}:{low}]"] + ([f"{shift}'d0"] if shift else [])
    if to > width + shift:
        fill = to - width - shift
        parts.insert(0, f"{{{fill}{{{vector}[{low + width - 1}]}}}}" if signed else f"{fill}'d0")
    return "{" + ", ".join(parts) + "}"


def _model_inputs(layout: StreamLayout) -> list[str]:
    """Assignments of the core's inputs from the assembled event (beat 0 in its low bits)."""
    lines = []
    for j, (width, offset) in enumerate(zip(layout.in_widths, _offsets(layout.in_widths),
                                            strict=True)):
        beat, slot = divmod(j, layout.per_beat)
        low = beat * layout.in_bits + slot * layout.in_slot
        if width:
            lines.append(f"    assign model_inp[{offset + width - 1}:{offset}] = "
                         f"event_bits[{low + width - 1}:{low}];")
    return lines


def _argmax(layout: StreamLayout) -> list[str]:
    """A comparison tree over the scores aligned to one binary point; on ties the lower class
    wins (numpy's argmax)."""
    outputs = layout.outputs
    point = max(f for _, _, f in outputs)
    width = max(i for _, i, _ in outputs) + point + 1
    lines = []
    level = []
    for j, ((k, _, f), bits, offset) in enumerate(zip(outputs, layout.out_widths,
                                                      _offsets(layout.out_widths), strict=True)):
        lines.append(f"    wire signed [{width - 1}:0] score{j} = "
                     f"{_extend('model_out', offset, bits, bool(k), width, point - f)};")
        level.append((f"{layout.class_bits}'d{j}", f"score{j}"))
    node = 0
    while len(level) > 1:
        paired = []
        for low, high in zip(level[::2], level[1::2], strict=False):
            take = f"take{node}"
            lines += [f"    wire {take} = {high[1]} > {low[1]};",
                      f"    wire [{layout.class_bits - 1}:0] best{node} = "
                      f"{take} ? {high[0]} : {low[0]};",
                      f"    wire signed [{width - 1}:0] top{node} = {take} ? {high[1]} : {low[1]};"]
            paired.append((f"best{node}", f"top{node}"))
            node += 1
        level = paired + ([level[-1]] if len(level) % 2 else [])
    lines.append(f"    wire [{layout.class_bits - 1}:0] argmax = {level[0][0]};")
    return lines


def _result_slots(layout: StreamLayout) -> str:
    """``m_axis_tdata`` from the result register ``{argmax, model_out}`` (``model_out``
    alone without the argmax)."""
    out_width = sum(layout.out_widths)
    parts = [_extend("result", offset, width, bool(k), layout.out_slot)
             for (k, _, _), width, offset in zip(layout.outputs, layout.out_widths,
                                                 _offsets(layout.out_widths), strict=True)]
    if layout.argmax:
        parts.append(_extend("result", out_width, layout.class_bits, False, layout.out_slot))
    used = len(parts) * layout.out_slot
    if used < layout.out_bits:
        parts.append(f"{layout.out_bits - used}'d0")
    return "{" + ", ".join(reversed(parts)) + "}"


def _assembly(layout: StreamLayout) -> list[str]:
    """The beats of an event: the earlier ones held in a register, the last one on the bus."""
    if layout.beats == 1:
        return ["    wire event_in = s_axis_tvalid & s_axis_tready;",
                f"    wire [{layout.in_bits - 1}:0] event_bits = s_axis_tdata;"]
    held = (layout.beats - 1) * layout.in_bits
    count = max(1, (layout.beats - 1).bit_length())
    shift = "s_axis_tdata" if layout.beats == 2 else \
        f"{{s_axis_tdata, held[{held - 1}:{layout.in_bits}]}}"
    return [f"    reg [{count - 1}:0] beat;",
            f"    reg [{held - 1}:0] held;",
            "    wire beat_in = s_axis_tvalid & s_axis_tready;",
            f"    wire event_in = beat_in & (beat == {count}'d{layout.beats - 1});",
            f"    wire [{held + layout.in_bits - 1}:0] event_bits = {{s_axis_tdata, held}};",
            "    always @(posedge aclk) begin",
            f"        if (!aresetn) beat <= {count}'d0;",
            f"        else if (event_in) beat <= {count}'d0;",
            f"        else if (beat_in) beat <= beat + {count}'d1;",
            f"        if (beat_in) held <= {shift};",
            "    end"]


def stallable_core(top_verilog: str, core: str = "student") -> str:
    """da4ml's pipeline top ``core`` as ``STALLABLE`` with a clock enable: its registers move
    only while ``ce`` is high. da4ml 0.6 writes every register of the pipeline in the top's one
    ``always @(posedge clk)`` block and the stages as combinational modules, so one ``if (ce)``
    stalls all of it; any other form is refused rather than guessed at."""
    edits = ((rf"\bmodule {re.escape(core)} \(", f"module {STALLABLE} ("),
             (r"\binput clk,", "input clk,\n    input ce,"),
             (r"always @\(posedge clk\) begin", "always @(posedge clk) if (ce) begin"))
    text = top_verilog
    for pattern, replacement in edits:
        text, found = re.subn(pattern, replacement, text)
        if found != 1:
            raise ValueError(f"da4ml's top '{core}' does not have the expected form "
                             f"('{pattern}' found {found} times): cannot add a clock enable")
    if len(re.findall(r"\balways\b", text)) != 1:
        raise ValueError(f"da4ml's top '{core}' has more than one always block: cannot add a "
                         "clock enable")
    return text


def wrapper_verilog(layout: StreamLayout, top_verilog: str, core: str = "student") -> str:
    """The ``student_axis`` module around a stallable copy of da4ml's top ``core`` (whose
    Verilog is ``top_verilog``), followed by that copy."""
    in_width, out_width = sum(layout.in_widths), sum(layout.out_widths)
    last = layout.latency + 1  # the core's registers, then the result register
    lines = [
        "`timescale 1 ns / 1 ps",
        "// Generated by nas (nas/hls/axi_stream.py): an AXI4-Stream wrapper of the da4ml",
        f"// pipeline '{core}' ({layout.latency} cycles, stalled by a clock enable), "
        f"{layout.mode} mode.",
        "// verilator lint_off UNUSEDSIGNAL",
        f"module {MODULE} (",
        '    (* X_INTERFACE_PARAMETER = "ASSOCIATED_BUSIF s_axis:m_axis, ASSOCIATED_RESET aresetn" *)',
        "    input aclk,",
        "    input aresetn,",
        f"    input [{layout.in_bits - 1}:0] s_axis_tdata,",
        "    input s_axis_tvalid,",
        "    output s_axis_tready,",
        "    input s_axis_tlast,",
        f"    output [{layout.out_bits - 1}:0] m_axis_tdata,",
        "    output m_axis_tvalid,",
        "    input m_axis_tready,",
        "    output m_axis_tlast",
        ");",
        f"    wire [{in_width - 1}:0] model_inp;",
        f"    wire [{out_width - 1}:0] model_out;",
        "    // the pipeline, the result register and the valid and last bits beside them move",
        "    // together, unless a result waits at the output",
        f"    reg [{last}:0] valid, last;",
        f"    reg [{out_width + layout.class_bits * layout.argmax - 1}:0] result;",
        f"    wire advance = ~valid[{last}] | m_axis_tready;",
        f"    {STALLABLE} core (.clk(aclk), .ce(advance), .model_inp(model_inp), "
        ".model_out(model_out));",
        "    assign s_axis_tready = aresetn & advance;",
        f"    assign m_axis_tvalid = valid[{last}];",
        f"    assign m_axis_tlast = last[{last}];",
        *_assembly(layout),
        *_model_inputs(layout),
        *(_argmax(layout) if layout.argmax else []),
        f"    assign m_axis_tdata = {_result_slots(layout)};",
        "    always @(posedge aclk) begin",
        "        if (!aresetn) valid <= 0;",
        f"        else if (advance) valid <= {{valid[{last - 1}:0], event_in}};",
        "        if (advance) begin",
        f"            last <= {{last[{last - 1}:0], s_axis_tlast}};",
        f"            result <= {'{argmax, model_out}' if layout.argmax else 'model_out'};",
        "        end",
        "    end",
        "endmodule",
        "// verilator lint_on UNUSEDSIGNAL",
        "",
        stallable_core(top_verilog, core),
    ]
    return "\n".join(lines) + "\n"
