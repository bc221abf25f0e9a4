"""Calibration: fit/predict round trips, calibration files, rows from reports and tables, the
generate-synthesize-fit loop, and the search using a study's calibration."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import optuna
import pytest
from conftest import SHARED, run_nas, tiny_space

from nas.errors import NasError, StudyError
from nas.estimators.base import QUANTITIES
from nas.estimators.calibration import (
    SCHEMA,
    Calibration,
    cross_predict,
    default_calibration,
    error_table,
    evaluation_folds,
    fit_estimators,
    mean_over_groups,
    measured_matrix,
)
from nas.estimators.trace import TRACE_FEATURES, TraceEstimator
from nas.estimators.vendor.design import VendorDesign, VendorLayer, WeightStats
from nas.estimators.vendor.rows import calibration_row
from nas.hls.fact_tables import read_table
from nas.hls.project_facts import FixedType, read_project
from nas.search.records import results
from nas.search.study import study_calibration

needs_shared = pytest.mark.skipif(not SHARED.exists(), reason="../shared is not beside the project")


def test_trace_estimator_round_trip_with_known_coefficients():
    rng = np.random.default_rng(1)
    designs = [dict(zip(TRACE_FEATURES, rng.uniform(0, 5000, len(TRACE_FEATURES)), strict=True))
               for _ in range(30)]
    for design in designs:
        design["stages"] = float(rng.integers(1, 9))
    truth = TraceEstimator({"lut": (1.1, 1.3, 0.2, 0.5, 0.0, 0.7, 0.4, 2.0), "ff": (0.9,),
                            "latency_cycles": (1.0,)})
    measured = np.array([[getattr(e, q) for q in QUANTITIES] for e in truth.predict(designs)])
    fitted = TraceEstimator().fit(designs, measured)
    assert fitted.coefficients["lut"] == pytest.approx(truth.coefficients["lut"], abs=1e-6)
    assert fitted.coefficients["ff"] == pytest.approx(truth.coefficients["ff"], abs=1e-6)
    table = error_table(fitted.predict(designs), measured)
    assert table["lut"]["mape"] < 1e-6 and table["latency_cycles"]["exact_fraction"] == 1.0
    assert "dsp" not in table  # never nonzero in the data: not reported


def _calibration_file(tmp_path: Path, **changes) -> Path:
    values = dataclasses.asdict(default_calibration("open"))
    values.update(changes)
    path = tmp_path / "cal.json"
    path.write_text(json.dumps(values))
    return path


@pytest.mark.parametrize(("content", "message"), [
    ("not json {", "is not JSON"),
    ('["a", "list"]', "has schema 'list'"),
    ('{"schema": "nas-calibration/0"}', "has schema 'nas-calibration/0'"),
    (json.dumps({"schema": SCHEMA, "flow": "open"}), "lacks part_family"),
    (json.dumps({**dataclasses.asdict(default_calibration("open")), "extra": 1}),
     "unknown keys extra"),
])
def test_calibration_file_errors(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(NasError, match=message):
        Calibration.load(path)


def _older_ff() -> dict:
    """The shipped form of a calibration made before the FF model counted kept registers."""
    values = dataclasses.asdict(default_calibration("open"))
    values["estimators"]["trace"]["models"]["ff"] = {"features": ["register_bits", "input_bits"],
                                                     "coefficients": [0.9, 0.1]}
    return values


def test_a_study_made_with_older_trace_features_is_refused_with_one_line():
    study = optuna.create_study(study_name="old")
    study.set_user_attr("calibration", _older_ff())
    with pytest.raises(StudyError, match="study 'old' was made with a calibration this version "
                                         "cannot use .*ff uses the features register_bits.*"
                                         "start a new study"):
        study_calibration(study)


def test_calibration_file_flow_and_estimator_errors(tmp_path):
    with pytest.raises(NasError, match="is for the 'open' flow, not 'vitis'"):
        Calibration.load(_calibration_file(tmp_path), "vitis")
    with pytest.raises(NasError, match="unknown or malformed estimator 'magic'"):
        Calibration.load(_calibration_file(tmp_path, estimators={"magic": {"models": {}}}))
    broken = dataclasses.asdict(default_calibration("open"))["estimators"]
    broken["trace"]["models"]["lut"]["coefficients"] = [1.0]
    with pytest.raises(NasError, match="lut needs 8 coefficients"):
        Calibration.load(_calibration_file(tmp_path, estimators=broken))
    with pytest.raises(NasError, match="model of ff uses the features register_bits, input_bits, "
                                       "this version computes kept_register_bits: write it again"):
        Calibration.load(_calibration_file(tmp_path, estimators=_older_ff()["estimators"]))
    with pytest.raises(NasError, match="cannot read calibration file"):
        Calibration.load(tmp_path / "missing.json")


def test_shipped_calibrations_load_and_cover_their_flows():
    open_flow, vitis = default_calibration("open"), default_calibration("vitis")
    assert set(open_flow.estimators) == {"architecture", "trace"}
    assert set(vitis.estimators) == {"vendor_hls"} and vitis.part_family == "ultrascale+xc7"
    assert vitis.data["evaluation"].startswith("leave-one-group-out")
    assert open_flow.tool_versions["yosys"].startswith("Yosys")
    assert open_flow.data["n_designs"] >= 5 and len(open_flow.data["sha256"]) == 64
    for calibration in (open_flow, vitis):
        for entry in calibration.estimators.values():
            assert entry["held_out_error"]["lut"]["n"] >= 1


@needs_shared
def test_every_shared_project_folder_becomes_a_row_with_its_top_report():
    from nas.hls.reports import parse_project

    projects = sorted(p.parent for p in SHARED.rglob("hls4ml_config.yml"))
    assert len(projects) == 6
    for project in projects:
        row = calibration_row(read_project(project))
        (record, *_) = parse_project(project)
        assert (row["measured"]["lut"], row["measured"]["ff"]) == (record.lut, record.ff)
        assert row["measured"]["latency_cycles"] == record.latency_worst
        assert all(0 < x["weights"]["nonzero"] <= x["n_in"] * x["n_out"]
                   for x in row["design"]["layers"])


@pytest.mark.parametrize(("args", "message"), [
    (["--flow", "vitis", "--generate", "6"], "--from-study calibrate the open flow"),
    (["--space", "cnn_psd", "--from-study", "x"], "--space chooses the students --generate samples"),
    (["--generate", "6", "--space", "cnn_nothing"], "--space 'cnn_nothing' is unknown"),
    (["--generate", "6", "--space", "mlp_gn", "cnn_nothing"], "--space 'cnn_nothing' is unknown"),
    (["--generate", "6", "--table", "x.csv"], "calibrate the vendor flow"),
    (["--generate", "6", "--mix-families"], "calibrate the vendor flow"),
    ([], "give --generate N"),
    (["--flow", "vitis"], "give --reports DIR or --table CSV"),
    (["--flow", "vitis", "--table", "missing.csv"], "cannot read missing.csv"),
    (["--flow", "vitis", "--reports", "nowhere"], "not a directory"),
    (["--generate", "2"], "--generate 2 is out of range"),
])
def test_calibrate_bad_input(tmp_path, args, message):
    result = run_nas("calibrate", "--workdir", str(tmp_path / "w"), *args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "w").exists()


def test_table_with_wrong_columns(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("a,b\n1,2\n")
    with pytest.raises(NasError, match="not a result table: it lacks the columns"):
        read_table(table)


#: A cap on the calibration designs' prior LUTs that keeps each synthesis to seconds.
SMALL = 3_000


@pytest.mark.slow
def test_generate_synthesize_fit_loop_resumes(tmp_path):
    """6 real designs (small ones, for time): trained, traced, synthesized by yosys, fitted;
    the second call only makes the design the first did not."""
    from rich.console import Console

    from nas.app.calibrate import GeneratedDesigns, calibrate
    from nas.app.generate import generate, read_rows

    folder = tmp_path / "designs"
    first, failures = generate(folder, 5, jobs=2, max_prior_lut=SMALL)
    assert failures == [] and len(first) == 5
    made = []
    generate(folder, 6, jobs=2, max_prior_lut=SMALL, on_progress=lambda *p: made.append(p[2]))
    assert [row["index"] for row in made if row] == [5]
    out = tmp_path / "open.json"
    calibration = calibrate("open", out, Console(width=200),
                            generated=[GeneratedDesigns(folder, None, 6)], jobs=2)
    rows = read_rows(folder)
    assert sorted(r["index"] for r in rows) == list(range(6))
    by_index = {r["index"]: r for r in rows}
    assert all(by_index[r["index"]]["measured"] == r["measured"] for r in first)
    assert all(r["measured"]["lut"] > 0 and r["measured"]["dsp"] == 0 for r in rows)
    assert all(r["measured"]["latency_cycles"] == r["trace"]["stages"] for r in rows)
    assert Calibration.load(out, "open").data["n_designs"] == 6
    assert calibration.estimators["trace"]["held_out_error"]["latency_cycles"]["mape"] == 0.0
    # rows of other feature definitions (the same names, counted another way) are computed
    # again, every row of the folder kept, when a fit uses fewer of them
    stale = [{**row, "trace_definitions": "older", "trace": dict.fromkeys(row["trace"], -1.0)}
             for row in rows]
    (folder / "rows.jsonl").write_text("".join(json.dumps(row) + "\n" for row in stale))
    calibrate("open", out, Console(width=200), generated=[GeneratedDesigns(folder, None, 5)],
              jobs=2)
    assert {r["index"]: r["trace"] for r in read_rows(folder)} == {
        r["index"]: r["trace"] for r in rows}


@pytest.mark.slow
def test_generate_samples_conv_students_of_a_cnn_space(tmp_path):
    """Calibration designs of cnn_psd are conv students, synthesized; their trace features are
    recomputed from their stored weights as for dense ones."""
    from nas.app.generate import generate, read_rows, refresh_features
    from nas.model.config import StudentConfig
    from nas.spaces import get_space

    folder = tmp_path / "designs"
    rows, failures = generate(folder, 2, jobs=2, max_prior_lut=SMALL, space=get_space("cnn_psd"))
    assert failures == [] and len(rows) == 2
    for row in rows:
        config = StudentConfig.from_dict(row["config"])
        assert config.convs and config.input_shape == (30, 1)
        # 3 epochs without a teacher can leave a student constant (no logic, left out of fits)
        assert (row["measured"]["lut"] > 0) == (row["trace"]["n_add"] > 0)
        assert row["measured"]["latency_cycles"] == row["trace"]["stages"]
    stale = read_rows(folder)
    features = [dict(row["trace"]) for row in stale]
    for row in stale:
        del row["trace"]["n_add"]
    assert refresh_features(folder, stale) == 2
    assert [row["trace"] for row in read_rows(folder)] == features


@pytest.mark.slow
def test_search_uses_the_calibration_given_and_keeps_it(tmp_path):
    from nas.estimators.trace import student_features
    from nas.search.objective import load_student
    from nas.search.settings import RunSettings
    from nas.search.study import create_or_continue, run_search, study_calibration

    doubled = dataclasses.asdict(default_calibration("open"))["estimators"]
    lut = doubled["trace"]["models"]["lut"]
    lut["coefficients"] = [2 * c for c in lut["coefficients"]]
    path = _calibration_file(tmp_path, estimators=doubled)
    space = tiny_space()
    settings = RunSettings(space=space, trials=1, seed=2, workdir=tmp_path / "w", calibration=path)
    study = run_search(settings, create_or_continue(settings))
    assert study.user_attrs["estimator"] == "trace"
    assert study_calibration(study).estimators == Calibration.load(path).estimators
    trial = next(t for t in study.trials if t.state.name == "COMPLETE")
    model, config = load_student(trial, space, _store(settings))
    features = student_features(model, config, config.inputs, space.clock_mhz)
    expected = Calibration.load(path).estimator("trace").predict_one(features)
    default = default_calibration("open").estimator("trace").predict_one(features)
    assert trial.user_attrs["est_lut"] == pytest.approx(expected.lut)
    assert expected.lut == pytest.approx(2 * default.lut)
    assert trial.user_attrs["estimate_seconds"] < 5
    other = dataclasses.replace(settings, calibration=None)
    create_or_continue(other)  # continuing without --calibration keeps the study's own
    (tmp_path / "other.json").write_text(json.dumps(dataclasses.asdict(default_calibration("open"))))
    with pytest.raises(NasError, match="made with another calibration"):
        create_or_continue(dataclasses.replace(settings, calibration=tmp_path / "other.json"))


def _store(settings):
    import optuna

    return optuna.artifacts.FileSystemArtifactStore(str(settings.paths.artifacts))


def test_run_refuses_a_bad_calibration_file_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    result = run_nas("run", "--space", "mlp_psd", "--quick", "--workdir", str(tmp_path / "w"),
                     "--calibration", str(bad))
    assert result.returncode == 2 and "has schema None" in result.stderr
    assert not (tmp_path / "w").exists()
    vitis = tmp_path / "vitis.json"
    vitis.write_text(json.dumps(dataclasses.asdict(default_calibration("vitis"))))
    result = run_nas("run", "--space", "mlp_psd", "--quick", "--workdir", str(tmp_path / "w"),
                     "--calibration", str(vitis))
    assert result.returncode == 2 and "is for the 'vitis' flow, not 'open'" in result.stderr
    assert not (tmp_path / "w").exists()


def test_fit_estimators_holds_out_a_fifth_of_rows_without_groups():
    rng = np.random.default_rng(3)
    stats = WeightStats.expected(64.0, FixedType(8, 1), 16)
    rows = [{"design": VendorDesign((VendorLayer(16, int(rng.integers(2, 9)), 8, 8, 16, 8, 1,
                                                 "latency", "relu", stats),),
                                    "io_parallel", "xc7", 1.0, 5.0, 0.6).to_dict(),
             "measured": {"lut": float(rng.uniform(100, 1000)), "ff": 10.0, "dsp": 0.0,
                          "bram": 0.0, "latency_cycles": 1.0}} for _ in range(20)]
    calibration = fit_estimators("vitis", rows, 200.0, {}, {})
    assert (calibration.data["n_fit"], calibration.data["n_held_out"]) == (16, 4)
    assert calibration.data["evaluation"] == "held-out fifth"
    assert calibration.estimators["vendor_hls"]["held_out_error"]["lut"]["n"] == 4
    assert "group_mape" not in calibration.estimators["vendor_hls"]["held_out_error"]["lut"]


def test_the_mean_over_groups_weighs_every_group_the_same():
    measured = np.zeros((11, len(QUANTITIES)))
    measured[:, QUANTITIES.index("lut")] = 100.0
    estimates = measured.copy()
    estimates[:10, QUANTITIES.index("lut")] = 110.0   # a large group missed by 10 %
    estimates[10, QUANTITIES.index("lut")] = 200.0    # a group of one missed by 100 %
    measured[10, QUANTITIES.index("ff")], estimates[10, QUANTITIES.index("ff")] = 50.0, 25.0
    groups = ["large"] * 10 + ["one"]
    assert error_table(estimates, measured)["lut"]["mape"] == pytest.approx(100 * 2.0 / 11)
    mean = mean_over_groups(estimates, measured, groups)
    assert mean["lut"] == pytest.approx(55.0)
    # The large group reports no FF: only the other group's error counts.
    assert mean["ff"] == pytest.approx(50.0) and set(mean) == {"lut", "ff"}


def test_a_calibration_left_out_by_group_says_what_a_new_group_can_expect():
    rng = np.random.default_rng(5)
    stats = WeightStats.expected(64.0, FixedType(8, 1), 16)
    sizes = {"sweep": 12, "repo_a": 2, "repo_b": 1, "repo_c": 1}
    rows = [{"design": VendorDesign((VendorLayer(16, int(rng.integers(2, 9)), 8, 8, 16, 8, 1,
                                                 "latency", "relu", stats),),
                                    "io_parallel", "xc7", 1.0, 5.0, 0.6).to_dict(),
             "measured": {"lut": float(rng.uniform(100, 1000)) * (3.0 if group != "sweep" else 1),
                          "ff": 10.0, "dsp": 0.0, "bram": 0.0, "latency_cycles": 1.0},
             "group": group} for group, n in sizes.items() for _ in range(n)]
    calibration = fit_estimators("vitis", rows, 200.0, {}, {})
    assert calibration.data["evaluation"] == "leave-one-group-out over 4 groups"
    error = calibration.estimators["vendor_hls"]["held_out_error"]["lut"]
    _, folds = evaluation_folds(rows)
    predicted, measured = cross_predict("vendor_hls", rows, folds), measured_matrix(rows)
    per_group = [error_table(predicted[fold], measured[fold])["lut"]["mape"] for fold in folds]
    assert error["groups"] == 4 and error["group_mape"] == pytest.approx(np.mean(per_group))
    # The twelve designs of one group make most of the MAPE over designs, not of this mean.
    assert abs(error["group_mape"] - error["mape"]) > 5.0


@pytest.mark.slow
def test_vitis_flow_search_uses_the_vendor_estimator(tmp_path):
    from nas.search.storage import open_existing
    from nas.spaces import get_space

    result = run_nas("run", "--space", "mlp_psd", "--quick", "--trials", "1", "--flow", "vitis",
                     "--workdir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "skipped (the vitis flow needs vendor tools" in result.stdout
    study, settings = open_existing(get_space("mlp_psd"), tmp_path, None)
    assert settings.flow == "vitis" and study.user_attrs["estimator"] == "vendor_hls"
    assert study.user_attrs["calibration"]["flow"] == "vitis"
    trial = next(t for t in study.trials if t.state.name == "COMPLETE")
    assert trial.user_attrs["est_lut"] > 0 and "est_dsp" in trial.user_attrs
    # The vendor flow searches hls4ml's strategy and reuse factor; the student records them.
    config = trial.user_attrs["config"]
    assert (config["strategy"], config["reuse_factor"]) == (trial.params["strategy"],
                                                            trial.params["reuse_factor"])
    assert trial.user_attrs["est_interval"] >= 1
    # Its report says so, with the error a new repository's design can expect.
    from nas.app.report import render

    page = render(study, settings.space)
    held_out = study.user_attrs["calibration"]["estimators"]["vendor_hls"]["held_out_error"]
    assert "estimates of the vitis flow" in page and "open flow (distributed" not in page
    assert f"FF {round(held_out['ff']['group_mape'], 1):.1f} %" in page
    again = run_nas("run", "--space", "mlp_psd", "--quick", "--trials", "1", "--workdir",
                    str(tmp_path))
    assert again.returncode == 2 and "'flow': 'vitis'" in again.stderr


def test_generated_rows_drop_only_a_truncated_last_line(tmp_path):
    from nas.app.generate import ROWS, read_rows

    rows = [{"index": 0}, {"index": 1}]
    (tmp_path / ROWS).write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"index": 2, "tr')
    assert read_rows(tmp_path) == rows
    (tmp_path / ROWS).write_text(json.dumps(rows[0]) + "\n{garbage\n" + json.dumps(rows[1]) + "\n")
    with pytest.raises(NasError, match="line 2 is not a calibration row"):
        read_rows(tmp_path)


@pytest.mark.slow
def test_a_study_s_synthesized_designs_become_calibration_rows(small_study, tmp_path):
    from nas.app.calibrate import study_rows
    from nas.app.synth import synthesize_trials

    study, settings = small_study
    numbers = [t.number for t in study.trials if t.state.name == "COMPLETE"][:2]
    synthesize_trials(study, settings, numbers, jobs=2)
    rows = study_rows(study, settings)
    records = results(study, "synth")
    assert len(rows) == sum(r["status"] == "ok" for r in records.values()) >= 2
    estimator = default_calibration("open").estimator("trace")
    by_trial = {int(row["source"].rsplit(":", 1)[1]): row for row in rows}
    for number in numbers:
        row, trial = by_trial[number], study.trials[number]
        assert row["measured"]["lut"] == records[number]["lut"] > 0
        # the features traced again from the stored weights give the trial's own estimate
        assert estimator.predict_one(row["trace"]).lut == pytest.approx(trial.user_attrs["est_lut"])
    few = run_nas("calibrate", "--from-study", str(settings.paths.root), "--workdir",
                  str(tmp_path), cwd=tmp_path)
    assert few.returncode == 2 and f"only {len(rows)} designs to fit on" in few.stderr
