"""``nas calibrate``: rows from generated designs, hls4ml projects or result tables -> fitted
estimators -> a calibration file and its error table on designs left out of the fit."""

import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import optuna
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nas.app.render import err_console
from nas.errors import DataError, InvalidValue, NasError
from nas.estimators.calibration import GROUP_EVALUATION, Calibration, fit_estimators
from nas.estimators.design import trained_design
from nas.estimators.vendor.design import VendorDesign
from nas.estimators.vendor.rows import calibration_row, read_rows, replace_rows
from nas.hls.fact_tables import merge_folders, read_table
from nas.hls.project_facts import read_project
from nas.model.data import load_data
from nas.model.port import stage_of
from nas.search.objective import load_student
from nas.search.records import artifact_store, results
from nas.search.settings import RunSettings
from nas.spaces import Space

#: Quantities the error table shows, when the data have them.
_SHOWN = ("lut", "ff", "dsp", "latency_cycles")


class GeneratedDesigns(NamedTuple):
    """``count`` students of ``space`` (mlp_psd's when None), made and synthesized in
    ``folder`` (those already there are kept)."""

    folder: Path
    space: Space | None
    count: int


def project_dirs(paths: Sequence[Path], setting: str = "reports") -> list[Path]:
    """hls4ml project directories at or below ``paths`` (a folder with ``hls4ml_config.yml``)."""
    found = []
    for path in paths:
        if not path.is_dir():
            raise InvalidValue(setting, path, "give hls4ml project folders",
                               problem="is not a directory")
        found += sorted(p.parent for p in path.rglob("hls4ml_config.yml"))
    return sorted(set(found))


def vendor_rows(reports: Sequence[Path], tables: Sequence[Path], mix_families: bool = False,
                row_files: Sequence[Path] = ()) -> list[dict]:
    """Calibration rows of the designs in ``tables`` and in the hls4ml projects under
    ``reports`` (a project folder replaces the table row of the same report, and so does a row
    of ``row_files``: folders read elsewhere). A table row belongs to its repository; a project
    to the folder given above it. Projects without a top-level report are skipped with a line;
    designs of several part families are refused unless ``mix_families``."""
    designs = [design for table in tables for design in read_table(table)]
    folders, skipped = [], []
    for top in reports:
        for directory in project_dirs([top]):
            facts = read_project(directory, layer_reports=True)
            if facts.report is None:
                skipped.append(str(directory))
            else:
                folders.append(replace(facts, group=str(top)))
    rows = replace_rows([calibration_row(design) for design in merge_folders(designs, folders)],
                        [row for path in row_files for row in read_rows(path)])
    if skipped:
        err_console.print(f"skipped {len(skipped)} projects without a C-synthesis report of their "
                     f"top function: {', '.join(skipped[:3])}{' ...' if len(skipped) > 3 else ''}",
                          highlight=False)
    families = sorted({row["design"]["part_family"] for row in rows})
    if len(families) > 1 and not mix_families:
        raise NasError(f"the reports are of {len(families)} part families "
                       f"({', '.join(families)}): one calibration per family (give reports of "
                       f"one), or --mix-families to fit them together (the estimator has "
                       f"per-family delays and DSP widths)")
    return rows


def generated_rows(folder: Path, n_designs: int, jobs: int, timeout: float, seed: int,
                   part_name: str, clock_mhz: float, console: Console,
                   space: Space | None = None) -> list[dict]:
    """Make (or continue making) ``n_designs`` open-flow designs of ``space`` (mlp_psd's
    students unless given) in ``folder``."""
    from nas.app.generate import DEFAULT_SPACE, generate, refresh_features

    progress = Progress(TextColumn("synthesizing calibration designs"), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(), console=console)
    task = progress.add_task("", total=n_designs)
    with progress:
        rows, failures = generate(folder, n_designs, jobs, seed, part_name, clock_mhz, timeout,
                                  on_progress=lambda done, total, row: progress.update(
                                      task, completed=done),
                                  space=space or DEFAULT_SPACE)
    for failure in failures:
        console.print(f"failed: {failure}", highlight=False)
    refreshed = refresh_features(folder, rows)  # every row: the file is written whole
    if refreshed:
        console.print(f"recomputed the trace features of {refreshed} designs (made with other "
                      f"feature definitions) from their stored weights")
    return [row for row in rows if row["index"] < n_designs]


def study_rows(study: optuna.Study, settings: RunSettings) -> list[dict]:
    """Calibration rows of the designs a study synthesized (bit-exact ones): the trace features
    of each trained student (from its stored weights) beside its synthesized counts, so that
    the estimator learns from designs trained and selected the way the search does it."""
    from nas.estimators.trace import student_features

    store = artifact_store(settings.paths)
    x_test = load_data(settings.space, settings.seed, settings.paths).x_test
    rows = []
    for number, record in sorted(results(study, "synth").items()):
        if record.get("status") != "ok":
            continue
        model, config = load_student(study.trials[number], settings.space, store)
        stage = stage_of(config, x_test, settings.space.input_divisor)
        rows.append({
            "design": trained_design(model, config).to_dict(),
            "trace": student_features(model, config, stage, record["clock_mhz"]),
            "measured": {key: record[key] for key in ("lut", "ff", "carry4", "dsp", "bram",
                                                      "latency_cycles")},
            "versions": {tool: record["versions"][tool] for tool in ("da4ml", "yosys")},
            "source": f"study:{settings.space.name}:{settings.workdir}:{number}"})
    return rows


def tool_versions(rows: Sequence[dict]) -> dict:
    """The versions recorded with the rows (every distinct value, per tool)."""
    versions: dict[str, set] = {}
    for row in rows:
        for tool, value in row.get("versions", {"hls": row.get("tool", "unknown")}).items():
            versions.setdefault(tool, set()).add(value)
    return {tool: ", ".join(sorted(values)) for tool, values in versions.items()}


def _span(values: Sequence) -> list:
    return [min(values), max(values)]


def _logic_spans(designs: Sequence[dict]) -> dict[str, list[float]]:
    """Per part family, the span of the designs' logic time a cycle (``VendorDesign.usable_ns``,
    widened to the enclosing hundredths so a design at either end lies inside)."""
    spans: dict[str, list[float]] = {}
    for design in designs:
        usable = VendorDesign.from_dict(design).usable_ns
        low, high = spans.setdefault(design["part_family"], [usable, usable])
        spans[design["part_family"]] = [min(low, usable), max(high, usable)]
    return {family: [math.floor(low * 100) / 100, math.ceil(high * 100) / 100]
            for family, (low, high) in sorted(spans.items())}


def summarize(rows: Sequence[dict]) -> dict:
    """Ranges of the data a calibration was fitted on (and, for reported designs, their part
    families, parts, clocks and logic time a cycle per family, reuse factors, strategies, io
    types and repositories)."""
    layers = [layer for row in rows for layer in row["design"]["layers"]]
    summary = {"layers_per_design": _span([len(r["design"]["layers"]) for r in rows]),
               "weight_bits": _span([x["weight_bits"] for x in layers]),
               "input_bits": _span([x["input_bits"] for x in layers]),
               "layer_inputs": _span([x["n_in"] for x in layers]),
               "layer_outputs": _span([x["n_out"] for x in layers]),
               "per_element_input_layers": sum(bool(x.get("per_element_inputs")) for x in layers),
               "lut": _span([row["measured"]["lut"] for row in rows]),
               "sources": sorted({row.get("source", "generated").split(":")[0]
                                  for row in rows if "group" not in row})}
    if all("group" in row for row in rows):
        designs = [row["design"] for row in rows]
        summary.update(
            part_families=sorted({d["part_family"] for d in designs}),
            parts=sorted({row["part"] for row in rows}),
            clock_ns=_span([d["clock_period_ns"] for d in designs]),
            usable_ns=_logic_spans(designs),
            reuse_factors=_span([x["reuse_factor"] for x in layers]),
            latency_products=_span([x["n_in"] * x["n_out"] for x in layers
                                    if x["strategy"] == "latency"] or [0]),
            strategies=sorted({x["strategy"] for x in layers}),
            io_types=sorted({d["io_type"] for d in designs}),
            groups=sorted({row["group"] for row in rows}),
            designs_with_assumed_facts=sum(bool(row.get("assumed")) for row in rows))
    return summary


#: Fewest designs a coefficient of determination is shown for (on fewer it says nothing).
MIN_DESIGNS_FOR_R2 = 10


def held_out_table(calibration: Calibration) -> Table:
    data = calibration.data
    method = data.get("evaluation", "held-out fifth")
    table = Table(title=f"error on designs left out of the fit ({method}): {calibration.flow} "
                        f"flow, {calibration.part_family}, {data['n_held_out']} of "
                        f"{data['n_designs']} designs")
    show_r2 = data["n_held_out"] >= MIN_DESIGNS_FOR_R2
    by_group = method.startswith(GROUP_EVALUATION)
    columns = ("estimator", "quantity", "MAPE %", *(("MAPE per group %",) if by_group else ()),
               "median %", "worst %", *(("R^2",) if show_r2 else ()), "exact", "ms/design")
    for column in columns:
        table.add_column(column, justify="left" if column in ("estimator", "quantity") else "right")
    for name, entry in calibration.estimators.items():
        for quantity in _SHOWN:
            error = entry["held_out_error"].get(quantity)
            if error is None:
                continue
            median = error.get("median_ape")
            table.add_row(name, quantity, f"{error['mape']:.1f}",
                          *((f"{error['group_mape']:.1f}",) if by_group else ()),
                          "-" if median is None else f"{median:.1f}", f"{error['worst_ape']:.1f}",
                          *((f"{error['r2']:.3f}",) if show_r2 else ()),
                          f"{100 * error['exact_fraction']:.0f}%",
                          f"{1000 * entry['seconds_per_design']:.3f}")
    if by_group:
        table.caption = ("MAPE per group: the mean of each group's MAPE (every group weighs the "
                         "same): what a new group's designs can expect")
    return table


def calibrate(flow: str, out: Path, console: Console, *,
              generated: Sequence[GeneratedDesigns] = (), jobs: int = 1,
              timeout: float = 900.0, reports: Sequence[Path] = (), tables: Sequence[Path] = (),
              row_files: Sequence[Path] = (), seed: int = 0, part_name: str = "xc7a35tcpg236-1",
              clock_mhz: float = 200.0,
              studies: Sequence[tuple[optuna.Study, RunSettings]] = (),
              mix_families: bool = False) -> Calibration:
    """Rows for ``flow`` (for the open flow: the designs the ``studies`` synthesized and the
    ``generated`` ones; ``reports``, ``tables`` and ``row_files`` read for vitis), the fit, the
    file at ``out``; returns the calibration."""
    if flow == "open":
        rows = [row for study, settings in studies for row in study_rows(study, settings)]
        for folder, space, count in generated:
            rows += generated_rows(folder, count, jobs, timeout, seed, part_name, clock_mhz,
                                   console, space)
    else:
        rows = vendor_rows(reports, tables, mix_families, row_files)
    # A design that synthesizes to no logic is a constant classifier (training collapsed):
    # no search keeps it, and percentage errors on zero are undefined.
    constant = [row for row in rows if row["measured"]["lut"] == 0]
    rows = [row for row in rows if row["measured"]["lut"] > 0]
    if constant:
        console.print(f"left out {len(constant)} designs that synthesize to no logic (constant "
                      f"outputs)", highlight=False)
    if len(rows) < 5:
        raise DataError(f"only {len(rows)} designs to fit on: calibration needs at least 5 "
                        f"(some are left out to measure the error)")
    summary = {**summarize(rows), "left_out_constant_designs": len(constant)}
    families = summary.get("part_families")
    if families:
        console.print(reported_data_line(summary, len(rows)), highlight=False)
    calibration = fit_estimators(flow, rows, clock_mhz, tool_versions(rows), summary, seed,
                                 "+".join(families) if families else None)
    calibration.save(out)
    console.print(held_out_table(calibration))
    return calibration


def reported_data_line(summary: dict, n_designs: int) -> str:
    """What reported designs a vendor calibration is fitted on, in one line: every mix the
    estimator takes as an input (families, reuse, strategies) is stated, and what it does
    not model."""
    low, high = summary["reuse_factors"]
    line = (f"fitting on {n_designs} designs of {len(summary['groups'])} repositories: part "
            f"families {', '.join(summary['part_families'])}; reuse factors {low}-{high}; "
            f"strategies {', '.join(summary['strategies'])}; io types "
            f"{', '.join(summary['io_types'])}")
    if "io_stream" in summary["io_types"]:
        line += " (io_stream designs are estimated as io_parallel: no FIFO model yet)"
    if summary["designs_with_assumed_facts"]:
        line += (f"; {summary['designs_with_assumed_facts']} designs from tables, with facts "
                 f"the tables do not record filled in")
    return line
