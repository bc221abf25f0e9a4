"""The open flow: da4ml trace, Verilator simulation, yosys synthesis, nas synth."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import optuna
import pytest
from conftest import REPO, bench_module, run_nas, unsynthesized
from da4ml.types import QInterval
from test_hls import MIXED, student  # noqa: F401  (the trained mixed-precision student)

from nas.app.synth import synthesize_trials
from nas.environment import temporary_environment
from nas.errors import NasError
from nas.estimators.registers import kept_register_bits
from nas.estimators.signals import remainder_intervals
from nas.estimators.trace import student_features, trace_features
from nas.hls.open_flow import (
    object_cache,
    quantize_half_even,
    run_open_flow,
    synthesize_rtl,
    verilator_variables,
    write_rtl,
)
from nas.hls.yosys import counts_from_cells, parse_stat_json, yosys_command
from nas.model.port import stage_of
from nas.search.front import estimator_evidence
from nas.search.records import results

OPEN_CALIBRATION = REPO / "nas" / "estimators" / "calibrations" / "open.json"
STAT_JSON = """{"modules": {"\\\\student": {"num_cells_by_type": {
  "CARRY4": 568, "FDRE": 744, "FDSE": 28, "INV": 149, "LUT2": 998, "LUT3": 192, "LUT6": 60,
  "DSP48E1": 2, "RAMB18E1": 1, "SRL16E": 5, "$scopeinfo": 3}}}}"""


def test_stat_json_counts_inverters_and_shift_registers_as_luts_and_half_brams():
    cells = parse_stat_json(STAT_JSON, "student")
    assert cells["scopeinfo"] == 3
    assert counts_from_cells(cells) == {"lut": 998 + 192 + 60 + 149 + 5, "ff": 744 + 28,
                                        "carry4": 568, "dsp": 2, "bram": 0.5}


def test_half_even_rounding_matches_qkeras_on_every_adc_value():
    from da4ml.trace import FixedVariableArrayInput, HWConfig, comb_trace
    from qkeras import quantized_bits

    adc = np.arange(256, dtype=np.float64)[:, None] / 16.0  # every 8-bit value, ties included
    for bits, integer in ((6, 4), (5, 3), (4, 4), (7, 2)):
        inputs = FixedVariableArrayInput(1, hwconf=HWConfig(1, -1, -1))
        logic = comb_trace(inputs, quantize_half_even(inputs.quantize(0, 4, 4),
                                                      0, integer, bits - integer))
        expected = np.asarray(quantized_bits(bits, integer, keep_negative=False, alpha=1)(adc))
        assert np.array_equal(np.asarray(logic.predict(adc)).reshape(-1), expected.reshape(-1))


def test_bad_custom_yosys_is_a_user_error(monkeypatch):
    monkeypatch.setenv("NAS_YOSYS", "/no/such/yosys")
    with pytest.raises(NasError, match="NAS_YOSYS"):
        yosys_command()


def _small_logic(seed: int):
    """A two-layer traced network with weights drawn by ``seed``: quantized input, half-even
    rounding, a bias, a ReLU."""
    from da4ml.trace import FixedVariableArrayInput, HWConfig, comb_trace

    rng = np.random.default_rng(seed)
    inputs = FixedVariableArrayInput(6, hwconf=HWConfig(1, -1, -1))
    h = quantize_half_even(inputs.quantize(0, 4, 4), 0, 3, 2)
    h = h @ rng.integers(-7, 8, (6, 5)) / 8.0 + 0.375
    h = quantize_half_even(h.relu(), 0, 4, 2) @ rng.integers(-7, 8, (5, 3)) / 4.0
    return comb_trace(inputs, h)


def test_the_register_bits_synthesis_keeps_are_counted_exactly(tmp_path):
    """Half-even rounding (a value minus its own truncation), ReLU outputs registered beside
    their requantized slices, bits an adder passes through, a constant bias: da4ml registers
    them all at full width, yosys keeps one flip-flop per distinct signal that is read."""
    from da4ml.trace.pipeline import to_pipeline

    logic = _small_logic(0)
    pipeline = to_pipeline(logic, 1000.0 / 400.0, verbose=False)
    write_rtl(logic, tmp_path / "rtl", "xc7a35tcpg236-1", 400.0)
    synthesized = synthesize_rtl(tmp_path / "rtl")["ff"]
    assert len(pipeline.solutions) >= 4 and pipeline.reg_bits > 1.1 * synthesized
    assert kept_register_bits(pipeline) == synthesized


def test_rounding_and_saturation_cost_what_synthesis_keeps(tmp_path):
    """Float inputs rounded half to even to fewer bits, then saturated: each subtracts its own
    truncation (da4ml gives the difference a signed 8-bit range) and adds it back one bit
    wide, adds constants (the rounding offset, the saturation threshold) and takes a ReLU of a
    sum that cannot be negative. yosys spends one LUT2 per input on the added bit and one
    inverter per set bit of each constant, nothing on the ReLU and the remainder; the trace
    features count exactly those. Read at da4ml's ranges they counted 18 two-operand adder
    bits and 9 ReLU bits per input, and 20 constant-adder bits (the chain from the constant's
    lowest set bit). The synthesized folder is then read back as ``bench_estimators.py
    --synthesized`` reads other runs' designs (one synthesis for both checks)."""
    from da4ml.trace import FixedVariableArrayInput, HWConfig, comb_trace

    n = 8
    inputs = FixedVariableArrayInput(n, hwconf=HWConfig(1, -1, -1))
    logic = comb_trace(inputs, quantize_half_even(inputs.quantize(0, 4, 6), 0, 3, 4))
    remainders = remainder_intervals(logic)
    assert len(remainders) == n
    assert set(remainders.values()) == {QInterval(0.0, 2.0**-4, 2.0**-4)}
    features = trace_features(logic, 200.0)
    trial = tmp_path / "run" / "synth" / "trial_0"
    write_rtl(logic, trial, "xc7a35tcpg236-1", 200.0)
    synthesized = synthesize_rtl(trial)
    cells = synthesized["cells"]
    assert features["two_operand_bits"] == n == cells["LUT2"]
    assert features["const_one_bits"] == cells["INV"] == 4 * n
    assert features["relu_bits"] == 0
    assert synthesized["lut"] == cells["LUT2"] + cells["INV"]

    unsynthesized = tmp_path / "run" / "synth" / "trial_1" / "verilog" / "model"
    unsynthesized.mkdir(parents=True)
    shutil.copy(trial / "verilog" / "model" / "comb.json", unsynthesized)  # never synthesized
    scored = bench_module("bench_estimators").score_synthesized(
        [["a run", str(tmp_path / "run")]], 200.0)["groups"]["a run"]
    [design] = scored["designs"]
    assert (design["lut"], design["ff"]) == (synthesized["lut"], synthesized["ff"])
    assert scored["errors"]["lut"]["mape"] == pytest.approx(
        100 * abs(design["estimate"]["lut"] / design["lut"] - 1))


def test_without_ccache_verilator_compiles_as_before(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no ccache on it
    assert object_cache() is None
    assert verilator_variables()["MAKEFLAGS"] == "CFG_CXXFLAGS_PCH_I=-include"


def _ccache_hits(environment: dict[str, str]) -> int:
    printed = subprocess.run(["ccache", "--print-stats"], capture_output=True, text=True,
                             env=environment, check=True).stdout
    counts = dict(line.split("\t") for line in printed.splitlines() if "\t" in line)
    return int(counts["direct_cache_hit"]) + int(counts["preprocessed_cache_hit"])


@pytest.mark.slow
def test_a_second_design_reuses_the_compiled_verilator_runtime(tmp_path, monkeypatch):
    """Two different designs checked one after the other: the second's build takes
    Verilator's runtime objects from ccache, and its simulation is still exact."""
    if shutil.which("ccache") is None:
        pytest.skip("ccache is not installed (scripts/ensure_tools.sh ccache)")
    monkeypatch.setenv("CCACHE_DIR", str(tmp_path / "ccache"))
    x = np.random.default_rng(0).integers(0, 256, (64, 6)) / 16.0
    hits = []
    for seed in (0, 1):
        logic = _small_logic(seed)
        verilog, _, _ = write_rtl(logic, tmp_path / f"rtl{seed}", "xc7a35tcpg236-1", 200.0)
        with temporary_environment(verilator_variables()):
            assert "OBJCACHE=ccache" in os.environ["MAKEFLAGS"]
            verilog.compile(nproc=1, openmp=False)
            hits.append(_ccache_hits(dict(os.environ)))
        np.testing.assert_array_equal(verilog.predict(x), logic.predict(x))
    assert hits[0] == 0 and hits[1] >= 2  # verilated.o and verilated_threads.o


@pytest.mark.slow
def test_mixed_student_is_bit_exact_in_verilator_and_synthesizes(student, tmp_path):  # noqa: F811
    model, x_test = student
    environment = dict(os.environ)
    result = run_open_flow(model, MIXED, x_test, 16.0, tmp_path / "rtl", "xc7a35tcpg236-1", 200.0)
    assert dict(os.environ) == environment  # Verilator's variables were set for its runs only
    assert result.bit_exact and result.rtl_exact_fraction == 1.0
    assert result.trace_exact_fraction == 1.0 and result.n_samples == len(x_test)
    assert result.lut > 0 and result.ff > 0 and result.dsp == 0 and result.bram == 0
    assert result.latency_cycles == result.pipeline_stages >= 2
    kept = student_features(model, MIXED, stage_of(MIXED, x_test, 16.0), 200.0)["kept_register_bits"]
    assert abs(kept - result.ff) <= 0.03 * result.ff
    assert (tmp_path / "rtl" / "verilog" / "src" / "student.v").exists()
    assert list((tmp_path / "rtl" / "vhdl" / "src").glob("*.vhd"))
    assert "stat" in (tmp_path / "rtl" / "verilog" / "src" / "yosys.log").read_text()
    assert result.versions["yosys"].startswith("Yosys") and result.versions["da4ml"] == "0.6.0"
    if shutil.which("ghdl") is None:
        pytest.skip("GHDL is not installed (scripts/ensure_tools.sh ghdl): the VHDL was not simulated")
    assert result.vhdl_exact_fraction == 1.0 and result.versions["ghdl"].startswith("GHDL")
    assert result.seconds["ghdl"] > 0


#: A GHDL that cannot build anything (as GHDL 2.0 fails on some designs' VHDL).
FAILING_GHDL = """#!/bin/sh
if [ "$1" = "--version" ]; then echo "GHDL 0.0 (a stand-in)"; exit 0; fi
echo "ghdl: error: a stand-in that fails" >&2
exit 1
"""


@pytest.mark.slow
def test_a_design_for_an_ultrascale_part_is_synthesized_for_its_family(student, tmp_path,  # noqa: F811
                                                                        monkeypatch):
    """... and where GHDL cannot build the VHDL simulation, the Verilog's check stands and
    the reason is recorded."""
    model, x_test = student
    ghdl = tmp_path / "bin" / "ghdl"
    ghdl.parent.mkdir()
    ghdl.write_text(FAILING_GHDL)
    ghdl.chmod(0o755)
    monkeypatch.setenv("PATH", f"{ghdl.parent}{os.pathsep}{os.environ['PATH']}")
    result = run_open_flow(model, MIXED, x_test[:50], 16.0, tmp_path / "rtl",
                           "xcu250-figd2104-2L-e", 200.0)
    script = (tmp_path / "rtl" / "verilog" / "src" / "synth.ys").read_text()
    assert "synth_xilinx -family xcup" in script and result.lut > 0 and result.bit_exact
    assert result.rtl_exact_fraction == 1.0 and result.vhdl_exact_fraction is None
    assert "GHDL could not build the VHDL simulation" in result.vhdl_error
    assert "a stand-in that fails" in result.vhdl_error


HANGING_YOSYS = """#!/bin/sh
echo $$ > "$HANG_PID_FILE"
exec sleep 600
"""


@pytest.mark.slow
def test_a_hung_tool_is_killed_at_the_timeout_with_its_process_group(small_study, tmp_path,
                                                                     monkeypatch):
    """yosys hangs (a stand-in that sleeps): the job is recorded as a timeout, and the hung
    tool, a grandchild of this process, is gone."""
    study, settings = small_study
    number, = unsynthesized(small_study, slice(None, 1))
    fake, pid_file = tmp_path / "yosys", tmp_path / "yosys.pid"
    fake.write_text(HANGING_YOSYS)
    fake.chmod(0o755)
    monkeypatch.setenv("NAS_YOSYS", str(fake))
    monkeypatch.setenv("HANG_PID_FILE", str(pid_file))
    timed_out = synthesize_trials(study, settings, [number], jobs=1, timeout=45)
    assert timed_out[number]["status"] == "timeout"
    assert "longer than 45 s" in timed_out[number]["reason"]
    hung = Path(f"/proc/{int(pid_file.read_text())}/stat")  # yosys was reached, then killed
    assert not hung.exists() or hung.read_text().split(") ")[1].startswith("Z")  # gone or a zombie


@pytest.mark.slow
def test_nas_synth_records_results(small_study):
    """One design synthesized in a study where no other has been (earlier tests' records are
    forgotten): the estimator's observed error is that design's."""
    study, settings = small_study
    trial = study.trials[unsynthesized(small_study, slice(None))[0]]
    done = run_nas("synth", "--space", "mlp_psd", "--workdir", str(settings.workdir),
                   "--trials", str(trial.number), "--jobs", "1")
    assert done.returncode == 0, done.stderr
    assert "no place and route" in done.stdout
    fresh = optuna.load_study(study_name=study.study_name, storage=settings.storage_url)
    record = results(fresh, "synth")[trial.number]
    assert record["status"] == "ok" and record["rtl_exact_fraction"] == 1.0
    assert record["lut"] > 0 and record["estimate"]["lut"] == trial.user_attrs["est_lut"]
    assert record["artifact_id"] and record["versions"]["verilator"] == "5.48.0"
    observed, held_out = estimator_evidence(fresh)
    expected = 100 * abs(record["estimate"]["lut"] - record["lut"]) / record["lut"]
    assert observed["lut"]["n"] == 1 and observed["lut"]["mape"] == pytest.approx(expected)
    assert held_out["lut"]["n"] >= 1  # the calibration's own held-out error, beside it
    assert f"estimator (trace) lut: MAPE {expected:.1f}%" in done.stdout
    bad = run_nas("synth", "--space", "mlp_psd", "--workdir", str(settings.workdir),
                  "--trials", "0")
    assert bad.returncode == 2 and "trial 0 is pruned" in bad.stderr


@pytest.mark.slow
def test_synthesis_fans_out_over_a_dask_local_cluster(small_study):
    from dask.distributed import LocalCluster

    study, settings = small_study
    numbers = unsynthesized(small_study, slice(-2, None))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        records = synthesize_trials(study, settings, numbers, scheduler=cluster.scheduler_address)
    assert sorted(records) == sorted(numbers)
    assert all(r["status"] == "ok" and r["rtl_exact_fraction"] == 1.0 for r in records.values())


def test_the_committed_transfer_errors_are_the_shipped_calibration_s():
    """The committed ``trace_transfer.json`` was measured with the calibration that ships (a
    refit without measuring again fails here) and its errors follow from its designs."""
    bench = bench_module("bench_estimators")
    transfer = json.loads(bench.TRANSFER.read_text())
    shipped = json.loads(OPEN_CALIBRATION.read_text())
    assert transfer["calibration"]["sha256"] == shipped["data"]["sha256"]
    for group in transfer["groups"].values():
        assert group["errors"] == bench.transfer_errors(group["designs"])
