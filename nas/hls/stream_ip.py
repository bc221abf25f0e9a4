"""A student as an AXI4-Stream IP: traced, written as da4ml's pipelined Verilog with the
stream wrapper around it, simulated through the wrapper on the test set (cocotb, Verilator),
and, when asked, the wrapper's cost measured with yosys (wrapped minus bare)."""

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nas.errors import BitExactnessError
from nas.hls.axi_stream import MODULE, layout_of, wrapper_verilog
from nas.hls.axis_sim import StreamCheck, check_stream, rtl_sources
from nas.hls.board.axis_packing import StreamLayout, port_integers
from nas.hls.open_flow import TOP, trace_student, write_rtl
from nas.hls.yosys import synthesize
from nas.model.config import StudentConfig
from nas.model.port import stage_of
from nas.spaces.parts import get_part


@dataclass(frozen=True)
class StreamIP:
    layout: StreamLayout
    check: StreamCheck
    #: yosys counts of the wrapped IP, the bare design and their difference; None unless asked.
    cost: dict | None


def wrapper_cost(src: Path, part_name: str, bare: dict | None = None) -> dict:
    """yosys counts of ``MODULE`` and of the bare da4ml top in ``src`` and their difference
    (synthesized in a copy: yosys writes its logs beside the sources). ``bare``: the bare
    top's counts (an earlier call's ``"bare"``) where the same top was measured with another
    wrapper; it is then not synthesized again."""
    family = get_part(part_name).family
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "src"
        shutil.copytree(src, copy)
        files = [str(p.relative_to(copy)) for p in rtl_sources(copy)]
        wrapped = synthesize(copy, files, MODULE, family=family)
        if bare is None:
            bare = synthesize(copy, [f for f in files if f != f"{MODULE}.v"], TOP, family=family)
    keys = ("lut", "ff", "carry4", "dsp", "bram")
    return {"wrapped": {k: wrapped[k] for k in keys}, "bare": {k: bare[k] for k in keys},
            "wrapper": {k: wrapped[k] - bare[k] for k in keys}}


def build_stream_ip(model, config: StudentConfig, x_test: np.ndarray, divisor: float,
                    src: Path, part_name: str, clock_mhz: float, mode: str = "packed",
                    cost: bool = False, argmax: bool = True) -> StreamIP:
    """Write the IP's Verilog into ``src`` and check it on ``x_test`` against the QKeras
    student: the trace and every streamed result bit-exact, or ``BitExactnessError``
    (``argmax``: whether the IP computes the class, see ``StreamLayout``)."""
    expected = model.predict(x_test, batch_size=4096, verbose=0).astype(np.float64)
    stage = stage_of(config, x_test, divisor)
    comb = trace_student(model, config, stage)
    traced = np.asarray(comb.predict(x_test.astype(np.float64)), dtype=np.float64)
    if not np.array_equal(traced, expected):
        raise BitExactnessError("the da4ml trace differs from the QKeras student on the test "
                                "set: nothing was written")
    with tempfile.TemporaryDirectory() as tmp:
        _, _, metadata = write_rtl(comb, Path(tmp) / "rtl", part_name, clock_mhz)
        layout = layout_of(comb, metadata["latency"], divisor, mode, argmax)
        shutil.copytree(Path(tmp) / "rtl" / "verilog" / "src", src,
                        ignore=shutil.ignore_patterns("*_wrapper.v"))
        (src / f"{MODULE}.v").write_text(wrapper_verilog(layout, (src / f"{TOP}.v").read_text(),
                                                          TOP))
        check = check_stream(src, layout, port_integers(x_test * divisor, layout), expected,
                             Path(tmp) / "sim")
    if not check.bit_exact:
        raise BitExactnessError(
            f"the AXI-Stream IP returned {check.backpressure.received} of {len(x_test)} "
            f"results, {100 * check.backpressure.scores_exact_fraction:.2f}% equal to the "
            f"QKeras student: nothing was written")
    return StreamIP(layout, check, wrapper_cost(src, part_name) if cost else None)
