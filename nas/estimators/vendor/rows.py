"""Calibration rows of reported designs: the estimator's view of a design, the report's
numbers as calibration measures them, and where they came from."""

import json
from collections.abc import Sequence
from pathlib import Path

from nas.errors import DataError
from nas.estimators.vendor.design import VendorDesign, design_from_facts
from nas.estimators.vendor.rules import MAX_TABLE_INPUT_BITS, ODD_PART_TOOLS
from nas.hls.project_facts import ProjectFacts
from nas.hls.reports import SynthesisRecord


def measured_of(report: SynthesisRecord) -> dict[str, float]:
    """A report's numbers as calibration measures them (BRAM in 36 Kib blocks)."""
    return {"lut": float(report.lut or 0), "ff": float(report.ff or 0),
            "dsp": float(report.dsp or 0), "bram": float(report.bram18 or 0) / 2,
            "latency_cycles": float(report.latency_worst or 0)}


def calibration_row(facts: ProjectFacts, table_input_bits: int = MAX_TABLE_INPUT_BITS,
                    odd_part_tools: tuple[str, ...] = ODD_PART_TOOLS) -> dict:
    """A calibration row of a reported design: its view (``design_from_facts``, with these
    rule parameters), numbers (and each layer's own function's, where HLS kept its report)
    and provenance."""
    if facts.report is None:
        raise DataError(f"{facts.source}: no C-synthesis report of the top function to "
                        f"calibrate on: build the project first")
    design = design_from_facts(facts, table_input_bits, odd_part_tools)
    return {"design": design.to_dict(), "measured": measured_of(facts.report),
            "layers_measured": [measured_of(layer.report) if layer.report else None
                                for layer in facts.layers],
            "interval": facts.report.interval_max, "source": facts.source, "name": facts.name,
            "group": facts.group, "tool": facts.tool, "part": facts.part,
            "assumed": list(facts.assumed), "types_per_layer": facts.types_per_layer}


def _report_key(row: dict) -> tuple:
    measured = row["measured"]
    return (str(row["part"]).lower().replace("-", ""), measured["lut"], measured["ff"],
            measured["dsp"], measured["latency_cycles"])


def read_rows(path: Path) -> list[dict]:
    """The calibration rows of a rows file (``{"rows": [...]}``: each a ``calibration_row``
    written out, e.g. by ``benchmarks/public_projects.py`` from folders that cannot be shared:
    their facts travel without their weights)."""
    try:
        rows = json.loads(Path(path).read_text())["rows"]
        for row in rows:
            VendorDesign.from_dict(row["design"])
            _report_key(row)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DataError(f"{path}: not a calibration rows file ({type(error).__name__}: "
                        f"{str(error)[:120]}): give a file written by "
                        f"benchmarks/public_projects.py") from None
    return rows


def replace_rows(rows: Sequence[dict], richer: Sequence[dict]) -> list[dict]:
    """``rows`` with each row whose report (part and numbers) is one of ``richer``'s replaced
    by that richer row, keeping its own name and group; a richer row that matches none is
    refused (``DataError``): it would enter the fit under a name of its own."""
    by_report = {_report_key(row): row for row in richer}
    matched, merged = set(), []
    for row in rows:
        key = _report_key(row)
        if key in by_report:
            matched.add(key)
            merged.append({**by_report[key], "name": row["name"], "group": row["group"]})
        else:
            merged.append(row)
    missing = [row["name"] for key, row in by_report.items() if key not in matched]
    if missing:
        raise DataError(f"{len(missing)} rows of the rows file match no report of the tables "
                        f"and folders given ({missing[0]} ...): give the table they were "
                        f"read beside")
    return merged
