"""Project facts from result tables, for designs whose project folders are not at hand.

Two layouts are read:

* a *facts table* (one row per C-synthesis report of a dense network: ``repo``, ``part``,
  ``layer_sizes``, ``weight_precisions``, ``accum_precisions``, ``reuse_factor``,
  ``n_zeros``, ``strategy``, ``io_type``, ``activations``, the report's numbers and clock),
  as in ``public_hls4ml_mlp/reports.csv``;
* a *sweep table* of single QDense layers (``d_in``, ``d_out``, ``prec``, ``rf``,
  ``strategy``, ``hls_synth_success`` and ``*_hls`` results), as the wa-hls4ml-search results.

Neither records everything a project folder holds: what is missing is filled in as stated in
each design's ``assumed`` list (for instance the activations' output types, which a facts
table does not record, are taken as its default precision).
"""

import csv
import math
from collections.abc import Iterable, Sequence
from dataclasses import fields, replace
from pathlib import Path

from nas.errors import DataError
from nas.hls.project_facts import DEFAULT_TYPE, DEFAULT_UNCERTAINTY, DenseFacts, FixedType, ProjectFacts
from nas.hls.reports import SynthesisRecord

FACT_COLUMNS = {"repo", "project_path", "tool", "tool_version", "part", "clock_target_ns",
                "clock_uncertainty_ns", "LUT", "FF", "DSP", "BRAM_18K", "latency_best",
                "latency_worst", "interval_min", "interval_max", "layer_sizes",
                "weight_precisions", "accum_precisions", "config_default_precision",
                "reuse_factor", "n_zeros", "strategy", "io_type", "activations"}
SWEEP_COLUMNS = {"d_in", "d_out", "prec", "rf", "strategy", "hls_synth_success",
                 "TargetClockPeriod_hls", "LUT_hls", "FF_hls", "DSP_hls", "BRAM_18K_hls",
                 "BestLatency_hls", "WorstLatency_hls", "IntervalMin_hls", "IntervalMax_hls",
                 "AvailableLUT_hls", "AvailableDSP_hls"}
#: How a facts table's optional ``notes`` column says that a row's firmware is that of the
#: other versions of its project path (the same headers, synthesized again).
RESYNTHESIS_NOTE = "identical parameters.h"
#: Parts a sweep table's available resources identify (the table names no part).
SWEEP_PARTS = {(1_728_000, 12_288): "xcu250-figd2104-2L-e"}


def _rows(path: Path) -> tuple[list[str], list[dict]]:
    try:
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            return list(reader.fieldnames or ()), list(reader)
    except OSError as error:
        raise DataError(f"cannot read {path}: {error.strerror}") from None


def read_table(path: Path) -> list[ProjectFacts]:
    """The designs of a facts table or a sweep table (told apart by their columns)."""
    path = Path(path)
    columns, rows = _rows(path)
    if set(columns) >= FACT_COLUMNS:
        return [_fact_row(path, i, row) for i, row in enumerate(rows)]
    if set(columns) >= SWEEP_COLUMNS:
        return _sweep_rows(path, rows)
    missing = sorted(FACT_COLUMNS - set(columns))
    raise DataError(f"{path}: not a result table: it lacks the columns {', '.join(missing[:6])}"
                    f"{' ...' if len(missing) > 6 else ''} of a facts table and those of a "
                    f"sweep table")


def _number(text: str, kind=int):
    return kind(float(text)) if text not in ("", None) else None


def _per_layer_types(text: str, n: int, what: str,
                     assumed: list[str]) -> tuple[list[str], bool]:
    """``_per_layer`` for a column of precisions, and whether the table records each layer's
    type. As many distinct types as layers in sorted (string) order may be a list of distinct
    values too (every multi-valued precision of the public facts table is): taken as listed,
    and said so."""
    listed = len([v for v in (text or "").split(";") if v.strip()])
    values = _per_layer(text, n, what, assumed)
    as_distinct = n > 1 and listed == n and values == sorted(set(values))
    if as_distinct:
        assumed.append(f"{what}: {n} distinct values in sorted order, as a table of distinct "
                       f"values lists them: the layers' order is not recorded, taken as listed")
    return values, listed in (1, n) and not as_distinct


def _per_layer(text: str, n: int, what: str, assumed: list[str]) -> list[str]:
    """A ``;``-separated column as one value per layer. A table that lists fewer distinct
    values than layers does not say which layer has which: each layer gets the widest."""
    values = [v for v in (text or "").split(";") if v.strip()]
    if len(values) == n:
        return values
    if len(values) == 1:
        return values * n
    widest = max(values, key=lambda v: (FixedType.parse(v) or FixedType(0, 0)).width)
    assumed.append(f"{what}: {len(values)} distinct values for {n} layers, each layer taken "
                   f"as the widest ({widest})")
    return [widest] * n


def _type(text: str, path: Path, index: int) -> FixedType:
    parsed = FixedType.parse(text)
    if parsed is None:
        raise DataError(f"{path} row {index + 2}: cannot read the precision {text!r}")
    return parsed


def inferred_input(n_in: int, weight: FixedType, accum: FixedType,
                   default: FixedType) -> FixedType:
    """A dense layer's input type read back from its accumulator when hls4ml inferred that
    (QKeras and HGQ models: ``accum = input + weight + ceil(log2(n_in)) + 1`` bits, the same
    for the integer bits); ``default`` when the accumulator is the model's default type (set,
    not inferred). A table that lists fewer weight types than layers gives each the widest,
    which can leave less than a bit: the input is then taken as 1 bit wide."""
    if accum == default:
        return default
    grow = math.ceil(math.log2(max(n_in, 1))) + 1
    width = min(max(accum.width - weight.width - grow, 1), default.width)
    return FixedType(width, accum.integer - weight.integer - grow)


def _fact_row(path: Path, index: int, row: dict) -> ProjectFacts:
    assumed: list[str] = []
    try:
        sizes = [int(v) for v in row["layer_sizes"].split("-")]
    except ValueError:
        raise DataError(f"{path} row {index + 2}: cannot read layer_sizes "
                        f"{row['layer_sizes']!r}") from None
    n = len(sizes) - 1
    weight_texts, weights_recorded = _per_layer_types(row["weight_precisions"], n,
                                                      "weight precisions", assumed)
    accum_texts, accums_recorded = _per_layer_types(row["accum_precisions"], n,
                                                    "accumulator precisions", assumed)
    weights = [_type(t, path, index) for t in weight_texts]
    accums = [_type(t, path, index) for t in accum_texts]
    reuse = [int(v) for v in _per_layer(row["reuse_factor"], n, "reuse factors", assumed)]
    zeros = [int(v) for v in _per_layer(row["n_zeros"], n, "zero weights", assumed)]
    default = FixedType.parse(row["config_default_precision"])
    if default is None:
        distinct = set(row["accum_precisions"].split(";"))
        default = _type(distinct.pop() if len(distinct) == 1 else DEFAULT_TYPE, path, index)
        assumed.append(f"model default precision not readable: taken as {default.width}-bit "
                       f"(the accumulators' type when they share one, else {DEFAULT_TYPE})")
    inputs = [inferred_input(sizes[i], weights[i], accums[i], default) for i in range(n)]
    if inputs != [default] * n:
        assumed.append("input types read back from hls4ml's inferred accumulators "
                       "(accumulator bits = input + weight + log2(inputs) + 1)")
    assumed.append("activation output types not recorded: taken as the default precision"
                   " or, where read back, as the next layer's input type")
    activations = [a for a in row["activations"].split(";") if a]
    hidden, last = (activations + ["linear", "linear"])[:2] if len(activations) != 1 else \
        (activations[0], "linear")
    layers = tuple(DenseFacts(
        name=f"dense_{i + 1}", n_in=sizes[i], n_out=sizes[i + 1], n_zeros=zeros[i],
        input=inputs[i], weight=weights[i], accum=accums[i],
        output=inputs[i + 1] if i < n - 1 else accums[i], reuse_factor=reuse[i],
        strategy=row["strategy"].lower(), activation=hidden if i < n - 1 else last)
        for i in range(n))
    period = float(row["clock_target_ns"])
    record = SynthesisRecord(
        flow="hls_estimate", tool=row["tool"], version=row["tool_version"], part=row["part"],
        clock_target_ns=period, clock_estimate_ns=_number(row.get("clock_est_ns"), float),
        lut=_number(row["LUT"]), ff=_number(row["FF"]), dsp=_number(row["DSP"]),
        bram18=_number(row["BRAM_18K"]), latency_best=_number(row["latency_best"]),
        latency_worst=_number(row["latency_worst"]), interval_min=_number(row["interval_min"]),
        interval_max=_number(row["interval_max"]), source=f"{path.name} row {index + 2}",
        clock_uncertainty_ns=_number(row["clock_uncertainty_ns"], float))
    return ProjectFacts(
        name=f"{row['repo']}:{row['project_path']}", source=f"{path} row {index + 2}",
        layers=layers, io_type=row["io_type"], part=row["part"], clock_period_ns=period,
        clock_uncertainty_ns=float(row["clock_uncertainty_ns"]),
        tool=f"{row['tool']} {row['tool_version']}", report=record, assumed=tuple(assumed),
        group=row["repo"], resynthesis=RESYNTHESIS_NOTE in (row.get("notes") or ""),
        types_per_layer=weights_recorded and accums_recorded)


def _sweep_part(path: Path, row: dict) -> str:
    key = (int(float(row["AvailableLUT_hls"])), int(float(row["AvailableDSP_hls"])))
    if key not in SWEEP_PARTS:
        raise DataError(f"{path}: the table names no part, and its available resources "
                        f"{key[0]:,} LUT, {key[1]:,} DSP match no known part")
    return SWEEP_PARTS[key]


def _result_key(row: dict) -> tuple:
    return tuple(row[c] for c in ("LUT_hls", "FF_hls", "DSP_hls", "BRAM_18K_hls",
                                  "WorstLatency_hls", "IntervalMax_hls"))


def _distinct_designs(rows: Iterable[dict]) -> list[dict]:
    """Successful rows, one per design; a row that repeats the results of the same layer at a
    smaller reuse factor (the factor was not applied) is the same design."""
    kept, seen = [], set()
    for row in sorted((r for r in rows if r["hls_synth_success"] == "True"),
                      key=lambda r: (r["strategy"], int(r["d_in"]), int(r["d_out"]),
                                     int(r["prec"]), int(r["rf"]))):
        design = (row["strategy"], row["d_in"], row["d_out"], row["prec"])
        if (*design, row["rf"]) in seen or (*design, _result_key(row)) in seen:
            continue
        seen |= {(*design, row["rf"]), (*design, _result_key(row))}
        kept.append(row)
    return kept


def _sweep_rows(path: Path, rows: list[dict]) -> list[ProjectFacts]:
    designs = []
    default = FixedType.parse(DEFAULT_TYPE)
    assumed = ("tool version not recorded: Vitis HLS with its default clock uncertainty",
               f"input, accumulator and output types not recorded: hls4ml's default "
               f"{DEFAULT_TYPE}; weights quantized_bits(prec, 0): fixed<prec,1>",
               "weight values not recorded: untrained, lecun_uniform (the sweep's "
               "gen_dense_models.py)")
    for row in _distinct_designs(rows):
        d_in, d_out, prec, reuse = (int(row[c]) for c in ("d_in", "d_out", "prec", "rf"))
        period = float(row["TargetClockPeriod_hls"])
        part = _sweep_part(path, row)
        layer = DenseFacts(name=f"dense_{d_in}x{d_out}", n_in=d_in, n_out=d_out, n_zeros=0,
                           input=default, weight=FixedType(prec, 1), accum=default,
                           output=default, reuse_factor=reuse, strategy=row["strategy"].lower(),
                           activation="linear", weight_distribution="uniform")
        name = f"{row['strategy']} {d_in}x{d_out} {prec}-bit reuse {reuse}"
        record = SynthesisRecord(
            flow="hls_estimate", tool="Vitis HLS", version="", part=part,
            clock_target_ns=period, clock_estimate_ns=_number(row["EstimatedClockPeriod_hls"],
                                                              float),
            lut=_number(row["LUT_hls"]), ff=_number(row["FF_hls"]), dsp=_number(row["DSP_hls"]),
            bram18=_number(row["BRAM_18K_hls"]), latency_best=_number(row["BestLatency_hls"]),
            latency_worst=_number(row["WorstLatency_hls"]),
            interval_min=_number(row["IntervalMin_hls"]),
            interval_max=_number(row["IntervalMax_hls"]), source=f"{path.name}: {name}")
        designs.append(ProjectFacts(
            name=name, source=f"{path}: {name}", layers=(layer,), io_type="io_parallel",
            part=part, clock_period_ns=period,
            clock_uncertainty_ns=period * DEFAULT_UNCERTAINTY["Vitis HLS"], tool="Vitis HLS",
            report=record, assumed=assumed, group=path.parent.name))
    if not designs:
        raise DataError(f"{path}: no successful synthesis in the table")
    return designs


def _report_key(facts: ProjectFacts) -> tuple:
    report = facts.report
    part = (report.part or facts.part).lower().replace("-", "")
    return part, report.lut, report.ff, report.dsp, report.latency_worst


def merge_folders(table: Sequence[ProjectFacts], folders: Sequence[ProjectFacts]
                  ) -> list[ProjectFacts]:
    """The table's designs and the project folders' as one list without duplicates: a folder
    whose report is a table row's (same part and numbers) replaces the row, keeping the row's
    name and group (the folder has the richer facts: activation types, weight values). Its
    facts also replace those of every re-synthesis of the same project path (``resynthesis``,
    the same facts in the table), each keeping its own report."""
    merged = list(table)
    index = {_report_key(row): i for i, row in enumerate(merged) if row.report}
    richer: dict[str, tuple[ProjectFacts, ProjectFacts]] = {}  # name -> (row, its folder)
    for folder in folders:
        row = index.get(_report_key(folder)) if folder.report else None
        if row is None:
            merged.append(folder)
        else:
            richer[merged[row].name] = (merged[row], folder)
            merged[row] = replace(folder, name=merged[row].name, group=merged[row].group)
    for i, row in enumerate(merged):
        same = richer.get(row.name)
        if row.resynthesis and same and _same_table_facts(row, same[0]):
            merged[i] = replace(same[1], name=row.name, group=row.group, source=row.source,
                                report=row.report, resynthesis=True)
    return merged


def _same_table_facts(one: ProjectFacts, other: ProjectFacts) -> bool:
    """Whether two table rows record the same design (a table records no weight values)."""
    def recorded(facts: ProjectFacts) -> tuple:
        layers = tuple(tuple(getattr(layer, f.name) for f in fields(layer)
                             if f.name != "mantissas") for layer in facts.layers)
        return layers, facts.part, facts.io_type, facts.clock_period_ns

    return recorded(one) == recorded(other)
