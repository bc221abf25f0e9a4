"""The cocotb test of the AXI4-Stream IP (run inside Verilator by ``nas.hls.axis_sim``): it
streams the packed events through ``student_axis`` with cocotbext-axi, optionally with random
``TVALID`` gaps and ``TREADY`` backpressure, and records every result beat and the clock
cycle of every event's handshakes. The events go in batches, one frame each (``TLAST`` on its
last beat, as an AXI DMA sends a transfer), and the results are received as frames, so the
record holds where ``m_axis_tlast`` ended them. The case to run (a JSON file named by
``NAS_AXIS_CASE``) names the input words, the batch sizes, the layout and the pause
probabilities; the record goes to its ``result`` path."""

import json
import os
import random
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge, SimTimeoutError, with_timeout
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

from nas.hls.board.axis_packing import StreamLayout

#: Cycles per pipeline stage a result may take under backpressure before it counts as lost.
_PATIENCE = 50


def _pauses(rng: random.Random, probability: float):
    while True:
        yield rng.random() < probability


async def _count_handshakes(dut, beats: int, inputs: list[int], outputs: list[int]) -> None:
    """The cycle of each event's last input beat and of each result beat."""
    cycle = beat = 0
    while True:
        await RisingEdge(dut.aclk)
        await ReadOnly()
        cycle += 1
        if int(dut.s_axis_tvalid.value) and int(dut.s_axis_tready.value):
            beat += 1
            if beat == beats:
                beat = 0
                inputs.append(cycle)
        if int(dut.m_axis_tvalid.value) and int(dut.m_axis_tready.value):
            outputs.append(cycle)


@cocotb.test()
async def stream_events(dut):
    case = json.loads(Path(os.environ["NAS_AXIS_CASE"]).read_text())
    layout = StreamLayout.from_json(case["layout"])
    words = np.load(case["words"])
    event_bytes = layout.beats * layout.in_bits // 8
    events = words.view(np.uint8).reshape(-1, event_bytes)
    cocotb.start_soon(Clock(dut.aclk, 10, unit="ns").start())
    source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.aclk, dut.aresetn,
                             reset_active_level=False)
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.aclk, dut.aresetn,
                         reset_active_level=False)
    rng = random.Random(case["seed"])
    if case["input_gaps"]:
        source.set_pause_generator(_pauses(rng, case["input_gaps"]))
    if case["output_stalls"]:
        sink.set_pause_generator(_pauses(rng, case["output_stalls"]))
    dut.aresetn.value = 0
    dut.s_axis_tvalid.value = 0
    dut.m_axis_tready.value = 0
    await ClockCycles(dut.aclk, 4)
    dut.aresetn.value = 1
    await ClockCycles(dut.aclk, 2)
    inputs: list[int] = []
    outputs: list[int] = []
    cocotb.start_soon(_count_handshakes(dut, layout.beats, inputs, outputs))
    batches = np.cumsum(case["batches"])[:-1]
    for batch in np.split(events, batches):
        await source.send(AxiStreamFrame(batch.tobytes()))
    received, frames = b"", []
    while len(received) < len(events) * layout.out_bits // 8:  # a lost result ends the wait
        try:
            frame = await with_timeout(sink.recv(), 10 * _PATIENCE * (layout.latency + 10)
                                       * max(case["batches"]), "ns")
        except SimTimeoutError:
            break
        received += bytes(frame.tdata)
        frames.append(len(frame.tdata) * 8 // layout.out_bits)
    await ClockCycles(dut.aclk, layout.latency + 8)
    Path(case["result"]).write_text(json.dumps({
        "words": np.frombuffer(received, dtype="<u4").tolist(), "frames": frames,
        "input_cycles": inputs, "output_cycles": outputs, "extra_beats": sink.count()}))
