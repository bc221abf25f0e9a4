"""The open flow: da4ml trace, Verilator simulation, yosys synthesis, nas synth."""

import numpy as np
import pytest
from conftest import run_nas
from test_hls import MIXED, student  # noqa: F401  (the trained mixed-precision student)

from nas.errors import UserError
from nas.hls.open_flow import port_of, quantize_half_even, run_open_flow
from nas.hls.synth import synthesize_trials
from nas.hls.yosys import counts_from_cells, parse_stat_text, yosys_command
from nas.search.front import estimator_evidence
from nas.search.records import results

NEW_LAYOUT = """
=== student ===

        +----------Local Count, excluding submodules.
        |
     3616 cells
      568   CARRY4
      744   FDRE
       28   FDSE
      149   INV
      998   LUT2
      192   LUT3
       60   LUT6
"""
OLD_LAYOUT = """
=== student ===

   Number of wires:               6158
   Number of cells:               3616
     CARRY4                        568
     FDRE                          744
     FDSE                           28
     INV                           149
     LUT2                          998
     LUT3                          192
     LUT6                           60
"""


def test_stat_parser_reads_both_yosys_layouts():
    expected = {"lut": 998 + 192 + 60 + 149, "ff": 744 + 28, "carry4": 568, "dsp": 0, "bram": 0}
    assert counts_from_cells(parse_stat_text(NEW_LAYOUT)) == expected
    assert counts_from_cells(parse_stat_text(OLD_LAYOUT)) == expected


def test_half_even_rounding_matches_qkeras_on_every_adc_value():
    from da4ml.trace import FixedVariableArrayInput, HWConfig, comb_trace
    from qkeras import quantized_bits

    adc = np.arange(256, dtype=np.float64)[:, None] / 16.0  # every 8-bit value, ties included
    for bits, integer in ((6, 4), (5, 3), (4, 4), (7, 2)):
        inputs = FixedVariableArrayInput(1, hwconf=HWConfig(1, -1, -1))
        logic = comb_trace(inputs, quantize_half_even(inputs.quantize(*port_of(adc * 16, 16.0)),
                                                      0, integer, bits - integer))
        expected = np.asarray(quantized_bits(bits, integer, keep_negative=False, alpha=1)(adc))
        assert np.array_equal(np.asarray(logic.predict(adc)).reshape(-1), expected.reshape(-1))


def test_bad_custom_yosys_is_a_user_error(monkeypatch):
    monkeypatch.setenv("NAS_YOSYS", "/no/such/yosys")
    with pytest.raises(UserError, match="NAS_YOSYS"):
        yosys_command()


@pytest.mark.slow
def test_mixed_student_is_bit_exact_in_verilator_and_synthesizes(student, tmp_path):  # noqa: F811
    model, x_test = student
    result = run_open_flow(model, MIXED, x_test, 16.0, tmp_path / "rtl", "xc7a35tcpg236-1", 200.0)
    assert result.bit_exact and result.rtl_exact_fraction == 1.0
    assert result.trace_exact_fraction == 1.0 and result.n_samples == len(x_test)
    assert result.lut > 0 and result.ff > 0 and result.dsp == 0 and result.bram == 0
    assert result.latency_cycles == result.pipeline_stages >= 2
    assert (tmp_path / "rtl" / "verilog" / "src" / "student.v").exists()
    assert list((tmp_path / "rtl" / "vhdl" / "src").glob("*.vhd"))
    assert "stat" in (tmp_path / "rtl" / "verilog" / "src" / "yosys.log").read_text()
    assert result.versions["yosys"].startswith("Yosys") and result.versions["da4ml"] == "0.6.0"


@pytest.mark.slow
def test_nas_synth_records_results_and_a_timeout(small_study):
    study, settings = small_study
    trial = next(t for t in study.trials if t.state.name == "COMPLETE")
    timed_out = synthesize_trials(study, "mlp_psd", settings.workdir, settings.storage_url,
                                  [trial.number], jobs=1, timeout=0.5)
    assert timed_out[trial.number]["status"] == "timeout"
    assert "longer than 0.5 s" in timed_out[trial.number]["reason"]
    done = run_nas("synth", "--space", "mlp_psd", "--workdir", str(settings.workdir),
                   "--trials", str(trial.number), "--jobs", "1")
    assert done.returncode == 0, done.stderr
    assert "no place and route" in done.stdout
    fresh = study.__class__(study.study_name, study._storage)
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
    numbers = [t.number for t in study.trials if t.state.name == "COMPLETE"][-2:]
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        records = synthesize_trials(study, "mlp_psd", settings.workdir, settings.storage_url,
                                    numbers, scheduler=cluster.scheduler_address)
    assert sorted(records) == sorted(numbers)
    assert all(r["status"] == "ok" and r["rtl_exact_fraction"] == 1.0 for r in records.values())
