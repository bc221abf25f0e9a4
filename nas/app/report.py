"""The study as one self-contained HTML page (plotly): fronts, hypervolume, designs, estimator.

Written at the end of ``nas run`` to ``<workdir>/<space>/report.html`` and attached to the
study as an artifact (reachable from optuna-dashboard); ``nas report`` writes it on demand.
"""

import html
from pathlib import Path

import numpy as np
import optuna
import plotly.graph_objects as go
import plotly.io as pio
from optuna.trial import FrozenTrial, TrialState

from nas.app.render import expected_error_caption
from nas.model.workdir import StudyPaths
from nas.search.front import (
    accuracy_floor,
    calibration_held_out,
    evidence_lines,
    front_rows,
    hypervolume_2d,
    is_feasible,
    pareto_front,
    trial_counts,
    useful_front,
)
from nas.search.records import artifact_store, results
from nas.spaces.space import Space

GREY, FRONT_ALL, FRONT, TEACHER, BUDGET = "#b0b0b0", "#ff9896", "#d62728", "#2ca02c", "#7f7f7f"


def _complete(study: optuna.Study) -> list[FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def _front_figure(study: optuna.Study, space: Space, x_key: str, x_title: str,
                  budget: float | None) -> go.Figure:
    """Validation accuracy against an estimated cost: every trial, the whole front, the useful
    front and the synthesized designs; LUTs on a log axis (fronts span 100 to 20,000), accuracy
    from a little below the floor."""
    trials, front, useful = _complete(study), pareto_front(study), useful_front(study, space)
    floor = accuracy_floor(study, space)
    figure = go.Figure()
    for name, group, color, size in (("all trials", trials, GREY, 6),
                                     ("Pareto front", front, FRONT_ALL, 8),
                                     (f"useful front (val acc >= {floor:.4f})", useful, FRONT, 11)):
        figure.add_trace(go.Scatter(
            x=[t.user_attrs[x_key] for t in group], y=[t.user_attrs["val_accuracy"] for t in group],
            mode="markers", name=name, marker={"color": color, "size": size},
            text=[f"trial {t.number}" for t in group],
            hovertemplate="%{text}<br>" + x_title + " %{x:,.0f}<br>val acc %{y:.4f}"))
    synth = results(study, "synth")
    synthesized = [t for t in trials if synth.get(t.number, {}).get("status") == "ok"]
    if synthesized:
        key = "lut" if x_key == "est_lut_equivalent" else "latency_cycles"
        figure.add_trace(go.Scatter(
            x=[synth[t.number][key] for t in synthesized],
            y=[t.user_attrs["val_accuracy"] for t in synthesized], mode="markers",
            name="synthesized (open flow)",
            marker={"color": "black", "symbol": "x", "size": 10}))
    teacher = study.user_attrs.get("teacher_val_accuracy")
    if teacher is not None:  # the axis is validation accuracy: the teacher's on the same split
        figure.add_hline(y=teacher, line={"color": TEACHER, "dash": "dash"},
                         annotation_text=f"teacher {teacher:.4f} (validation)",
                         annotation_position="bottom left")
    if budget is not None:
        figure.add_vline(x=budget, line={"color": BUDGET, "dash": "dot"},
                         annotation_text=f"{space.part_name} budget")
    figure.update_layout(xaxis_title=x_title + " (estimated)", yaxis_title="validation accuracy",
                         height=420, margin={"t": 30})
    if x_key == "est_lut_equivalent":
        figure.update_xaxes(type="log")
    best = max((t.user_attrs["val_accuracy"] for t in trials), default=1.0)
    figure.update_yaxes(range=[max(0.0, floor - 0.05), min(1.0, max(best, teacher or 0.0) + 0.005)])
    return figure


def hypervolume_history(study: optuna.Study, space: Space) -> tuple[list[int], list[float]]:
    """Hypervolume of feasible (val accuracy, LUT-equivalent) after each complete trial, with
    reference point (chance accuracy, the part's LUTs)."""
    reference = (1.0 / space.n_classes, float(space.part.lut))
    numbers, volumes, points = [], [], []
    for trial in _complete(study):
        if is_feasible(trial):
            points.append(trial.values[:2])
        values = np.array(points).reshape(-1, 2)
        numbers.append(trial.number)
        volumes.append(hypervolume_2d(values[:, 0], values[:, 1], *reference))
    return numbers, volumes


def _hypervolume_figure(study: optuna.Study, space: Space) -> go.Figure:
    numbers, volumes = hypervolume_history(study, space)
    figure = go.Figure(go.Scatter(x=numbers, y=volumes, mode="lines+markers"))
    figure.update_layout(xaxis_title="trial", yaxis_title="hypervolume (accuracy x LUT)",
                         height=320, margin={"t": 30})
    return figure


def _table(rows: list[dict]) -> str:
    columns = [("trial", "{}"), ("val_accuracy", "{:.4f}"), ("test_accuracy", "{:.4f}"),
               ("est_lut", "{:,.0f}"), ("est_ff", "{:,.0f}"), ("est_dsp", "{:.0f}"),
               ("latency_cycles", "{:.0f}"), ("n_params", "{}"), ("nonzero_params", "{}"),
               ("sparsity", "{:.2f}"), ("shape", "{}"), ("bits", "{}")]
    head = "".join(f"<th>{name}</th>" for name, _ in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(fmt.format(row[name]))}</td>"
                                     for name, fmt in columns) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _failures(records: dict[int, dict]) -> str:
    failed = {n: r for n, r in records.items() if r.get("status") != "ok"}
    if not failed:
        return ""
    rows = "".join(f"<tr><td>{n}</td><td>{html.escape(r.get('status', '?'))}</td>"
                   f"<td>{html.escape(r.get('reason', ''))}</td></tr>" for n, r in sorted(failed.items()))
    return (f"<p>{len(failed)} of {len(records)} synthesized designs are not results (a design "
            f"counts only when its RTL is bit-exact):</p><table><tr><th>trial</th><th>status</th>"
            f"<th>reason</th></tr>{rows}</table>")


def _estimator_section(study: optuna.Study) -> str:
    records = results(study, "synth")
    synth = {n: r for n, r in records.items() if r.get("status") == "ok"}
    if not synth:
        tried = "" if not records else " bit-exact"
        return (f"<p>No design of this study has been{tried} synthesized yet: every resource "
                f"and latency number above is the estimator's.</p>" + _failures(records))
    cells = []
    for number, record in sorted(synth.items()):
        row = [str(number)]
        for key in ("lut", "ff", "latency_cycles"):
            estimate, value = record["estimate"][key], record[key]
            error = f"{100 * (estimate - value) / value:+.0f}%" if value else "-"
            row.append(f"{estimate:,.0f} / {value:,.0f} ({error})")
        row.append(f"{100 * record['rtl_exact_fraction']:.1f}%")
        cells.append("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>")
    evidence = "".join(f"<li>{html.escape(line)}</li>" for line in evidence_lines(study))
    return ("<p>Open flow: yosys logic synthesis for the 7-series part, no place and route. "
            "Estimate / synthesized (error of the estimate).</p><table><tr><th>trial</th>"
            "<th>LUT</th><th>FF</th><th>latency (cycles)</th><th>RTL bit-exact</th></tr>"
            + "".join(cells) + f"</table><p>Error of the estimator "
            f"({html.escape(str(study.user_attrs.get('estimator', '?')))}):</p><ul>{evidence}</ul>"
            + _failures(records))


def figures(study: optuna.Study, space: Space) -> dict[str, go.Figure]:
    """The report's plots by title (a notebook shows each inline)."""
    return {"Accuracy against LUT-equivalents": _front_figure(
                study, space, "est_lut_equivalent", "LUT-equivalents", float(space.part.lut)),
            "Accuracy against latency": _front_figure(
                study, space, "est_latency_cycles", "latency (cycles)", None),
            "Hypervolume over trials": _hypervolume_figure(study, space)}


#: What each flow's estimates are estimates of.
_ESTIMATED_BY = {"open": "the open flow (distributed arithmetic, 7-series logic synthesis, no "
                         "place and route)",
                 "vitis": "the vitis flow (what Vivado or Vitis HLS reports for the hls4ml "
                          "project 'nas export' writes, by the vendor-HLS estimator)"}


def _flow(study: optuna.Study) -> str:
    return study.user_attrs.get("settings", {}).get("flow", "open")


def _expected_error(study: optuna.Study) -> str:
    """The calibration's error on designs left out of its fit, as a sentence (or nothing)."""
    caption = expected_error_caption(calibration_held_out(study))
    return f" The {html.escape(caption)}." if caption else ""


def render(study: optuna.Study, space: Space) -> str:
    part = space.part
    plots = "".join(
        f"<h2>{title}</h2>" + pio.to_html(figure, full_html=False,
                                          include_plotlyjs="inline" if i == 0 else False)
        for i, (title, figure) in enumerate(figures(study, space).items()))
    counts = trial_counts(study)
    teacher = study.user_attrs.get("teacher_test_accuracy", float("nan"))
    useful = useful_front(study, space)
    rows = front_rows(study, useful, space.n_inputs, space.n_classes)
    floor = accuracy_floor(study, space)
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>nas: {html.escape(space.name)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1200px}}
table{{border-collapse:collapse;font-size:13px}}td,th{{border:1px solid #ccc;padding:3px 6px}}
th{{background:#eee}}</style></head><body>
<h1>Study {html.escape(space.name)}</h1>
<p>{html.escape(space.description)}<br>
Target {part.name} ({part.lut:,} LUT, {part.ff:,} FF, {part.dsp} DSP, {part.bram36} BRAM36) at
{space.clock_mhz:g} MHz. Teacher test accuracy {teacher:.4f}. Trials: {counts['complete']}
complete, {counts['rejected']} rejected before training (cannot fit), {counts['failed']} failed.</p>
<p>Resources and latency are estimates of {_ESTIMATED_BY[_flow(study)]} unless marked
synthesized.{_expected_error(study)}</p>
{plots}
<h2>Useful front: {len(rows)} designs at validation accuracy {floor:.4f} or more</h2>
<p>The whole front has {len(pareto_front(study))} designs; 'nas show --min-accuracy A --max-lut L
--max-latency-cycles C' picks another operating point.</p>{_table(rows)}
<h2>Estimator against synthesis</h2>{_estimator_section(study)}
</body></html>
"""


def write_report(study: optuna.Study, space: Space, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(render(study, space))
    tmp.replace(path)
    return path


def publish_report(study: optuna.Study, space: Space, paths: StudyPaths) -> Path:
    """Write the HTML report in the study folder and attach it to the study as an artifact."""
    path = write_report(study, space, paths.root / "report.html")
    artifact_id = optuna.artifacts.upload_artifact(artifact_store=artifact_store(paths),
                                                   file_path=str(path), study_or_trial=study,
                                                   mimetype="text/html")
    study.set_user_attr("report_artifact_id", artifact_id)
    return path
