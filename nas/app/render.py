"""What the CLI prints: the consoles, the tables of spaces, the front and synthesis results."""

import json
import sys
from collections.abc import Iterable

import optuna
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nas.estimators.calibration import expected_error
from nas.search.front import (
    Limits,
    calibration_held_out,
    evidence_lines,
    front_rows,
    pareto_front,
    trial_counts,
)
from nas.search.records import results
from nas.spaces.parts import Part
from nas.spaces.space import Space

#: Tables are wide: when output is not a terminal (a file, CI), do not squeeze them to 80 columns.
console = Console(width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 200)


def progress_bar(*extra_columns, elapsed: bool = True) -> Progress:
    """A progress bar on the console: description, bar, done/total, extra columns, time."""
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), *extra_columns]
    if elapsed:
        columns.append(TimeElapsedColumn())
    # Off a terminal a bar draws only its end: the log lines (nas.app.logs) say what happens.
    return Progress(*columns, console=console, disable=not console.is_terminal)


def print_spaces(spaces: Iterable[Space], parts: Iterable[Part]) -> None:
    table = Table(title="Spaces")
    for column in ("name", "inputs", "classes", "part", "clock", "description"):
        table.add_column(column)
    for space in spaces:
        table.add_row(space.name, str(space.n_inputs), str(space.n_classes), space.part_name,
                      f"{space.clock_mhz:g} MHz", space.description)
    console.print(table)
    table = Table(title="Parts")
    for column in ("part", "family", "LUT", "FF", "DSP", "BRAM36"):
        table.add_column(column)
    for part in parts:
        table.add_row(part.name, part.family, f"{part.lut:,}", f"{part.ff:,}", f"{part.dsp:,}",
                      f"{part.bram36:,}")
    console.print(table)


def _limits_text(limits: Limits) -> str:
    parts = [f"val acc >= {limits.min_accuracy:.4f}"]
    if limits.max_lut is not None:
        parts.append(f"LUT-eq <= {limits.max_lut:,.0f}")
    if limits.max_latency_cycles is not None:
        parts.append(f"latency <= {limits.max_latency_cycles}")
    return ", ".join(parts)


#: Each quantity's name in an expected-error caption.
QUANTITY_NAMES = {"lut": "LUT", "ff": "FF", "dsp": "DSP", "latency_cycles": "latency"}


def expected_error_caption(held_out: dict) -> str | None:
    """One line under a table of estimates: the error the calibration measured on designs left
    out of its fit (``held_out``: an estimator's ``held_out_error``), None without one."""
    errors = expected_error(held_out)
    if not errors:
        return None
    basis = ("mean of each repository's MAPE" if any("group_mape" in held_out[q] for q in errors)
             else "MAPE")
    return (f"expected error, the calibration's on designs left out of its fit ({basis}): "
            + ", ".join(f"{QUANTITY_NAMES[q]} {value:.1f} %" for q, value in errors.items()))


def print_front(study: optuna.Study, space: Space, limits: Limits, as_json: bool = False) -> None:
    """The Pareto front of the designs within ``limits`` (the whole front stays in the study)."""
    trials = pareto_front(study, limits)
    rows = front_rows(study, trials, space.n_inputs, space.n_classes)
    counts = trial_counts(study)
    whole = len(pareto_front(study))
    if as_json:
        print(json.dumps({"space": space.name, "teacher_test_accuracy":
                          study.user_attrs.get("teacher_test_accuracy"),
                          "trials": counts, "limits": limits.__dict__, "whole_front_size": whole,
                          "front": rows, "synthesis": results(study, "synth")}, indent=2))
        return
    if not rows:
        console.print(f"none of the {whole} designs of the front of {space.name} is within "
                      f"{_limits_text(limits)}: 'nas show --min-accuracy 0' lists them all",
                      highlight=False)
        return
    table = Table(title=f"Pareto front of {space.name} within {_limits_text(limits)}: "
                        f"{len(rows)} of the {whole} designs of the whole front "
                        f"({space.part_name}, {space.clock_mhz:g} MHz; estimates, not synthesized)")
    columns = ("trial", "val acc", "test acc", "LUT", "FF", "DSP", "LUT-eq", "latency",
               "params", "nonzero", "shape", "bits (total.int)", "HLS exact")
    for column in columns:
        table.add_column(column, justify="left" if column in ("shape", "bits (total.int)")
                         else "right")
    for row in rows:
        table.add_row(str(row["trial"]), f"{row['val_accuracy']:.4f}",
                      f"{row['test_accuracy']:.4f}", f"{row['est_lut']:,.0f}",
                      f"{row['est_ff']:,.0f}", f"{row['est_dsp']:.0f}",
                      f"{row['lut_equivalent']:,.0f}", f"{row['latency_cycles']:.0f}",
                      str(row["n_params"]), str(row["nonzero_params"]), row["shape"], row["bits"],
                      "-" if row["hls_exact"] is None else f"{100 * row['hls_exact']:.1f}%")
    table.caption = expected_error_caption(calibration_held_out(study))
    console.print(table)
    teacher = study.user_attrs.get("teacher_test_accuracy")
    if teacher is not None:
        console.print(f"teacher validation accuracy "
                      f"{study.user_attrs.get('teacher_val_accuracy', float('nan')):.4f}, test "
                      f"{teacher:.4f}; trials: " +
                      ", ".join(f"{n} {name}" for name, n in counts.items()))


def _pair(estimate: float | None, value: float | None) -> str:
    """``estimate / value (error)``."""
    if estimate is None or value in (None, 0):
        return f"{estimate or 0:,.0f} / {value or 0:,.0f}"
    return f"{estimate:,.0f} / {value:,.0f} ({100 * (estimate - value) / value:+.0f}%)"


def print_synthesis(study: optuna.Study, space: Space, numbers: list[int]) -> None:
    records = results(study, "synth")
    table = Table(title=f"Open-flow synthesis ({space.part_name}, {space.clock_mhz:g} MHz; yosys "
                        f"logic synthesis, no place and route): estimate / synthesized (error)")
    for column in ("trial", "status", "LUT", "FF", "CARRY4", "DSP", "latency", "bit-exact"):
        table.add_column(column, justify="right")
    for number in numbers:
        record = records.get(number)
        if record is None:
            continue
        estimate = record.get("estimate", {})
        if record.get("lut") is None:
            table.add_row(str(number), record["status"], record.get("reason", "")[:80], "", "", "",
                          "", "")
            continue
        table.add_row(str(number), record["status"], _pair(estimate.get("lut"), record["lut"]),
                      _pair(estimate.get("ff"), record["ff"]), str(record["carry4"]),
                      str(record["dsp"]), _pair(estimate.get("latency_cycles"),
                                                record["latency_cycles"]),
                      f"{100 * record['rtl_exact_fraction']:.1f}% of {record['n_samples']}")
    console.print(table)
    for line in evidence_lines(study):
        console.print(f"estimator ({study.user_attrs.get('estimator', '?')}) {line}",
                      highlight=False)
