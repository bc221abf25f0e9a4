"""The HTML report: self-contained, with the fronts, hypervolume, designs and references."""

import dataclasses
import re

import pytest
from conftest import run_nas

from nas.app.report import hypervolume_history, render
from nas.search.front import hypervolume_2d, pareto_front, useful_front

pytestmark = pytest.mark.slow


def test_hypervolume_2d_by_hand():
    import numpy as np

    # Points (acc, cost): (0.9, 10) and (0.8, 5); reference (0.5, 20).
    area = hypervolume_2d(np.array([0.9, 0.8]), np.array([10.0, 5.0]), 0.5, 20.0)
    assert area == pytest.approx((10 - 5) * 0.3 + (20 - 10) * 0.4)
    assert hypervolume_2d(np.array([0.4]), np.array([30.0]), 0.5, 20.0) == 0.0


def test_report_holds_the_figures_the_front_and_the_references(small_study):
    study, settings = small_study
    space = dataclasses.replace(settings.space, min_accuracy=0.01)  # every front design useful
    page = render(study, space)
    for title in ("Accuracy against LUT-equivalents", "Accuracy against latency",
                  "Hypervolume over trials", "Estimator against synthesis"):
        assert f"<h2>{title}</h2>" in page
    assert "<h2>Useful front:" in page
    # What the estimates are estimates of, and the error their calibration measured.
    held_out = study.user_attrs["calibration"]["estimators"][study.user_attrs["estimator"]][
        "held_out_error"]
    assert "estimates of the open flow" in page
    assert f"LUT {round(held_out['lut']['mape'], 1):.1f} %" in page
    teacher = study.user_attrs["teacher_val_accuracy"]
    assert f"teacher {teacher:.4f} (validation)" in page and "xc7a35t budget" in page
    front = useful_front(study, space)
    assert front and len(front) == len(pareto_front(study))
    for trial in front:
        assert f"<tr><td>{trial.number}</td>" in page
    assert not re.search(r"<script[^>]+src=[\"']http", page)  # self-contained
    assert page.count("Plotly.newPlot") == 3
    numbers, volumes = hypervolume_history(study, settings.space)
    assert all(a <= b for a, b in zip(volumes, volumes[1:], strict=False))


def test_nas_report_writes_the_file(small_study, tmp_path):
    _study, settings = small_study
    out = tmp_path / "r.html"
    result = run_nas("report", "--space", "mlp_psd", "--workdir", str(settings.workdir),
                     "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_text().startswith("<!DOCTYPE html>")
