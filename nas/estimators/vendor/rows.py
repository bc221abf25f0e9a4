"""Calibration rows of reported designs: the estimator's view of a design, the report's
numbers as calibration measures them, and where they came from."""

from nas.errors import DataError
from nas.estimators.vendor.design import design_from_facts
from nas.hls.project_facts import ProjectFacts


def measured_of(facts: ProjectFacts) -> dict[str, float]:
    """The report's numbers as calibration measures them (BRAM in 36 Kib blocks)."""
    report = facts.report
    return {"lut": float(report.lut or 0), "ff": float(report.ff or 0),
            "dsp": float(report.dsp or 0), "bram": float(report.bram18 or 0) / 2,
            "latency_cycles": float(report.latency_worst or 0)}


def calibration_row(facts: ProjectFacts) -> dict:
    """A calibration row of a reported design: its view, numbers and provenance."""
    if facts.report is None:
        raise DataError(f"{facts.source}: no C-synthesis report of the top function to "
                        f"calibrate on: build the project first")
    return {"design": design_from_facts(facts).to_dict(), "measured": measured_of(facts),
            "interval": facts.report.interval_max, "source": facts.source, "name": facts.name,
            "group": facts.group, "tool": facts.tool, "part": facts.part,
            "assumed": list(facts.assumed), "types_per_layer": facts.types_per_layer}
