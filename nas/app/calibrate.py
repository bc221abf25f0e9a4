"""``nas calibrate``: rows from generated designs, hls4ml projects or result tables -> fitted
estimators -> a calibration file and its held-out error table."""

from collections.abc import Sequence
from pathlib import Path

import optuna
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nas.errors import DataError, InvalidValue
from nas.estimators.calibration import Calibration, fit_estimators
from nas.estimators.design import trained_design
from nas.estimators.hls_layers import rows_from_project, rows_from_table
from nas.model.data import load_data
from nas.model.port import stage_of
from nas.search.objective import load_student
from nas.search.records import artifact_store, results
from nas.search.settings import RunSettings

#: Quantities the error table shows, when the data have them.
_SHOWN = ("lut", "ff", "dsp", "latency_cycles")


def project_dirs(paths: Sequence[Path]) -> list[Path]:
    """hls4ml project directories at or below ``paths`` (a folder with ``hls4ml_config.yml``)."""
    found = []
    for path in paths:
        if not path.is_dir():
            raise InvalidValue("reports", path, "give hls4ml project folders",
                               problem="is not a directory")
        found += sorted(p.parent for p in path.rglob("hls4ml_config.yml"))
    return sorted(set(found))


def vendor_rows(reports: Sequence[Path], tables: Sequence[Path]) -> list[dict]:
    rows = []
    for table in tables:
        rows += rows_from_table(table)
    for directory in project_dirs(reports):
        rows += rows_from_project(directory)
    return rows


def generated_rows(folder: Path, n_designs: int, jobs: int, timeout: float, seed: int,
                   part_name: str, clock_mhz: float, console: Console) -> list[dict]:
    """Make (or continue making) ``n_designs`` open-flow designs in ``folder``."""
    from nas.app.generate import generate, refresh_features

    progress = Progress(TextColumn("synthesizing calibration designs"), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(), console=console)
    task = progress.add_task("", total=n_designs)
    with progress:
        rows, failures = generate(folder, n_designs, jobs, seed, part_name, clock_mhz, timeout,
                                  on_progress=lambda done, total, row: progress.update(
                                      task, completed=done))
    for failure in failures:
        console.print(f"failed: {failure}", highlight=False)
    rows = [row for row in rows if row["index"] < n_designs]
    refreshed = refresh_features(folder, rows)
    if refreshed:
        console.print(f"recomputed the trace features of {refreshed} designs (made with other "
                      f"feature definitions) from their stored weights")
    return rows


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


def summarize(rows: Sequence[dict]) -> dict:
    """Ranges of the data a calibration was fitted on."""
    layers = [layer for row in rows for layer in row["design"]["layers"]]
    lut = [row["measured"]["lut"] for row in rows]
    return {"layers_per_design": [min(len(r["design"]["layers"]) for r in rows),
                                  max(len(r["design"]["layers"]) for r in rows)],
            "weight_bits": [min(x["weight_bits"] for x in layers),
                            max(x["weight_bits"] for x in layers)],
            "input_bits": [min(x["input_bits"] for x in layers),
                           max(x["input_bits"] for x in layers)],
            "layer_outputs": [min(x["n_out"] for x in layers), max(x["n_out"] for x in layers)],
            "lut": [min(lut), max(lut)],
            "sources": sorted({row.get("source", "generated").split(":")[0] for row in rows})}


def held_out_table(calibration: Calibration) -> Table:
    table = Table(title=f"held-out error: {calibration.flow} flow, {calibration.part_family}, "
                        f"{calibration.data['n_held_out']} of {calibration.data['n_designs']} "
                        f"designs not used in the fit")
    for column in ("estimator", "quantity", "MAPE %", "worst %", "R^2", "exact",
                   "ms/design"):
        table.add_column(column, justify="left" if column in ("estimator", "quantity") else "right")
    for name, entry in calibration.estimators.items():
        for quantity in _SHOWN:
            error = entry["held_out_error"].get(quantity)
            if error is None:
                continue
            table.add_row(name, quantity, f"{error['mape']:.1f}", f"{error['worst_ape']:.1f}",
                          f"{error['r2']:.3f}", f"{100 * error['exact_fraction']:.0f}%",
                          f"{1000 * entry['seconds_per_design']:.3f}")
    return table


def calibrate(flow: str, out: Path, console: Console, *, generate: int | None = None,
              folder: Path | None = None, jobs: int = 1, timeout: float = 900.0,
              reports: Sequence[Path] = (), tables: Sequence[Path] = (), seed: int = 0,
              part_name: str = "xc7a35tcpg236-1", clock_mhz: float = 200.0,
              studies: Sequence[tuple[optuna.Study, RunSettings]] = ()) -> Calibration:
    """Rows for ``flow`` (for the open flow: ``generate`` designs made, and the designs the
    ``studies`` synthesized; ``reports`` and ``tables`` read for vitis), the fit, the file at
    ``out``; returns the calibration."""
    if flow == "open":
        rows = [row for study, settings in studies for row in study_rows(study, settings)]
        if generate:
            rows += generated_rows(folder, generate, jobs, timeout, seed, part_name, clock_mhz,
                                   console)
    else:
        rows = vendor_rows(reports, tables)
    # A design that synthesizes to no logic is a constant classifier (training collapsed):
    # no search keeps it, and percentage errors on zero are undefined.
    constant = [row for row in rows if row["measured"]["lut"] == 0]
    rows = [row for row in rows if row["measured"]["lut"] > 0]
    if constant:
        console.print(f"left out {len(constant)} designs that synthesize to no logic (constant "
                      f"outputs)", highlight=False)
    if len(rows) < 5:
        raise DataError(f"only {len(rows)} designs to fit on: calibration needs at least 5 "
                        f"(a fifth is held out)")
    summary = {**summarize(rows), "left_out_constant_designs": len(constant)}
    calibration = fit_estimators(flow, rows, clock_mhz, tool_versions(rows), summary, seed)
    calibration.save(out)
    console.print(held_out_table(calibration))
    return calibration
