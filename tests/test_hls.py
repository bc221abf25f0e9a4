"""HLS export: bit-exact C simulation (Latency and distributed arithmetic), the project's
contents, failures that write nothing, and the report parser on every shared report."""

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import optuna
import pytest
from conftest import SHARED, one_line_error, run_nas

import nas.hls.export as hls_export
from nas._tf import set_seed
from nas.hls.export import STUDENT_STRATEGIES, BitExactnessError, write_project
from nas.hls.project_facts import resource_reuse_factor
from nas.hls.reports import layer_csynths, parse_project
from nas.model.config import StudentConfig, quantized_kernels
from nas.model.student import train_student
from nas.search.records import results
from nas.spaces import get_part
from nas.spaces.wcd_pulses import simulate

REPORTS = SHARED / "reports"
MIXED = StudentConfig(widths=(10, 6), weight_bits=(4, 6, 5), weight_int_bits=(1, 1, 1),
                      act_bits=(5, 7), act_int_bits=(2, 3), input_bits=6, input_int_bits=4,
                      sparsity=0.5)


@pytest.fixture(scope="module")
def student():
    x, y = simulate(11, 2000)
    x = (x / 16.0).astype(np.float32)
    set_seed(11)
    recipe = __import__("nas.spaces", fromlist=["TrainingRecipe"]).TrainingRecipe()
    model, _ = train_student(MIXED, x[:1600], y[:1600], np.eye(4, dtype=np.float32)[y[:1600]] * 3,
                             4, recipe, epochs=6)
    return model, x[1600:]


@pytest.mark.slow
@pytest.mark.parametrize("strategy, reuse", [(None, 1), ("distributed_arithmetic", 1),
                                             (None, 4)])
def test_export_is_bit_exact_and_complete(student, tmp_path, strategy, reuse):
    model, x_test = student
    out = tmp_path / "prj"
    # Reuse 4 comes with the Resource strategy, as a vendor-flow search records it.
    config = dataclasses.replace(MIXED, reuse_factor=reuse,
                                 strategy="resource" if reuse > 1 else "latency")
    result = write_project(model, config, x_test, 16.0, out, get_part("xc7a35t"), 200.0,
                           strategy=strategy, expected_resources={"LUT": 1234})
    assert result.exact_fraction == 1.0 and result.argmax_fraction == 1.0
    assert result.strategy == (strategy or STUDENT_STRATEGIES[config.strategy])
    dense = re.findall(r"n_in = (\d+);.*?n_out = (\d+);.*?strategy = nnet::(\w+);.*?"
                       r"reuse_factor = (\d+);", (out / "firmware" / "parameters.h").read_text(),
                       re.DOTALL)
    if strategy is None:  # hls4ml's reuse factor per layer, as the vendor estimator sees it
        assert [(s, int(r)) for _, _, s, r in dense] == [
            (config.strategy, resource_reuse_factor(int(n), int(m), reuse) if reuse > 1 else 1)
            for n, m, _, _ in dense]
        assert [int(r) for *_, r in dense] == ([1, 1, 1] if reuse == 1 else [3, 5, 3])
    assert result.n_samples == len(x_test) and result.port_type == "ufixed<8,4>"
    readme = (out / "README.md").read_text()
    assert "No softmax in firmware" in readme and "xc7a35tcpg236-1" in readme and "1,234" in readme
    assert json.loads((out / "bit_exactness.json").read_text())["exact_fraction"] == 1.0
    inputs = np.loadtxt(out / "tb_data" / "tb_input_features.dat")
    outputs = np.loadtxt(out / "tb_data" / "tb_output_predictions.dat")
    assert inputs.shape == x_test.shape and outputs.shape == (len(x_test), 4)
    weights = out / "firmware" / "weights"
    if strategy is None:  # DA bakes the constants into the code instead
        files = sorted(weights.glob("w*.txt"), key=lambda p: int(p.stem[1:]))
        for kernel, path in zip(quantized_kernels(model, MIXED), files, strict=True):
            written = np.array([float(v) for v in path.read_text().split(",")])
            # The Resource strategy stores each kernel transposed.
            stored = kernel.T if config.strategy == "resource" else kernel
            assert np.array_equal(written, stored.flatten())
            assert np.mean(written == 0) >= MIXED.sparsity - 0.02  # pruned weights are zeros


@pytest.mark.slow
def test_not_bit_exact_export_fails_naming_the_layer_and_writes_nothing(student, tmp_path,
                                                                          monkeypatch):
    model, x_test = student
    original = hls_export.hls_config

    def too_narrow_relu(*args, **kwargs):
        config = original(*args, **kwargs)
        config["LayerName"]["relu_1"]["Precision"]["result"] = "ufixed<3,1,TRN,WRAP>"
        return config

    monkeypatch.setattr(hls_export, "hls_config", too_narrow_relu)
    out = tmp_path / "prj"
    with pytest.raises(BitExactnessError, match="layer 'relu_1'"):
        write_project(model, MIXED, x_test[:200], 16.0, out, get_part("xc7a35t"), 200.0)
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_cli_export_records_the_result_and_refuses_bad_input(small_study, tmp_path, capsys):
    study, settings = small_study
    trial = next(t for t in study.trials if t.state.name == "COMPLETE")
    location = ["--space", "mlp_psd", "--workdir", str(settings.workdir)]
    out = tmp_path / "prj"
    done = run_nas("export", *location, "--trial", str(trial.number), "--out", str(out), "--build",
                   "--io-type", "io_stream")  # an MLP's default is io_parallel: both work
    assert done.returncode == 0, done.stderr
    assert "vendor flow skipped" in done.stdout and (out / "firmware").is_dir()
    assert "io_stream" in done.stdout and "io_stream" in (out / "README.md").read_text()
    assert (out / "rtl" / "verilog" / "src" / "student.v").exists()
    assert (out / "rtl" / "test_inputs.txt").exists() and (out / "rtl" / "test_outputs.txt").exists()
    fresh = optuna.load_study(study_name=study.study_name, storage=settings.storage_url)
    record = results(fresh, "hls")[trial.number]
    assert record["exact_fraction"] >= 0.999 and record["argmax_fraction"] == 1.0
    assert record["io_type"] == "io_stream" and "skipped" in record["vendor_build"]
    assert record["rtl"]["bit_exact"] and record["rtl"]["lut"] > 0
    assert (settings.paths.artifacts / record["artifact_id"]).exists()
    cases = [(["--trial", str(trial.number), "--out", str(out)], "exists and is not empty"),
             (["--trial", "0", "--out", str(tmp_path / "a")], "trial 0 is pruned"),
             (["--trial", "999", "--out", str(tmp_path / "b")], "trial 999 is not in study"),
             (["--trial", str(trial.number), "--out", str(tmp_path / "c"), "--part", "xc3s50"],
              "--part 'xc3s50' is unknown")]
    for args, message in cases:
        assert message in one_line_error(["export", *location, *args], capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prj"]


EXPECTED = {  # (flow, LUT, FF, DSP, latency best, interval min), read off the report files
    "hls4ml_test_fixture/Vivado": [("hls_estimate", 2532, 7969, 73, 10, 8),
                                   ("post_synthesis", 1526, 2428, 66, None, None)],
    "hls4ml_tutorial/model_1__hls4ml_prj": [("hls_estimate", 84942, 10961, 1450, 13, 1)],
    "hls4ml_tutorial/model_1__hls4ml_prj_2": [("hls_estimate", 87251, 8878, 1444, 12, 2)],
    "hls4ml_tutorial/model_3__hls4ml_prj": [("hls_estimate", 32195, 2762, 23, 9, 1)],
    "hls4ml_tutorial/model_3__hls4ml_prj_pynq": [("hls_estimate", 33690, 17330, 9, 52, 15)],
    "hls4ml_tutorial/pruned_cnn": [("hls_estimate", 245466, 52549, 5414, 1044, 1028),
                                   ("post_synthesis", 123948, 43435, 5386, None, None)],
    "hls4ml_tutorial/quantized_pruned_cnn": [("hls_estimate", 263280, 43847, 340, 1044, 1028),
                                             ("post_synthesis", 118931, 30702, 353, None, None)],
}


@pytest.mark.parametrize("folder", sorted(EXPECTED))
def test_report_parser_on_every_shared_report(folder):
    if not REPORTS.exists():
        pytest.skip("../shared/reports is absent (project cloned alone)")
    records = parse_project(REPORTS / folder)
    got = [(r.flow, r.lut, r.ff, r.dsp, r.latency_best, r.interval_min) for r in records]
    assert got == EXPECTED[folder]
    for record in records:
        assert record.version.startswith(("2019.2", "2020.1")) and record.part


def test_fixture_details_and_rpt_fallback(tmp_path):
    if not REPORTS.exists():
        pytest.skip("../shared/reports is absent (project cloned alone)")
    fixture = REPORTS / "hls4ml_test_fixture" / "Vivado"
    hls, synth = parse_project(fixture)
    assert (hls.part, hls.clock_target_ns, hls.clock_estimate_ns) == ("xc7z020-clg400-1", 5.0, 4.049)
    assert (hls.latency_worst, hls.interval_max, hls.bram18) == (10, 8, 0)
    assert synth.tool == "Vivado" and synth.version == "2020.1" and synth.bram18 == 0
    text_only = tmp_path / "rpt_only"
    text_only.mkdir()
    (text_only / "myproject_csynth.rpt").write_text((fixture / "myproject_csynth.rpt").read_text())
    (from_rpt,) = parse_project(text_only)
    assert (from_rpt.lut, from_rpt.ff, from_rpt.dsp, from_rpt.latency_best,
            from_rpt.interval_min, from_rpt.clock_estimate_ns) == (2532, 7969, 73, 10, 8, 4.049)


def test_parser_reads_the_top_functions_report_and_each_layers_by_its_config(tmp_path):
    if not REPORTS.exists():
        pytest.skip("../shared/reports is absent (project cloned alone)")
    top = (REPORTS / "hls4ml_tutorial" / "model_1__hls4ml_prj" / "myproject_csynth.xml").read_text()
    folder = tmp_path / "mynet_prj" / "solution1" / "syn" / "report"
    folder.mkdir(parents=True)
    # HLS writes one report per function; a layer's sorts before the top's.
    layers = {"dense_latency_ap_fixed_16_6_config2_s_csynth.xml": 1111,  # Vitis HLS's name
              "dense_latency_ap_fixed_16_6_config20_s_csynth.xml": 2020,
              # Vivado HLS appends a suffix per template argument.
              "dense_latency_ap_fixed_ap_fixed_18_6_5_3_0_config4_0_0_0_csynth.xml": 4444,
              "relu_ap_fixed_16_6_relu_config3_s_csynth.xml": 3333}
    for name, lut in layers.items():
        (folder / name).write_text(top.replace("<LUT>84942</LUT>", f"<LUT>{lut}</LUT>"))
    (folder / "mynet_csynth.xml").write_text(top)
    (tmp_path / "hls4ml_config.yml").write_text("OutputDir: x\nProjectName: mynet\n")
    (record,) = parse_project(tmp_path)
    assert record.lut == 84942 and record.source.endswith("mynet_csynth.xml")
    assert (record.tool, record.version, record.clock_uncertainty_ns,
            record.product_family) == ("Vivado HLS", "2019.2", 0.62, "virtexuplus")
    # Each dense layer's own report by its config name: not the activation's, nor a layer's
    # whose two solutions disagree, nor one of a project below.
    other = tmp_path / "mynet_prj" / "solution2"
    for lut in (6000, 6666):
        (other / str(lut)).mkdir(parents=True)
        (other / str(lut) / "dense_latency_ap_fixed_16_6_config6_s_csynth.xml").write_text(
            top.replace("<LUT>84942</LUT>", f"<LUT>{lut}</LUT>"))
    nested = tmp_path / "other_project"
    nested.mkdir()
    (nested / "hls4ml_config.yml").write_text("ProjectName: other\n")
    (nested / "dense_latency_ap_fixed_16_6_config8_s_csynth.xml").write_text(top)
    assert {config: r.lut for config, r in layer_csynths(tmp_path).items()} == \
        {"config2": 1111, "config20": 2020, "config4": 4444}
    (tmp_path / "hls4ml_config.yml").write_text("ProjectName: other\n")
    with pytest.raises(Exception, match="no synthesis report"):
        parse_project(tmp_path)


def test_parser_tells_vitis_hls_from_vivado_hls():
    if not SHARED.exists():
        pytest.skip("../shared is absent (project cloned alone)")
    projects = SHARED / "calibration" / "public_hls4ml_mlp" / "projects"
    (vitis,) = parse_project(projects / "nrp-nautilus__6nrp-hls4ml" / "model_1__hls4ml_prj")
    assert (vitis.tool, vitis.version, vitis.clock_uncertainty_ns) == ("Vitis HLS", "2022.2", 1.35)
    text = projects / "MichalVarsanyi__FPGA-NN-Demo" / "hld_model" / "myproject_csynth.rpt"
    from nas.hls.reports import parse_csynth_rpt

    record = parse_csynth_rpt(text)
    assert (record.tool, record.product_family, record.clock_uncertainty_ns) == \
        ("Vitis HLS", "artix7", 0.62)


def test_parser_errors(tmp_path):
    from nas.errors import NasError

    with pytest.raises(NasError, match="is not a directory"):
        parse_project(tmp_path / "absent")
    with pytest.raises(NasError, match="no synthesis report"):
        parse_project(tmp_path)


def test_export_refuses_a_non_empty_output_directory(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(Exception, match="exists and is not empty"):
        hls_export.check_output_dir(tmp_path, force=False)
    hls_export.check_output_dir(tmp_path, force=True)
    assert Path(tmp_path / "keep.txt").read_text() == "mine"
