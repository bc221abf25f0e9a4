"""``nas estimate --flow vitis --project DIR``: the vendor-HLS estimate of existing hls4ml
projects, beside the numbers of their own C-synthesis report when they have one."""

from pathlib import Path

from rich.table import Table

from nas.app.calibrate import project_dirs
from nas.app.render import console, err_console, expected_error_caption
from nas.errors import DataError, InvalidValue, NasError
from nas.estimators.calibration import Calibration, expected_error
from nas.estimators.vendor.design import design_from_facts
from nas.estimators.vendor.estimator import VendorEstimator
from nas.estimators.vendor.extrapolation import extrapolations
from nas.estimators.vendor.rows import measured_of
from nas.hls.project_facts import read_project

#: The quantities shown, in the order of the JSON and the table; BRAM in 36 Kib blocks.
KEYS = ("lut", "ff", "dsp", "bram", "latency_cycles", "interval")


def _rounded(values: dict) -> dict:
    return {key: round(float(values[key]), 1) if key == "bram" else int(round(values[key]))
            for key in KEYS}


def _held_out(calibration: Calibration) -> dict:
    """The vendor estimator's error on the designs its calibration left out of the fit."""
    return calibration.estimators.get("vendor_hls", {}).get("held_out_error", {})


def estimate_project(directory: Path, estimator: VendorEstimator,
                     calibration: Calibration) -> dict:
    """One project's estimate, the error the calibration expects of it (``expected_error``),
    where it leaves ``calibration``'s data (``extrapolated``, empty when nowhere) and, when the
    folder holds its top-level report, the report's numbers (same keys) with the tool, part
    and clock it was made for."""
    facts = read_project(directory)
    design = design_from_facts(facts)
    estimate = estimator.predict_one(design)
    entry = {"project": str(directory),
             "estimate": _rounded({**{k: getattr(estimate, k) for k in KEYS[:-1]},
                                   "interval": estimator.interval(design)}),
             "expected_error_percent": expected_error(_held_out(calibration)),
             "extrapolated": extrapolations(design, calibration.data,
                                            calibration.tool_versions.get("hls", ""),
                                            facts.tool)}
    if facts.report is not None:
        report = facts.report
        entry["report"] = {**_rounded({**measured_of(report),
                                       "interval": report.interval_max or 0}),
                           "tool": facts.tool, "part": report.part,
                           "clock_ns": report.clock_target_ns, "source": report.source}
    return entry


def estimate_projects(path: Path, calibration: Calibration) -> list[dict]:
    """Every hls4ml project at or below ``path``. In a folder of several, a project that
    cannot be estimated (not a dense network, an unknown part) is skipped with a line."""
    directories = project_dirs([path], setting="project")
    if not directories:
        raise InvalidValue("project", path, "give an hls4ml project folder (one with "
                           "hls4ml_config.yml) or a folder above some",
                           problem="holds no hls4ml project")
    estimator = calibration.estimator("vendor_hls")
    if len(directories) == 1:
        entries = [estimate_project(directories[0], estimator, calibration)]
        _say_extrapolated(entries)
        return entries
    entries, skipped = [], []
    for directory in directories:
        try:
            entries.append(estimate_project(directory, estimator, calibration))
        except NasError as error:
            skipped.append(str(error))
    for reason in skipped:
        err_console.print(f"skipped: {reason}", highlight=False, soft_wrap=True)
    if not entries:
        raise DataError(f"no project under {path} could be estimated: {skipped[0]}")
    _say_extrapolated(entries)
    return entries


def _say_extrapolated(entries: list[dict]) -> None:
    """One line (on stderr) per project whose estimate leaves the calibration's data."""
    for entry in entries:
        if entry["extrapolated"]:
            err_console.print(f"extrapolated: {entry['project']}: "
                              f"{'; '.join(entry['extrapolated'])}", highlight=False,
                              soft_wrap=True)


def print_estimates(entries: list[dict], calibration: Calibration) -> None:
    table = Table(title=f"vendor HLS estimate (calibration {calibration.part_family}, "
                        f"{calibration.data.get('evaluation', '')}) beside each project's "
                        f"C-synthesis report")
    table.add_column("project")
    for heading in ("LUT", "FF", "DSP", "BRAM36", "latency", "interval"):
        table.add_column(f"{heading}\nestimate / report", justify="right")
    for entry in entries:
        report = entry.get("report", {})
        table.add_row(entry["project"], *(
            f"{entry['estimate'][key]:,} / {report[key]:,}" if report
            else f"{entry['estimate'][key]:,} / -" for key in KEYS))
    table.caption = expected_error_caption(_held_out(calibration))
    console.print(table)
