"""The Python API (``nas.run``, ``nas.Study``), the process it leaves as it found it, and the
example notebook run end to end."""

import json
import subprocess
import sys
import textwrap

import pytest
from conftest import REPO

#: Run in a fresh interpreter: what ``import nas`` and an API call change in the process.
SIDE_EFFECTS = textwrap.dedent("""
    import json, os, signal, sys, warnings
    sys.path.insert(0, {tests!r})

    def state():
        return {{"environ": dict(os.environ),
                 "signals": [repr(signal.getsignal(s)) for s in (signal.SIGINT, signal.SIGTERM)],
                 "showwarning": repr(warnings.showwarning),
                 "unraisablehook": repr(sys.unraisablehook)}}

    before = state()
    import nas
    after_import = state()
    tensorflow_at_import = "tensorflow" in sys.modules
    from conftest import tiny_space
    study = nas.run(tiny_space(), trials=2, workdir={workdir!r}, seed=1, device="cpu")
    front = study.front(min_accuracy=0)
    figure = study.plot()
    after_run = state()
    print(json.dumps({{"import": after_import == before, "run": after_run == before,
                      "changed": sorted(k for k in set(before["environ"]) | set(after_run["environ"])
                                        if before["environ"].get(k) != after_run["environ"].get(k)),
                      "tensorflow_at_import": tensorflow_at_import, "front": len(front),
                      "columns": list(front.columns), "figure": type(figure).__name__}}))
""")


@pytest.fixture(scope="module")
def api_run(tmp_path_factory):
    """One tiny search run through the API in a fresh interpreter (2 trials), its summary and
    its workdir."""
    workdir = tmp_path_factory.mktemp("api")
    script = SIDE_EFFECTS.format(tests=str(REPO / "tests"), workdir=str(workdir))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stderr, workdir


@pytest.mark.slow
def test_import_and_api_calls_change_nothing_in_the_process(api_run):
    summary, _, _ = api_run
    assert summary["import"] and not summary["tensorflow_at_import"]
    assert summary["run"], summary["changed"]


@pytest.mark.slow
def test_api_run_logs_and_gives_a_front(api_run):
    summary, stderr, _ = api_run
    assert summary["front"] >= 1 and summary["figure"] == "Figure"
    assert {"val_accuracy", "lut_equivalent", "test_accuracy"} <= set(summary["columns"])
    # nothing routed the nas logger: run printed its lines to stderr, Optuna's were off
    assert "training on the CPU (asked for)" in stderr and "stage: searching" in stderr
    assert stderr.count(" complete: val acc ") >= 2
    assert "Trial 0 finished" not in stderr


@pytest.mark.slow
def test_open_study_front_limits_and_report(api_run, tmp_path):
    import nas

    _, _, workdir = api_run
    from conftest import tiny_space

    study = nas.open_study(tiny_space(), workdir=workdir)
    whole = study.front(min_accuracy=0)
    assert list(whole.index) == sorted(whole.index) and whole.index.name == "trial"
    cheapest = whole["lut_equivalent"].min()
    assert (study.front(min_accuracy=0, max_lut=cheapest)["lut_equivalent"] <= cheapest).all()
    assert study.front(min_accuracy=1.01).empty
    assert study.report(tmp_path / "r.html").read_text().count("plotly") > 3
    assert set(study.figures()) >= {"Accuracy against LUT-equivalents", "Hypervolume over trials"}
    with pytest.raises(ValueError, match="use one of lut, latency, hypervolume"):
        study.plot("area")


def test_bad_settings_raise_before_anything_is_written(tmp_path):
    import nas
    from nas.errors import InvalidValue

    with pytest.raises(InvalidValue, match="device"):
        nas.run("mlp_psd", trials=1, workdir=tmp_path / "w", device="tpu")
    with pytest.raises(InvalidValue, match="trials"):
        nas.run_settings(nas.load_space("mlp_psd"), trials=0, workdir=tmp_path / "w")
    assert not (tmp_path / "w").exists()


@pytest.mark.slow
def test_example_notebook_runs(tmp_path):
    """examples/quickstart.ipynb at 2 trials: a front table, an inline plot, a project."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(REPO / "examples" / "quickstart.ipynb", as_version=4)
    parameters = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
    parameters.source = f"WORKDIR = {str(tmp_path / 'studies')!r}\nTRIALS = 2"
    NotebookClient(notebook, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    data = [o.get("data", {}) for o in outputs]
    assert any("<table" in d.get("text/html", "") and "lut_equivalent" in d["text/html"]
               for d in data)
    assert any("application/vnd.plotly.v1+json" in d or "plotly" in d.get("text/html", "")
               for d in data)
    projects = list((tmp_path / "studies").glob("project_trial_*"))
    assert len(projects) == 1 and (projects[0] / "hls4ml_config.yml").is_file()
    assert (projects[0] / "rtl").is_dir()


def test_device_rule(monkeypatch):
    """auto: the GPU only for CNN students, and only when TensorFlow sees one."""
    from nas import _tf

    monkeypatch.setattr(_tf, "GPUS", [])
    assert _tf.chosen_device("auto", cnn=True) == ("cpu", "auto: no GPU is visible")
    assert _tf.chosen_device("gpu", cnn=False)[0] == "cpu"
    monkeypatch.setattr(_tf, "GPUS", ["a GPU"])
    assert _tf.chosen_device("auto", cnn=True)[0] == "gpu"
    assert _tf.chosen_device("auto", cnn=False)[0] == "cpu"
    assert _tf.chosen_device("gpu", cnn=False) == ("gpu", "asked for")
    assert _tf.chosen_device("cpu", cnn=True) == ("cpu", "asked for")
