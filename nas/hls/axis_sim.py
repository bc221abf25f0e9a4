"""The AXI4-Stream IP simulated: ``student_axis`` and its da4ml core built with Verilator
through cocotb's runner, the events streamed by ``nas.hls.axis_testbench`` twice (every
cycle ready on both sides, then with random input gaps and output backpressure) in batches of
random sizes (``TLAST`` on each batch's last beat), every result compared with the expected
scores and classes and every batch's results with one frame (``TLAST`` on its last)."""

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from nas.hls.board.axis_packing import StreamLayout, pack_events, scores_of, unpack_results
from nas.hls.open_flow import verilator_environment

TESTBENCH = "nas.hls.axis_testbench"


@dataclass(frozen=True)
class StreamRun:
    """One pass of the events through the IP."""

    input_gaps: float
    output_stalls: float
    events: int
    received: int
    #: Beats received after the last expected one (a duplicate would show here).
    extra_beats: int
    batches: int
    #: Whether the results came back in frames of the batches' sizes, in order.
    batch_ends_exact: bool
    scores_exact_fraction: float
    classes_exact_fraction: float
    #: Cycles from an event's last input handshake to its result's handshake.
    latency_min: int
    latency_max: int
    #: Events per cycle: the slower of the inputs' and the results' rates (handshakes over
    #: the cycles from the first to the last).
    events_per_cycle: float


@dataclass(frozen=True)
class StreamCheck:
    mode: str
    core_latency: int
    full_rate: StreamRun
    backpressure: StreamRun

    @property
    def bit_exact(self) -> bool:
        return all(run.received == run.events and run.extra_beats == 0 and run.batch_ends_exact
                   and run.scores_exact_fraction == 1.0 and run.classes_exact_fraction == 1.0
                   for run in (self.full_rate, self.backpressure))

    @property
    def added_latency(self) -> int:
        """Cycles the wrapper adds: the bare core's result is taken ``latency + 1`` edges after
        its input (its output register is read on the next edge)."""
        return self.full_rate.latency_max - (self.core_latency + 1)

    def to_dict(self) -> dict:
        return {**asdict(self), "bit_exact": self.bit_exact, "added_latency": self.added_latency}


def rtl_sources(src: Path) -> list[Path]:
    """The da4ml Verilog of ``src`` (without its simulation wrapper) and the stream wrapper."""
    return sorted(p for p in src.rglob("*.v") if not p.name.endswith("_wrapper.v"))


def build(src: Path, build_dir: Path, top: str):
    from cocotb_tools.runner import get_runner

    verilator_environment()
    runner = get_runner("verilator")
    runner.build(sources=rtl_sources(src), hdl_toplevel=top, build_dir=build_dir,
                 build_args=["-Wno-fatal", "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC"],
                 log_file=build_dir / "build.log")
    return runner


def batch_sizes(events: int, seed: int, largest: int = 40) -> list[int]:
    """Random batch sizes from 1 to ``largest`` (a fifth of them single events) that add up
    to ``events``."""
    rng = np.random.default_rng(seed)
    sizes: list[int] = []
    while sum(sizes) < events:
        size = 1 if rng.random() < 0.2 else int(rng.integers(2, largest + 1))
        sizes.append(min(size, events - sum(sizes)))
    return sizes


def _run(runner, build_dir: Path, top: str, layout: StreamLayout, words: np.ndarray,
         batches: list[int], input_gaps: float, output_stalls: float, seed: int) -> dict:
    name = f"gaps{input_gaps:g}_stalls{output_stalls:g}"
    np.save(build_dir / f"{name}.words.npy", words)
    case = {"layout": layout.to_json(), "words": str(build_dir / f"{name}.words.npy"),
            "batches": batches,
            "input_gaps": input_gaps, "output_stalls": output_stalls, "seed": seed,
            "result": str(build_dir / f"{name}.result.json")}
    (build_dir / f"{name}.case.json").write_text(json.dumps(case))
    runner.test(test_module=TESTBENCH, hdl_toplevel=top, build_dir=build_dir,
                test_dir=build_dir, results_xml=str(build_dir / f"{name}.xml"),
                extra_env={"NAS_AXIS_CASE": str(build_dir / f"{name}.case.json"),
                           "PYTHONPATH": os.environ.get("PYTHONPATH", "")},
                log_file=build_dir / f"{name}.log")
    result = Path(case["result"])
    if not result.exists():
        raise RuntimeError(f"the cocotb test wrote no result: see {build_dir / f'{name}.log'}")
    return json.loads(result.read_text())


def _rate(cycles: list[int]) -> float:
    """Handshakes per cycle from the first to the last."""
    return len(cycles) / (cycles[-1] - cycles[0] + 1) if cycles else 0.0


def _compare(record: dict, layout: StreamLayout, expected: np.ndarray, batches: list[int],
             input_gaps: float, output_stalls: float) -> StreamRun:
    words = np.array(record["words"], dtype=np.uint32)
    scores, classes = unpack_results(words, layout)
    received = len(scores)
    rows = min(received, len(expected))
    same_scores = np.all(scores_of(scores[:rows], layout) == expected[:rows], axis=1)
    same_classes = classes[:rows] == np.argmax(expected[:rows], axis=1)
    inputs, outputs = record["input_cycles"], record["output_cycles"]
    latencies = [o - i for i, o in zip(inputs, outputs, strict=False)]
    return StreamRun(input_gaps, output_stalls, len(expected), received, record["extra_beats"],
                     len(batches), record["frames"] == batches,
                     float(np.sum(same_scores)) / len(expected),
                     float(np.sum(same_classes)) / len(expected),
                     min(latencies, default=0), max(latencies, default=0),
                     min(_rate(inputs), _rate(outputs)))


def check_stream(src: Path, layout: StreamLayout, port_values: np.ndarray, expected: np.ndarray,
                 build_dir: Path, top: str = "student_axis", gaps: float = 0.3,
                 stalls: float = 0.3, seed: int = 0) -> StreamCheck:
    """Stream ``port_values`` through the IP in ``src`` in random batches at full readiness,
    then with random gaps and stalls (probabilities per cycle), and compare the results with
    ``expected`` and their frames with the batches."""
    build_dir = build_dir.resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    runner = build(src.resolve(), build_dir, top)
    words = pack_events(port_values, layout)
    batches = batch_sizes(len(expected), seed)
    runs = [_compare(_run(runner, build_dir, top, layout, words, batches, g, s, seed), layout,
                     expected, batches, g, s) for g, s in ((0.0, 0.0), (gaps, stalls))]
    return StreamCheck(layout.mode, layout.latency, *runs)
