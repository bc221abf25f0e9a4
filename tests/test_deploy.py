"""nas deploy: the AXI4-Stream IP (cocotb + cocotbext-axi on Verilator), its packing, the
Vivado Tcl, build.sh and the board's driver."""

import dataclasses
import filecmp
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest
from conftest import one_line_error, run_nas
from test_cnn import conv2d  # noqa: F401  (a trained Conv2D student of cnn_digits)

from nas.errors import InvalidValue
from nas.hls.axi_stream import layout_of, stallable_core, wrapper_verilog
from nas.hls.axis_sim import batch_sizes, check_stream
from nas.hls.board.axis_packing import (
    StreamLayout,
    pack_events,
    port_integers,
    scores_of,
    unpack_results,
)
from nas.hls.stream_ip import build_stream_ip, wrapper_cost
from nas.hls.vivado_project import block_design_tcl, build_script, ip_only_tcl
from nas.model.config import InputStage
from nas.model.port import port_values, to_port
from nas.spaces.boards import BOARDS, get_board

#: Unsigned ADC samples, signed fixed-point features, and a conditioned-style signed port.
FORMATS = {"unsigned": ((0, 4, 4),) * 5, "signed": ((1, 3, 4), (1, 2, 5), (1, 0, 7)),
           "mixed": ((0, 8, 0), (1, 5, 2), (0, 0, 3), (1, 11, 0))}


def _reference_tdata(values: list[int], widths: list[int], slot: int) -> int:
    """One beat as a Python integer: value ``j`` two's complement in slot ``j``."""
    return sum((v & ((1 << slot) - 1)) << (slot * j) for j, v in enumerate(values)) \
        if widths else 0


def _words_of(tdata: int, bits: int) -> list[int]:
    return [(tdata >> (32 * w)) & 0xFFFFFFFF for w in range(bits // 32)]


@pytest.mark.parametrize("argmax", [True, False])
@pytest.mark.parametrize("mode", ["word", "packed"])
@pytest.mark.parametrize("kind", list(FORMATS))
def test_packing_matches_a_bit_by_bit_reference_and_unpacking_inverts_it(kind, mode, argmax):
    formats = FORMATS[kind]
    layout = StreamLayout(formats, formats, latency=3, divisor=1.0, mode=mode, argmax=argmax)
    rng = np.random.default_rng(1)
    low = [-(k << (i + f)) for k, i, f in formats]
    high = [(1 << (i + f)) - 1 for _, i, f in formats]
    values = np.stack([rng.integers(lo, hi + 1, 50) for lo, hi in zip(low, high, strict=True)], 1)
    values[0], values[1] = low, high  # the extremes
    words = pack_events(values, layout)
    expected = []
    for event in values.tolist():
        for beat in range(layout.beats):
            chunk = event[beat * layout.per_beat:(beat + 1) * layout.per_beat]
            expected += _words_of(_reference_tdata(chunk, layout.in_widths, layout.in_slot),
                                  layout.in_bits)
    assert words.tolist() == expected
    # the IP's argmax is whatever the slot says; without it, the first class of the largest
    # real-valued score (formats differ: the integers alone would rank them wrongly)
    real = values * 2.0 ** -np.array([f for _, _, f in formats])
    classes = rng.integers(0, len(formats), len(values)) if argmax else np.argmax(real, axis=1)
    results = [_words_of(_reference_tdata([*event, int(c)][:layout.out_slots], layout.out_widths,
                                          layout.out_slot), layout.out_bits)
               for event, c in zip(values.tolist(), classes, strict=True)]
    scores, got_classes = unpack_results(np.array(results, dtype=np.uint32).reshape(-1), layout)
    assert np.array_equal(scores, values) and np.array_equal(got_classes, classes)
    assert np.array_equal(scores_of(scores, layout),
                          values * 2.0 ** -np.array([f for _, _, f in formats]))


def test_port_integers_equal_the_port_the_student_was_traced_with():
    """The driver's conversion of raw events is the one the trace and the RTL take, for raw
    ADC counts over a divisor and for signed fixed-point (conditioned) inputs."""
    rng = np.random.default_rng(2)
    for formats, divisor, raw in (
            (((0, 4, 4),) * 4, 16.0, rng.integers(0, 256, (200, 4)).astype(np.float64)),
            (FORMATS["signed"], 1.0, rng.normal(0, 2, (200, 3)))):
        layout = StreamLayout(formats, ((1, 4, 2),), 1, divisor)
        stage = InputStage(formats, (0.0,) * len(formats), (0,) * len(formats))
        port = port_values(to_port(raw / divisor, formats), stage)
        assert np.array_equal(port_integers(raw, layout), port)


def test_word_mode_refuses_a_port_wider_than_a_word():
    with pytest.raises(ValueError, match="does not fit a 32-bit word"):
        StreamLayout(((1, 30, 4),), ((1, 4, 2),), 1, 1.0, mode="word")


def _tiny_design(out: Path):
    """A small traced MLP (six 8-bit inputs, three signed scores) and its RTL."""
    from da4ml.trace import FixedVariableArrayInput, HWConfig, comb_trace

    from nas.hls.open_flow import quantize_half_even, write_rtl

    rng = np.random.default_rng(0)
    inputs = FixedVariableArrayInput(6, hwconf=HWConfig(1, -1, -1))
    h = quantize_half_even(inputs.quantize(0, 4, 4), 0, 3, 2)
    h = h @ rng.integers(-7, 8, (6, 5)) / 8.0 + 0.375
    h = quantize_half_even(h.relu(), 0, 4, 2) @ rng.integers(-7, 8, (5, 3)) / 4.0
    logic = comb_trace(inputs, h + np.array([0.0, 22.0, 12.0]))  # every class wins somewhere
    _, _, metadata = write_rtl(logic, out, "xc7a35tcpg236-1", 400.0)
    raw = rng.integers(0, 256, (400, 6)).astype(np.float64)
    expected = np.asarray(logic.predict(raw / 16.0), dtype=np.float64)
    return logic, metadata["latency"], raw, expected


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("axis") / "rtl"
    return out, *_tiny_design(out)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["packed", "word"])
def test_the_stream_ip_is_bit_exact_under_gaps_and_backpressure(tiny, mode, tmp_path):
    out, logic, latency, raw, expected = tiny
    layout = layout_of(logic, latency, 16.0, mode)
    src = out / "verilog" / "src"
    (src / "student_axis.v").write_text(wrapper_verilog(layout, (src / "student.v").read_text()))
    check = check_stream(src, layout, port_integers(raw, layout), expected, tmp_path / "sim",
                         seed=3)
    assert check.bit_exact, check.to_dict()
    sizes = batch_sizes(len(raw), 3)
    assert sizes.count(1) >= 3 and max(sizes) > 20  # single events and long batches
    for run in (check.full_rate, check.backpressure):
        assert run.received == run.events == len(raw) and run.extra_beats == 0
        assert run.scores_exact_fraction == run.classes_exact_fraction == 1.0
        assert run.batches == len(sizes) and run.batch_ends_exact
    assert np.bincount(np.argmax(expected, axis=1)).min() > 20  # every class wins
    assert check.added_latency == 1 and check.full_rate.latency_min == latency + 2
    # one event per clock with a whole event per beat, one per six beats with words
    assert check.full_rate.events_per_cycle == (1.0 if mode == "packed" else pytest.approx(1 / 6, rel=0.01))
    # the stalls were felt: results waited, the input was held back
    assert check.backpressure.latency_max > check.backpressure.latency_min
    assert check.backpressure.events_per_cycle < check.full_rate.events_per_cycle
    if mode == "packed":
        cost = wrapper_cost(src, "xc7a35tcpg236-1")
        assert cost["wrapper"]["lut"] <= max(100, 0.05 * cost["bare"]["lut"]), cost
        assert 0 < cost["wrapper"]["ff"] <= 100 and cost["bare"]["lut"] > 300


@pytest.mark.slow
def test_an_ip_without_the_argmax_is_bit_exact_and_smaller(tiny, tmp_path):
    """``nas deploy --no-argmax``: the scores only, the driver's argmax equal to the
    student's, and the comparison tree's LUTs saved."""
    out, logic, latency, raw, expected = tiny
    costs, bare = {}, None  # the same top under both wrappers: synthesized bare once
    for argmax in (True, False):
        layout = layout_of(logic, latency, 16.0, "packed", argmax)
        src = tmp_path / f"src_{argmax}"
        shutil.copytree(out / "verilog" / "src", src)
        (src / "student_axis.v").write_text(wrapper_verilog(layout, (src / "student.v").read_text()))
        cost = wrapper_cost(src, "xc7a35tcpg236-1", bare)
        costs[argmax], bare = cost["wrapper"]["lut"], cost["bare"]
    assert layout.out_slots == 3 and " argmax =" not in (src / "student_axis.v").read_text()
    check = check_stream(src, layout, port_integers(raw, layout), expected, tmp_path / "sim",
                         seed=4)
    assert check.bit_exact and check.backpressure.classes_exact_fraction == 1.0
    assert check.added_latency == 1
    assert 0 < costs[False] < costs[True] - 10, costs  # three scores: two comparisons saved


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["pipeline runs on", "tlast on every result"])
def test_a_wrapper_that_does_not_stall_or_misplaces_tlast_fails_the_check(tiny, fault, tmp_path):
    """The check can fail: a pipeline that moves on while a result waits overwrites it, and
    TLAST on every result (the old IP) splits a batch into frames of one."""
    out, logic, latency, raw, expected = tiny
    layout = layout_of(logic, latency, 16.0, "packed")
    src = tmp_path / "src"
    shutil.copytree(out / "verilog" / "src", src)
    good = wrapper_verilog(layout, (src / "student.v").read_text())
    edit = {"pipeline runs on": (r"\.ce\(advance\)", ".ce(1'b1)"),
            "tlast on every result": (r"last <= \{last\[(\d+):0\], s_axis_tlast\}",
                                      r"last <= {last[\1:0], 1'b1}")}[fault]
    broken = re.sub(*edit, good)
    assert broken != good
    (src / "student_axis.v").write_text(broken)
    check = check_stream(src, layout, port_integers(raw[:150], layout), expected[:150],
                         tmp_path / "sim", gaps=0.0, stalls=0.7, seed=1)
    assert not check.bit_exact
    if fault == "pipeline runs on":
        assert check.full_rate.scores_exact_fraction == 1.0
        assert check.backpressure.scores_exact_fraction < 1.0
    else:
        assert check.full_rate.scores_exact_fraction == 1.0 and not check.full_rate.batch_ends_exact


def test_a_da4ml_top_of_another_form_is_refused_not_guessed_at():
    top = ("module student (\n    input clk,\n    input [3:0] model_inp,\n"
           "    output reg [3:0] model_out\n);\n    always @(posedge clk) begin\n"
           "        model_out <= model_inp;\n    end\nendmodule\n")
    stalled = stallable_core(top)
    assert "module student_stall (" in stalled and "input ce," in stalled
    assert "always @(posedge clk) if (ce) begin" in stalled
    two_blocks = top.replace("endmodule", "    always @(posedge clk) begin\n    end\nendmodule")
    with pytest.raises(ValueError, match="cannot add a clock enable"):
        stallable_core(two_blocks)
    with pytest.raises(ValueError, match="does not have the expected form"):
        stallable_core(top.replace("input clk,", "input clock,"))


def _layout():
    return StreamLayout(((0, 4, 4),) * 30, ((1, 6, 3),) * 4, 5, 16.0)


def test_the_tcl_names_each_boards_part_and_the_studys_clock():
    for name in ("pynq-z1", "zedboard", "kv260"):
        board = get_board(name)
        tcl = block_design_tcl(board, _layout(), 187.5)
        assert f"-part {board.part}" in tcl and board.processor in tcl
        assert "{187.5}" in tcl and "create_bd_cell -type module -reference student_axis" in tcl
        assert "c_m_axis_mm2s_tdata_width {256}" in tcl and "c_s_axis_s2mm_tdata_width {64}" in tcl
    assert "xc7z020clg484-1" in block_design_tcl(get_board("zedboard"), _layout(), 100.0)
    bare = ip_only_tcl(get_board("artix7"), 250.0)
    assert "-part xc7a35tcpg236-1" in bare and "-period 4.0000" in bare and "ps" not in bare.split()


def test_build_sh_without_vivado_says_so_in_one_line_and_fails(tmp_path):
    script = tmp_path / "build.sh"
    script.write_text(build_script(get_board("pynq-z1")))
    script.chmod(0o755)
    done = subprocess.run([str(script)], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 1 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "vivado is not on PATH" in done.stderr


def test_a_design_too_large_for_the_board_is_refused():
    from nas.app.deploy import check_fits

    trial = optuna.trial.create_trial(
        values=[0.9, 1.0], user_attrs={"est_lut": 30_000, "est_ff": 20_000, "est_dsp": 0})
    check_fits(trial, get_board("pynq-z1"))  # 53,200 LUTs
    with pytest.raises(InvalidValue, match=r"cannot hold trial .* 30,000 LUTs \(it has 20,800\)"):
        check_fits(trial, get_board("artix7"))
    with pytest.raises(InvalidValue, match="use one of pynq-z1, zedboard, kv260, artix7"):
        get_board("pynq-z3")
    assert set(BOARDS) == {"pynq-z1", "zedboard", "kv260", "artix7"}


def test_the_driver_imports_without_pynq():
    code = ("import sys; import nas.hls.board.driver as d; "
            "assert 'pynq' not in sys.modules; print(d.BITSTREAM)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert done.returncode == 0 and done.stdout.strip() == "nas_ip.bit", done.stderr


@pytest.mark.slow
def test_cli_deploy_writes_a_checked_ip_and_its_board_files(small_study, tmp_path, capsys):
    study, settings = small_study
    trial = next(t for t in study.trials if t.state.name == "COMPLETE")
    location = ["--space", "mlp_psd", "--workdir", str(settings.workdir)]
    out = tmp_path / "pynq"
    done = run_nas("deploy", *location, "--trial", str(trial.number), "--board", "pynq-z1",
                   "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "equals the QKeras student on all" in done.stdout
    record = json.loads((out / "deploy.json").read_text())
    assert record["stream"]["bit_exact"] and record["stream"]["added_latency"] <= 2
    assert record["stream"]["full_rate"]["events_per_cycle"] == 1.0
    events = np.load(out / "test_events.npy")
    assert record["stream"]["backpressure"]["events"] == len(events) > 100
    tcl = (out / "project.tcl").read_text()
    assert "xc7z020clg400-1" in tcl and f"{{{settings.space.clock_mhz:g}}}" in tcl
    assert (out / "ip" / "src" / "student_axis.v").exists() and (out / "ip" / "src" / "student.v").exists()
    assert filecmp.cmp(out / "nas_board" / "axis_packing.py",
                       Path(__file__).parents[1] / "nas" / "hls" / "board" / "axis_packing.py",
                       shallow=False)
    cells = json.loads((out / "deploy.ipynb").read_text())["cells"]
    assert any("Classifier" in "".join(c["source"]) for c in cells)
    # the board's packing, run from the output folder, gives the IP's integers
    layout = StreamLayout.from_json((out / "layout.json").read_text())
    code = ("import numpy as np, sys; sys.path.insert(0, '.'); "
            "from nas_board.axis_packing import StreamLayout, pack_events, port_integers; "
            "l = StreamLayout.from_json(open('layout.json').read()); "
            "print(pack_events(port_integers(np.load('test_events.npy')[:3], l), l).tolist())")
    board_side = subprocess.run([sys.executable, "-c", code], cwd=out, capture_output=True,
                                text=True, env={"PATH": os.environ["PATH"]})
    assert board_side.returncode == 0, board_side.stderr
    assert json.loads(board_side.stdout) == pack_events(port_integers(events[:3], layout),
                                                        layout).tolist()
    build = subprocess.run([str(out / "build.sh")], capture_output=True, text=True,
                           env={"PATH": "/usr/bin:/bin"})
    assert build.returncode == 1 and "vivado is not on PATH" in build.stderr
    cases = [(["--board", "pynq-z9", "--out", str(tmp_path / "a")], "--board 'pynq-z9' is unknown"),
             (["--board", "kv260", "--out", str(out)], "exists and is not empty")]
    for args, message in cases:
        assert message in one_line_error(["deploy", *location, "--trial", str(trial.number),
                                          *args], capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pynq"]


def test_a_layout_survives_its_json():
    layout = dataclasses.replace(_layout(), mode="word")
    assert StreamLayout.from_json(layout.to_json()) == layout


@pytest.mark.slow
def test_a_cnn_digits_ip_streams_64_pixels_per_event_bit_exact(conv2d, tmp_path):  # noqa: F811
    model, config, data, _ = conv2d
    ip = build_stream_ip(model, config, data.x_test, 16.0, tmp_path / "src", "xc7z020clg400-1",
                         200.0, "packed", cost=True)
    assert len(ip.layout.inputs) == 64 and ip.layout.in_bits == 512  # 64 slots of 5 bits
    assert ip.check.bit_exact and ip.check.backpressure.events == len(data.x_test) > 300
    assert ip.check.full_rate.events_per_cycle == 1.0 and ip.check.added_latency == 1
    # no FIFO since the pipeline stalls: what is left is the argmax over ten 12-bit scores,
    # measured 182 LUT over a 3,403-LUT design (5.3 %, above the 5 % aimed at); a guard
    # against growth
    assert 0 < ip.cost["wrapper"]["lut"] <= 0.055 * ip.cost["bare"]["lut"], ip.cost
    # with the scores only (--no-argmax) the wrapper is within the target
    scores_only = dataclasses.replace(ip.layout, argmax=False)
    src = tmp_path / "src"
    (src / "student_axis.v").write_text(wrapper_verilog(scores_only, (src / "student.v").read_text()))
    lean = wrapper_cost(src, "xc7z020clg400-1", ip.cost["bare"])
    # (yosys's own scatter is tens of LUT either way: measured -29 on a 3,403-LUT design)
    assert lean["wrapper"]["lut"] <= max(100, 0.05 * lean["bare"]["lut"]), lean
    assert lean["wrapper"]["lut"] < ip.cost["wrapper"]["lut"] - 50, (lean, ip.cost)
