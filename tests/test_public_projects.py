"""The public projects' own folders as calibration data: the rows file read from them
(``benchmarks/public_projects.py``), how it replaces the facts table's rows (``nas calibrate
--rows`` and the vendor benchmark), and the reader on the older hls4ml layouts those folders
use."""

import csv
import json
import shutil

import pytest
from conftest import REPO, SHARED, bench_module, run_nas
from test_cli import assert_user_error

from nas.errors import DataError
from nas.estimators.calibration import Calibration
from nas.estimators.vendor.design import VendorDesign
from nas.estimators.vendor.rows import read_rows, replace_rows
from nas.hls.project_facts import read_project

PUBLIC = SHARED / "calibration" / "public_hls4ml_mlp"
MICHAL = PUBLIC / "projects" / "MichalVarsanyi__FPGA-NN-Demo" / "hld_model"
ROWS = REPO / "benchmarks" / "data" / "public_project_rows.json"
needs_shared = pytest.mark.skipif(not PUBLIC.is_dir(), reason="needs ../shared (the public "
                                  "reports); clone the project beside it")
#: A design's fields in a rows file: counts of the weights, never the weights.
WEIGHT_FIELDS = {"nonzero", "multipliers", "shift_add_digits", "multiplier_digits",
                 "multiplier_bits", "exact"}


@needs_shared
def test_the_rows_file_is_the_tables_reports_read_from_their_folders():
    """Each row of the committed rows file is a table row's report (name, part, LUT, FF, DSP,
    latency, layer sizes and reuse factors as the table records them), read from the folder
    with every weight known, and holds weight counts only."""
    with (PUBLIC / "reports.csv").open(newline="") as handle:
        table = list(csv.DictReader(handle))
    rows = read_rows(ROWS)
    assert len(rows) == 33  # every table row but the two whose folders ../shared holds
    for row in rows:
        _, commit, path = row["source"].removeprefix("github:").replace("@", ":", 1).split(":", 2)
        same = [t for t in table if t["commit"] == commit and t["project_path"] == path]
        assert len(same) == 1, row["source"]
        fact, design = same[0], VendorDesign.from_dict(row["design"])
        assert row["name"] == f"{fact['repo']}:{path}" and row["group"] == fact["repo"]
        assert [row["measured"][q] for q in ("lut", "ff", "dsp", "latency_cycles")] == \
            [float(fact[c]) for c in ("LUT", "FF", "DSP", "latency_worst")]
        sizes = [x.n_in for x in design.layers] + [design.layers[-1].n_out]
        assert "-".join(map(str, sizes)) == fact["layer_sizes"]
        assert [x.reuse_factor for x in design.layers] == \
            [int(r) for r in fact["reuse_factor"].split(";")]
        assert all(x.weights.exact for x in design.layers) and not row["assumed"]
        assert all(set(layer["weights"]) == WEIGHT_FIELDS for layer in row["design"]["layers"])
    # Each layer's own report, where HLS kept one, is a part of its design's: together the
    # layers take no more LUT, FF, DSP or cycles than the top function reports.
    layered = [r for r in rows if any(r["layers_measured"])]
    assert len(layered) >= 30
    for row in layered:
        assert len(row["layers_measured"]) == len(row["design"]["layers"])
        for q in ("lut", "ff", "dsp", "latency_cycles"):
            assert sum(x[q] for x in row["layers_measured"] if x) <= row["measured"][q], row["name"]
    hgq = [r for r in rows if any(x["per_element_inputs"] for x in r["design"]["layers"])]
    assert len(hgq) == 7  # the HGQ projects: each input's width is known from its folder
    # Beside them, the same rows with each alternative of the rules the benchmark checks:
    # another narrow-input width changes only HGQ rows, Vivado HLS folding the constants of a
    # narrow odd part only Vivado HLS rows; each changes some.
    projects = bench_module("public_projects")
    variants = json.loads(ROWS.read_text())["variants"]
    assert sorted(json.dumps(v["rule"]) for v in variants) == sorted(
        json.dumps({name: list(value) if isinstance(value, tuple) else value})
        for name, values in projects.RULE_ALTERNATIVES.items() for value in values
        if value != projects.SHIPPED_RULES[name])
    affected = {"table_input_bits": {r["name"] for r in hgq},
                "odd_part_tools": {r["name"] for r in rows if r["tool"].startswith("Vivado")}}
    for variant in variants:
        changed = {a["name"] for a, b in zip(rows, variant["rows"], strict=True) if a != b}
        (name,) = variant["rule"]
        assert changed and changed <= affected[name], variant["rule"]


def _row(name: str, lut: float, part: str = "xc7z020-clg400-1") -> dict:
    return {"name": name, "group": name.split(":")[0], "part": part,
            "measured": {"lut": lut, "ff": 10.0, "dsp": 1.0, "latency_cycles": 3.0}}


def test_a_richer_row_replaces_the_row_of_its_report_and_keeps_its_name():
    table = [_row("a/x:p", 100.0), _row("b/y:q", 200.0)]
    richer = {**_row("elsewhere", 200.0, "XC7Z020CLG400-1"), "design": {"layers": [1]}}
    merged = replace_rows(table, [richer])
    assert merged[0] is table[0]
    assert merged[1]["design"] == {"layers": [1]}  # the folder's facts
    assert (merged[1]["name"], merged[1]["group"]) == ("b/y:q", "b/y")  # the table's names
    with pytest.raises(DataError, match="match no report"):
        replace_rows(table, [_row("c/z:r", 300.0)])  # would enter the fit under its own name


def test_a_file_that_is_not_a_rows_file_is_refused_in_one_line(tmp_path):
    bad = tmp_path / "rows.json"
    for text in ("not json", json.dumps({"rows": [{"design": {}}]}), json.dumps([1, 2])):
        bad.write_text(text)
        with pytest.raises(DataError, match="not a calibration rows file") as error:
            read_rows(bad)
        assert "\n" not in str(error.value)


@needs_shared
def test_calibrate_takes_the_rows_file_in_place_of_the_table_rows(tmp_path):
    """The HGQ projects' folders record each input's width: with the rows file the vitis
    calibration holds their per-element layers, and its data say so; without it, none."""
    table = str(PUBLIC / "reports.csv")
    counts = {}
    for label, extra in (("table", []), ("rows", ["--rows", str(ROWS)])):
        out = tmp_path / f"{label}.json"
        result = run_nas("calibrate", "--flow", "vitis", "--table", table, *extra,
                         "--mix-families", "--out", str(out), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        counts[label] = Calibration.load(out).data["per_element_input_layers"]
    assert counts == {"table": 0, "rows": 28}  # 7 HGQ projects x 4 layers
    assert_user_error(run_nas("calibrate", "--flow", "vitis", "--table", table, "--rows",
                              str(tmp_path / "rows.json"), "--out", str(tmp_path / "x.json"),
                              cwd=tmp_path), "not a calibration rows file")


@needs_shared
def test_the_vendor_benchmark_scores_the_folders_facts():
    rows = bench_module("bench_vendor_hls").shared_rows()
    public = [r for r in rows if r["group"] != "wa_hls4ml_search"]
    assert len(public) == 35 and not any(r["assumed"] for r in public)


@needs_shared
def test_older_hls4ml_layouts_are_read(tmp_path):
    """Older hls4ml sizes layers with ``#define``s (``n_in = N_INPUT_1_1``) and writes a
    layer's types in place (``typedef ap_fixed<16,6> accum_t;``); Vivado HLS keeps the top's
    report as ``csynth.xml``; a project may hold another project in a folder below it, whose
    report is not its own."""
    project = tmp_path / "hld_model"
    shutil.copytree(MICHAL, project)
    parameters = (project / "parameters.h").read_text()
    parameters = parameters.replace("n_in = 25;", "n_in = N_INPUT_1_1;")
    parameters = parameters.replace("typedef model_default_t accum_t;",
                                    "typedef ap_fixed<16,6> accum_t;")
    (project / "parameters.h").write_text(parameters)
    defines = (project / "defines.h").read_text()
    (project / "defines.h").write_text(defines.replace("#define DEFINES_H_",
                                                       "#define DEFINES_H_\n#define N_INPUT_1_1 25"))
    report = project / "myproject_prj" / "solution1" / "syn" / "report"
    report.mkdir(parents=True)
    (project / "myproject_csynth.xml").rename(report / "csynth.xml")
    (project / "myproject_csynth.rpt").unlink()
    shutil.copytree(SHARED / "reports" / "hls4ml_tutorial" / "model_1__hls4ml_prj",
                    project / "copy" / "model_1")
    # A layer's own report (Vivado HLS's name for the function of the layer configured by
    # config5), read only when asked for.
    layer_report = (report / "csynth.xml").read_text().replace("<LUT>40231</LUT>", "<LUT>123</LUT>")
    (report / "dense_latency_ap_fixed_ap_fixed_16_6_5_3_0_config5_0_0_csynth.xml").write_text(
        layer_report)
    facts = read_project(project)
    assert all(x.report is None for x in facts.layers)
    with_layers = read_project(project, layer_reports=True)
    assert [x.report.lut if x.report else None for x in with_layers.layers] == \
        [None, 123, None]
    assert with_layers.layers[1].name == "config5"
    assert [(x.n_in, x.n_out) for x in facts.layers] == [(25, 32), (32, 16), (16, 10)]
    assert facts.layers[0].accum.width == 16
    assert facts.report.lut == 40231  # its own report, not the nested tutorial project's
