"""The AXI4-Stream wrapper of a pipelined da4ml design (Verilog text, ``student_axis``).

da4ml's pipeline has no stall input: every register moves on every clock. The wrapper leaves
that RTL (the one checked bit-exact in Verilator) untouched and gives it backpressure with
credits: a valid bit travels beside each event through a shift register as deep as the
pipeline, each result is written with its argmax into an output FIFO (distributed RAM,
``DEPTH`` entries, a power of two of at least ``latency + 3``), and ``s_axis_tready`` is high
only while the events in flight plus those waiting in the FIFO are fewer than ``DEPTH``, so a
result always finds room: nothing is dropped, nothing repeated. With both sides ready the
credits never run out (one event per clock in ``packed`` mode) and the wrapper adds one cycle
of latency (the FIFO write). ``s_axis_tlast`` is ignored: events are counted in beats (the DMA
sends many events in one transfer); ``m_axis_tlast`` is set on every result beat.

The formats and slots are those of ``nas.hls.axis_packing.StreamLayout``.
"""

from nas.hls.board.axis_packing import StreamLayout

MODULE = "student_axis"


def layout_of(comb, latency: int, divisor: float, mode: str) -> StreamLayout:
    """The stream layout of da4ml logic ``comb`` (its minimal input and output formats)."""
    from da4ml.types import minimal_kif

    def formats(qints):
        return tuple(tuple(int(v) for v in minimal_kif(q)) for q in qints)

    return StreamLayout(formats(comb.inp_qint), formats(comb.out_qint), int(latency),
                        float(divisor), mode)


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
    """``m_axis_tdata`` from a FIFO entry ``{argmax, model_out}``."""
    out_width = sum(layout.out_widths)
    parts = [_extend("head", offset, width, bool(k), layout.out_slot)
             for (k, _, _), width, offset in zip(layout.outputs, layout.out_widths,
                                                 _offsets(layout.out_widths), strict=True)]
    parts.append(_extend("head", out_width, layout.class_bits, False, layout.out_slot))
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


def fifo_depth(latency: int) -> int:
    """Entries of the output FIFO: room for every event in flight when ``TREADY`` drops."""
    return 1 << (latency + 2).bit_length()


def wrapper_verilog(layout: StreamLayout, core: str = "student") -> str:
    """The ``student_axis`` module around the da4ml top ``core``."""
    in_width, out_width = sum(layout.in_widths), sum(layout.out_widths)
    depth = fifo_depth(layout.latency)
    address = depth.bit_length() - 1
    entry = out_width + layout.class_bits
    lines = [
        "`timescale 1 ns / 1 ps",
        "// Generated by nas (nas/hls/axi_stream.py): an AXI4-Stream wrapper of the da4ml",
        f"// pipeline '{core}' ({layout.latency} cycles), {layout.mode} mode, output FIFO of "
        f"{depth} entries.",
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
        f"    {core} core (.clk(aclk), .model_inp(model_inp), .model_out(model_out));",
        *_assembly(layout),
        *_model_inputs(layout),
        *_argmax(layout),
        f"    reg [{layout.latency}:0] in_flight;",
        f"    reg [{entry - 1}:0] fifo [0:{depth - 1}];",
        f"    reg [{address}:0] write_at, read_at;",
        f"    reg [{address + 1}:0] used;",
        "    wire done = in_flight[" + str(layout.latency) + "];",
        "    wire result_out = m_axis_tvalid & m_axis_tready;",
        f"    assign s_axis_tready = aresetn & (used < {address + 2}'d{depth});",
        "    assign m_axis_tvalid = write_at != read_at;",
        "    assign m_axis_tlast = 1'b1;",
        f"    wire [{entry - 1}:0] head = fifo[read_at[{address - 1}:0]];",
        f"    assign m_axis_tdata = {_result_slots(layout)};",
        "    always @(posedge aclk) begin",
        f"        if (done) fifo[write_at[{address - 1}:0]] <= {{argmax, model_out}};",
        "        if (!aresetn) begin",
        "            in_flight <= 0;",
        "            write_at <= 0;",
        "            read_at <= 0;",
        "            used <= 0;",
        "        end else begin",
        "            in_flight <= " + ("{in_flight[" + str(layout.latency - 1) + ":0], event_in};"
                                       if layout.latency else "event_in;"),
        f"            write_at <= write_at + {{{address}'d0, done}};",
        f"            read_at <= read_at + {{{address}'d0, result_out}};",
        f"            used <= used + {{{address + 1}'d0, event_in}} - {{{address + 1}'d0, result_out}};",
        "        end",
        "    end",
        "endmodule",
        "// verilator lint_on UNUSEDSIGNAL",
    ]
    return "\n".join(lines) + "\n"
