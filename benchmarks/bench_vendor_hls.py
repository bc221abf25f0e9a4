"""The vendor-HLS estimator, leave-one-repository-out, on every vendor report in ../shared.

Designs: the facts table of ``calibration/public_hls4ml_mlp`` (35 reports of 12 repositories;
where a project folder of the same report is in ../shared, or ``public_projects.py`` read it
from its repository, the folder's richer facts replace the row: real activation types, weight
values, each HGQ input's width; ``table_facts`` scores the table's rows alone beside), and the
wa-hls4ml-search sweep tables (single
layers, Latency and Resource strategy, one repository). Each repository's designs are
predicted by the estimator fitted on all the other repositories (each repository weighing the
same in the fit). Writes ``benchmarks/results/vendor_hls.json``: the absolute percentage
error per quantity over all designs, averaged per repository, per part family, per data set
and strategy, each public design's estimate beside its report, and rule4ml's published
figures for comparison; and the two evaluations of issue 31, each with MAPE and SMAPE per
quantity and part family and its targets:

* ``latency_strategy``: the public reports (all Latency strategy), each repository predicted
  by the fit on every other repository (the sweep included); beside, the least in-sample
  error of the estimator's features (``feature_floor``), the errors split by what ``nas
  estimate`` flags under each left-out calibration (``extrapolation_split``), how far what
  a left-out repository's projects record gives its scale (``scale_from_facts``), what
  one of its own reports in the fit does for its other designs (``one_report_in``) and
  whether the other repositories choose the form of a DSP product's registers a left-out
  one is scored with (``register_form_choice``);
* ``resource_strategy``: the sweep's Resource-strategy designs in five folds (seed 0), each
  predicted by the fit on everything outside the fold: in-distribution, beside the SMAPE the
  wa-hls4ml surrogates publish on their own test split.

    python benchmarks/bench_vendor_hls.py [--out FILE]
"""

import argparse
import datetime
import functools
import itertools
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from harness import machine
from public_projects import SHIPPED_RULES
from scipy.optimize import linprog

from nas.app.calibrate import summarize, tool_versions
from nas.estimators.base import QUANTITIES
from nas.estimators.calibration import (
    cross_predict,
    default_calibration,
    error_table,
    estimate_matrix,
    evaluation_folds,
    fold_estimators,
    group_weights,
    mean_over_groups,
    measured_matrix,
)
from nas.estimators.vendor.design import VendorDesign
from nas.estimators.vendor.estimator import FIXED, VendorEstimator, multiplier_stages
from nas.estimators.vendor.extrapolation import extrapolations
from nas.estimators.vendor.rows import calibration_row, read_rows, replace_rows
from nas.estimators.vendor.rules import plan
from nas.hls.fact_tables import merge_folders, read_table
from nas.hls.project_facts import ProjectFacts, read_project

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FACTS = SHARED / "calibration" / "public_hls4ml_mlp" / "reports.csv"
FOLDERS = (SHARED / "reports" / "hls4ml_tutorial", SHARED / "calibration" / "public_hls4ml_mlp")
SWEEPS = tuple(SHARED / "calibration" / "wa_hls4ml_search" / f"results_{kind}.csv"
               for kind in ("latency", "resource"))
OUT = ROOT / "benchmarks" / "results" / "vendor_hls.json"
PROJECT_ROWS = ROOT / "benchmarks" / "data" / "public_project_rows.json"
#: Targets of issue 15 (MAPE %, leave-one-repository-out, everything in ../shared).
TARGETS = {"lut": 15.0, "ff": 25.0, "dsp": 25.0, "latency_cycles": 15.0}
#: Targets of issue 31 (a): MAPE %, Latency strategy, leave-one-repository-out.
LATENCY_TARGETS = {"lut": 15.0, "ff": 15.0, "dsp": 25.0, "latency_cycles": 15.0}
#: The wa-hls4ml surrogates' published SMAPE (%) on their own test split (issue 31; the
#: paper's per-quantity table: GNN and transformer).
WA_HLS4ML = {"gnn": {"lut": 11.4, "ff": 11.6, "dsp": 15.1, "latency_cycles": 15.7},
             "transformer": {"lut": 2.9, "ff": 2.9, "dsp": 10.8, "latency_cycles": 10.1}}
FOLDS = 5
#: ``nas estimate`` on a folder of this many projects within this many seconds (issue 31).
SPEED_PROJECTS, SPEED_GOAL_S = 100, 30.0
SHOWN = ("lut", "ff", "dsp", "latency_cycles")
#: The layers with the most products the per-layer latency check lists.
LARGEST_LAYERS = 5
#: Reported cycles from which a layer counts as deep in the per-layer latency check.
DEEP_LAYER_CYCLES = 2
#: rule4ml's published accuracy (arXiv:2408.05314, abstract): their own validation split.
RULE4ML = {"source": "M. M. Rahimifar, H. E. Rahali, A. C. Therrien, 'rule4ml: An Open-Source "
                     "Tool for Resource Utilization and Latency Estimation for ML Models on "
                     "FPGA', arXiv:2408.05314 (2024), abstract",
           "url": "https://arxiv.org/abs/2408.05314",
           "smape_percent": [10, 30], "r2": [0.8, 0.98],
           "protocol": "validation split of their own synthesized networks (BRAM, DSP, FF, LUT, "
                       "cycles); sMAPE, not MAPE; not leave-one-repository-out",
           "per_quantity": "not found in the material searched (only the abstract's ranges)"}


def shared_designs() -> list[ProjectFacts]:
    """Every vendor design in ../shared, a project folder in place of its table row."""
    folders = [read_project(config.parent, layer_reports=True) for base in FOLDERS
               for config in sorted(base.rglob("hls4ml_config.yml"))]
    return merge_folders(read_table(FACTS), folders) + [
        design for sweep in SWEEPS for design in read_table(sweep)]


def table_facts(rows: list[dict], public: np.ndarray) -> dict:
    """The public reports left out by repository as the facts table alone records them (each
    folder ``public_projects.py`` read left out): the errors and constant pairs they had."""
    predicted = cross_predict("vendor_hls", rows, evaluation_folds(rows)[1])
    _round_cycles(predicted)
    return {"errors": _subset_errors(rows, predicted, public),
            "constant_where_reports_differ_2x": constant_pairs(rows, predicted, public)}


def shared_rows(table_rows: list[dict] | None = None) -> list[dict]:
    """The calibration rows of ``shared_designs`` (``table_rows`` when already made), each
    table row whose project folder ``public_projects.py`` read from its repository
    (``PROJECT_ROWS``) replaced by that folder's row."""
    if table_rows is None:
        table_rows = [calibration_row(d) for d in shared_designs()]
    return replace_rows(table_rows, read_rows(PROJECT_ROWS))


def _subset_errors(rows: list[dict], predicted: np.ndarray, mask: np.ndarray) -> dict:
    if not mask.any():
        return {}
    table = error_table(predicted[mask], measured_matrix([r for r, m in zip(rows, mask,
                                                                             strict=True) if m]))
    return {q: {k: round(v, 2) for k, v in table[q].items() if k != "r2"}
            for q in SHOWN if q in table}


def smooth_law_floor(rows: list[dict], mask: np.ndarray) -> dict:
    """Per quantity, the in-sample MAPE of the best log-linear law in a sweep's own columns
    (inputs, outputs, weight bits, reuse factor) on the designs of ``mask``: the scatter of
    the reports that no estimator of those columns can explain, a floor for its error."""
    chosen = [r for r, m in zip(rows, mask, strict=True) if m]
    layers = [r["design"]["layers"][0] for r in chosen]
    columns = np.array([[1.0, *np.log([x["n_in"], x["n_out"], x["weight_bits"],
                                       x["reuse_factor"]])] for x in layers])
    floor = {}
    for q in SHOWN:
        truth = np.array([r["measured"][q] for r in chosen])
        if not np.all(truth > 0):
            continue
        fitted, *_ = np.linalg.lstsq(columns, np.log(truth), rcond=None)
        floor[q] = round(float(100 * np.mean(np.abs(np.exp(columns @ fitted) - truth) / truth)), 1)
    return floor


def _by_family(rows: list[dict], predicted: np.ndarray, mask: np.ndarray) -> dict:
    """MAPE and SMAPE per quantity on the designs of ``mask``, in all and per part family."""
    family = np.array([r["design"]["part_family"] for r in rows])
    return {"all": _subset_errors(rows, predicted, mask),
            **{f: _subset_errors(rows, predicted, mask & (family == f))
               for f in sorted(set(family[mask]))}}


def constant_pairs(rows: list[dict], predicted: np.ndarray, mask: np.ndarray) -> dict:
    """Per quantity, the pairs of designs of ``mask`` whose reports differ by more than 2x
    but whose estimates are equal: a quantity the estimate holds constant where the reports
    do not. Equal as the estimator gives them (to 1e-9), not after rounding: estimates of 35.2
    and 35.0 DSPs tell two designs apart, wrong as one may be."""
    chosen = np.flatnonzero(mask)
    counts = {}
    for q in SHOWN:
        column = QUANTITIES.index(q)
        truth = np.maximum(measured_matrix([rows[i] for i in chosen])[:, column], 1.0)
        guess = predicted[chosen, column]
        ratio = np.maximum(truth[:, None] / truth[None, :], truth[None, :] / truth[:, None])
        same = np.isclose(guess[:, None], guess[None, :], rtol=1e-9, atol=1e-9)
        counts[q] = int(np.triu((ratio > 2) & same, 1).sum())
    return counts


def rule_choice(table_rows: list[dict], rows: list[dict], name: str) -> dict:
    """A rule parameter's values (``public_projects.RULE_ALTERNATIVES``: the narrow-input width
    ``table_input_bits``, ``odd_part_tools``) on the public reports: ``rows`` (``shared_rows``
    of ``table_rows``) for the value shipped, the rows ``public_projects.py`` made with each
    other value in their place, by ``nested_choice`` (the value it picks on all public
    repositories is the one shipped: a test checks it)."""
    variants = json.loads(PROJECT_ROWS.read_text())["variants"]
    sets = {_rule_label(SHIPPED_RULES[name]): rows, **{
        _rule_label(variant["rule"][name]): replace_rows(table_rows, variant["rows"])
        for variant in variants if name in variant["rule"]}}
    return nested_choice({label: sets[label] for label in sorted(sets)})


def _rule_label(value: int | Sequence[str]) -> int | str:
    return value if isinstance(value, int) else " and ".join(value)


def nested_choice(variants: dict[int | str, list[dict]]) -> dict:
    """A rule's variants (the same designs and reports, each variant's view of them), each
    public repository left out (the sweep always in the fit): per variant its errors and the
    criterion, the mean over LUT, FF, DSP and cycles of the mean of each repository's MAPE;
    the variant the criterion picks on all public repositories; and nested, each public
    repository scored with the variant the criterion picks on the other repositories, each
    of them left out in turn, without it (the honest figure for a variant so chosen)."""
    rows = next(iter(variants.values()))
    group = np.array([r["group"] for r in rows])
    public = group != SWEEPS[0].parent.name
    measured = measured_matrix(rows)

    def criterion(estimates: np.ndarray, where: np.ndarray) -> float:
        errors = mean_over_groups(estimates[where], measured[where], group[where])
        return float(np.mean([errors[q] for q in SHOWN]))

    def picked(scores: dict[int | str, float]) -> int | str:
        return min(scores, key=lambda name: (scores[name], name))

    predicted = {name: _left_out_estimates(rows, np.ones(len(rows), dtype=bool))
                 for name, rows in variants.items()}
    nested, chosen = np.full(measured.shape, np.nan), {}
    for left_out in sorted(str(name) for name in set(group[public])):
        kept = group != left_out
        chosen[left_out] = picked({name: criterion(_left_out_estimates(rows, kept),
                                                   public & kept)
                                   for name, rows in variants.items()})
        nested[~kept] = predicted[chosen[left_out]][~kept]
    on_all = {name: criterion(estimates, public) for name, estimates in predicted.items()}
    return {"variants": {str(name): {"errors": _subset_errors(rows, predicted[name], public),
                                   "criterion": round(on_all[name], 2)} for name in variants},
            "chosen_on_all": picked(on_all),
            "nested": {"chosen": chosen, "errors": _subset_errors(rows, nested, public)}}


def _left_out_estimates(rows: list[dict], kept: np.ndarray) -> np.ndarray:
    """Each repository of the ``kept`` rows estimated by the fit on the other kept rows
    (cycles rounded; NaN for the rows not kept)."""
    index = np.flatnonzero(kept)
    groups = np.array([rows[i]["group"] for i in index])
    estimates = np.full((len(rows), len(QUANTITIES)), np.nan)
    estimates[index] = cross_predict("vendor_hls", [rows[i] for i in index],
                                     [np.flatnonzero(groups == name)
                                      for name in sorted(set(groups))])
    _round_cycles(estimates)
    return estimates


#: Input widths at which the binding rule is tabulated (``binding_thresholds``).
BINDING_THRESHOLDS = (4, 6, 8, 10, 12, 14, 16)


def binding_thresholds(rows: list[dict], mask: np.ndarray) -> dict:
    """Per threshold of the binding rule's input width (a product goes to a DSP slice from
    that many input bits), the DSP MAPE and SMAPE of the slices the rule alone counts (no
    fitted coefficient) on the designs of ``mask``, in all and per part family: the table the
    rule's ``MIN_DSP_INPUT_BITS`` is read off."""
    chosen = [rows[i] for i in np.flatnonzero(mask)]
    designs = [VendorDesign.from_dict(r["design"]) for r in chosen]
    truth = np.array([r["measured"]["dsp"] for r in chosen])
    family = np.array([d.part_family for d in designs])
    table = {}
    for bits in BINDING_THRESHOLDS:
        slices = np.array([sum(plan(layer, d.part_family, bits).slices for layer in d.layers)
                           for d in designs])
        table[str(bits)] = {
            subset: {k: round(v, 1) for k, v in _dsp_errors(slices[where], truth[where]).items()}
            for subset, where in {"all": np.ones(len(chosen), dtype=bool),
                                  **{f: family == f for f in sorted(set(family))}}.items()}
    return {"n_designs": len(chosen), "thresholds": table}


def _dsp_errors(guess: np.ndarray, truth: np.ndarray) -> dict:
    matrix = np.zeros((len(truth), len(QUANTITIES)))
    matrix[:, QUANTITIES.index("dsp")] = truth
    predicted = np.zeros_like(matrix)
    predicted[:, QUANTITIES.index("dsp")] = guess
    errors = error_table(predicted, matrix)["dsp"]
    return {"mape": errors["mape"], "smape": errors["smape"]}


def same_features_floor(rows: list[dict], mask: np.ndarray) -> dict:
    """What no estimator of these features can beat: the designs of ``mask`` the estimator
    sees as the same design (same layers, widths, weight statistics, family, clock, tool) get
    the same estimate, so on each such group the best single value's MAPE is the least error
    any estimate of those features has there. Per quantity, the groups of designs from more
    than one repository and the MAPE over all designs of ``mask`` when every group gets its
    best value and every other design is estimated exactly: a floor of the error."""
    chosen = np.flatnonzero(mask)
    groups: dict[str, list[int]] = {}
    for i in chosen:
        groups.setdefault(json.dumps(rows[i]["design"], sort_keys=True), []).append(int(i))
    shared = [g for g in groups.values() if len({rows[i]["group"] for i in g}) > 1]
    floor = {}
    for q in SHOWN:
        lost = 0.0
        for members in shared:
            truth = np.maximum([rows[i]["measured"][q] for i in members], 1.0)
            lost += min(float(np.sum(np.abs(value - truth) / truth)) for value in truth)
        floor[q] = round(100 * lost / len(chosen), 1)
    return {"groups": [{"designs": [rows[i]["name"] for i in g],
                        "reports": [{q: rows[i]["measured"][q] for q in SHOWN} for i in g]}
                       for g in shared],
            "mape_floor": floor}


def flagged_left_out(rows: list[dict], mask: np.ndarray) -> dict[int, list[str]]:
    """Per design of ``mask``, what ``nas estimate`` flags as an extrapolation (``extrapolations``)
    under the calibration fitted without its repository: that calibration's data summary and
    tool versions, as ``nas calibrate`` writes them from the other repositories' rows."""
    group = np.array([r["group"] for r in rows])
    flagged = {}
    for name in sorted(set(group[mask])):
        rest = [r for r, g in zip(rows, group, strict=True) if g != name]
        data, versions = summarize(rest), tool_versions(rest)["hls"]
        for i in np.flatnonzero(mask & (group == name)):
            flagged[int(i)] = extrapolations(VendorDesign.from_dict(rows[i]["design"]), data,
                                             versions, rows[i].get("tool"))
    return flagged


def extrapolation_split(rows: list[dict], predicted: np.ndarray,
                        flagged: dict[int, list[str]]) -> dict:
    """The designs ``flagged`` names (``flagged_left_out``: each left out with its repository)
    split by whether ``nas estimate`` says it extrapolates there: each part's designs,
    repositories and errors, and per kind of reason (its first word: tool, clock, layer,
    inputs, part) the designs it flags."""
    group = np.array([r["group"] for r in rows])
    split = {}
    for part, wanted in (("inside", False), ("flagged", True)):
        chosen = np.array([i in flagged and bool(flagged[i]) == wanted for i in range(len(rows))])
        split[part] = {"n_designs": int(chosen.sum()),
                       "n_repositories": len(set(group[chosen])),
                       "errors": _subset_errors(rows, predicted, chosen)}
    kinds = [{reason.split()[0] for reason in reasons} for reasons in flagged.values()]
    split["flagged"]["reasons"] = {kind: sum(kind in found for found in kinds)
                                   for kind in sorted(set().union(*kinds))}
    return split


def feature_floor(rows: list[dict], mask: np.ndarray) -> dict[str, float]:
    """Per quantity, the least MAPE on the designs of ``mask`` that any non-negative
    coefficients of the estimator's features give (``FIXED`` ones held; cycles unrounded;
    the pipeline depths by the latency fitted on those designs), fitted on those designs
    themselves: a linear program over the coefficients and each design's absolute relative
    error. In-sample, an oracle's figure: no calibration of these
    features does better on these designs, so a target below it needs other features."""
    chosen = np.flatnonzero(mask)
    designs = [VendorDesign.from_dict(rows[i]["design"]) for i in chosen]
    measured = measured_matrix([rows[i] for i in chosen])
    # Fitted on the same designs: the pipeline depths follow the latency fitted there.
    estimator = VendorEstimator().fit(designs, measured)
    features = [estimator.features(design) for design in designs]
    floor = {}
    for q in SHOWN:
        held = FIXED.get(q, {})
        free = [name for name in estimator.quantity_features[q] if name not in held]
        matrix = np.array([[row[name] for name in free] for row in features])
        fixed_part = np.array([sum(row[name] * value for name, value in held.items())
                               for row in features])
        truth = measured[:, QUANTITIES.index(q)]
        scale = np.maximum(truth, 1.0)
        share, target = matrix / scale[:, None], (truth - fixed_part) / scale
        n, k = share.shape
        # Minimize the sum of e_i with e_i >= |share_i . c - target_i|, c >= 0.
        bounds = np.block([[share, -np.eye(n)], [-share, -np.eye(n)]])
        solved = linprog(np.r_[np.zeros(k), np.ones(n)], A_ub=bounds,
                         b_ub=np.r_[target, -target], bounds=(0, None), method="highs")
        floor[q] = round(float(100 * solved.fun / n), 1)
    return floor


def left_out_estimators(rows: list[dict], mask: np.ndarray) -> dict[str, VendorEstimator]:
    """Per repository of the designs of ``mask``, the estimator fitted on every other row."""
    group = np.array([r["group"] for r in rows])
    names = sorted(set(group[mask]))
    return dict(zip(names, fold_estimators("vendor_hls", rows, [
        np.flatnonzero(group == name) for name in names]), strict=True))


def layer_latency(rows: list[dict], estimators: dict[str, VendorEstimator]) -> dict:
    """Each dense layer's own cycles (``VendorEstimator.layer_cycles``, by the estimator of
    its repository in ``estimators``: fitted without it) against the report of the layer's
    function, where its project kept one (``layers_measured``): MAPE (of the report, at least
    1), also on the layers of ``DEEP_LAYER_CYCLES`` or more (most take 0 or 1: a MAPE of such
    counts says little), the cycles missed on average, the count exact after rounding, and
    the layers with the most products."""
    found = []
    for number, row in enumerate(rows):
        if row["group"] not in estimators or not any(row.get("layers_measured") or []):
            continue
        design = VendorDesign.from_dict(row["design"])
        cycles = estimators[row["group"]].layer_cycles(design)
        for index, (layer, report) in enumerate(zip(design.layers, row["layers_measured"],
                                                    strict=True), start=1):
            if report is not None:
                found.append({"design": row["name"], "row": number, "group": row["group"],
                              "layer": index, "n_in": layer.n_in, "n_out": layer.n_out,
                              "report": report["latency_cycles"],
                              "estimate": round(cycles[index - 1], 2)})
    if not found:
        return {}
    truth = np.array([x["report"] for x in found])
    guess = np.array([x["estimate"] for x in found])
    deep = truth >= DEEP_LAYER_CYCLES
    return {"n_layers": len(found), "n_designs": len({x["row"] for x in found}),
            "n_repositories": len({x["group"] for x in found}),
            "mape": round(float(100 * np.mean(np.abs(guess - truth) / np.maximum(truth, 1))), 1),
            "n_deep": int(np.sum(deep)),
            "mape_deep": round(float(100 * np.mean(np.abs(guess - truth)[deep] / truth[deep])), 1)
            if deep.any() else None,
            "mean_abs_cycles": round(float(np.mean(np.abs(guess - truth))), 2),
            "exact": int(np.sum(np.floor(guess + 0.5) == truth)),
            "largest": sorted(found, key=lambda x: -x["n_in"] * x["n_out"])[:LARGEST_LAYERS]}


def resource_folds(rows: list[dict], mask: np.ndarray, seed: int = 0) -> list[np.ndarray]:
    """``FOLDS`` folds of the designs of ``mask`` (shuffled by ``seed``)."""
    order = np.random.default_rng(seed).permutation(np.flatnonzero(mask))
    return [np.sort(fold) for fold in np.array_split(order, FOLDS)]


def complete(rows: list[dict]) -> np.ndarray:
    """The designs whose facts are all read from their project (nothing assumed)."""
    return np.array([not r["assumed"] for r in rows])


def _best_scale(estimate: np.ndarray, truth: np.ndarray) -> float:
    """The factor ``f`` for which ``f * estimate`` has the least MAPE against ``truth``: the
    median of ``truth / estimate`` weighted by ``estimate / truth``."""
    ratio, weight = truth / estimate, estimate / truth
    order = np.argsort(ratio)
    cumulative = np.cumsum(weight[order])
    return float(ratio[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def scaled_per_repository(rows: list[dict], predicted: np.ndarray, mask: np.ndarray) -> dict:
    """Per quantity, the MAPE left on the designs of ``mask`` when each repository's estimates
    are multiplied by the one factor that fits that repository's own reports best: the error
    an estimator that knew each repository's scale would still have, the spread within a
    repository. An oracle's figure, not an estimator's (it reads the reports it is scored
    on): the rest of the MAPE is a scale per repository that the recorded facts do not give."""
    group = np.array([r["group"] for r in rows])
    measured = measured_matrix(rows)
    left = {}
    for q in SHOWN:
        j = QUANTITIES.index(q)
        truth = np.maximum(measured[:, j], 1.0)
        estimate = np.maximum(predicted[:, j], 1.0)
        scaled = estimate.copy()
        for name in set(group[mask]):
            members = mask & (group == name)
            scaled[members] *= _best_scale(estimate[members], truth[members])
        left[q] = round(float(100 * np.mean(np.abs(scaled[mask] - truth[mask])
                                            / truth[mask])), 1)
    return left


def _tool_year(row: dict) -> float:
    """The year of the tool version a report names (``Vivado HLS 2019.2`` -> 2019)."""
    found = re.search(r"\b(20\d\d)", row.get("tool", ""))
    if not found:
        raise ValueError(f"{row.get('name', 'a row')}: no tool version in {row.get('tool')!r}")
    return float(found.group(1))


def _uniform_16_bit(row: dict) -> float:
    return float(all(layer["input_bits"] == layer["weight_bits"] == 16
                     for layer in row["design"]["layers"]))


#: What a project records of how it was built, one number per design: what a calibration
#: could learn a left-out repository's scale from (``scale_from_facts``).
REPOSITORY_FACTS: dict[str, Callable[[dict], float]] = {
    "7-series part": lambda row: float(row["design"]["part_family"] == "xc7"),
    "Vitis HLS": lambda row: float(row["design"]["tool"] == "Vitis HLS"),
    "tool year": _tool_year,
    "part speed (delay scale)": lambda row: float(row["design"]["delay_scale"]),
    "clock uncertainty / period": lambda row: (row["design"]["clock_uncertainty_ns"]
                                               / row["design"]["clock_period_ns"]),
    "usable ns": lambda row: VendorDesign.from_dict(row["design"]).usable_ns,
    "uniform 16-bit types": _uniform_16_bit,
    "reuse above 1": lambda row: float(max(layer["reuse_factor"]
                                           for layer in row["design"]["layers"]) > 1),
    "dense layers": lambda row: float(len(row["design"]["layers"])),
}


def _mape_of_log_ratios(log_ratio: np.ndarray) -> float:
    """MAPE (%, one decimal) of estimates whose log ratios to their reports are these."""
    return round(float(100 * np.mean(np.abs(np.exp(log_ratio) - 1.0))), 1)


def _fact_scaled_mape(log_ratio: np.ndarray, group: np.ndarray, weight: np.ndarray,
                      facts: np.ndarray) -> float:
    """MAPE of estimates whose log ratio to their reports is ``log_ratio`` when each
    repository's are divided by the scale a line in ``facts`` (columns), fitted by least
    squares to the other repositories' log ratios (``weight``: ``group_weights``, each
    repository weighing the same), gives it."""
    design = np.column_stack([np.ones(len(group)), facts])
    root = np.sqrt(weight)
    corrected = np.empty(len(group))
    for name in set(group):
        out = group == name
        rest = ~out
        line, *_ = np.linalg.lstsq(design[rest] * root[rest, None], log_ratio[rest] * root[rest],
                                   rcond=None)
        corrected[out] = log_ratio[out] - design[out] @ line
    return _mape_of_log_ratios(corrected)


def scale_from_facts(rows: list[dict], predicted: np.ndarray, mask: np.ndarray) -> dict:
    """Whether a repository's scale (``scaled_per_repository``: the error an oracle of it
    removes) follows from what its projects record. Per quantity, the MAPE on the designs of
    ``mask`` when each repository's estimates are divided by the scale the other
    repositories give it through one fact of ``REPOSITORY_FACTS`` (the log ratio of estimate
    to report as a line in the fact), beside the MAPE without it; and the pair of facts that
    does best, picked on these designs (a bound: no pair does better here). A fact that gives
    the scale brings the MAPE down towards the oracle's."""
    chosen = np.flatnonzero(mask)
    group = np.array([rows[i]["group"] for i in chosen])
    weight = group_weights([rows[i] for i in chosen])
    facts = {name: np.array([fact(rows[i]) for i in chosen])
             for name, fact in REPOSITORY_FACTS.items()}
    measured = measured_matrix([rows[i] for i in chosen])
    result = {}
    for q in SHOWN:
        j = QUANTITIES.index(q)
        log_ratio = np.log(np.maximum(predicted[chosen, j], 1.0)
                           / np.maximum(measured[:, j], 1.0))
        pairs = {pair: _fact_scaled_mape(log_ratio, group, weight, np.column_stack(
            [facts[pair[0]], facts[pair[1]]])) for pair in itertools.combinations(facts, 2)}
        best = min(pairs, key=pairs.get)
        result[q] = {"left_out": _mape_of_log_ratios(log_ratio),
                     "one_fact": {name: _fact_scaled_mape(log_ratio, group, weight,
                                                          values[:, None])
                                  for name, values in facts.items()},
                     "best_pair": {"facts": list(best), "mape": pairs[best]}}
    return result


def one_report_in(rows: list[dict], predicted: np.ndarray, mask: np.ndarray) -> dict:
    """What one of a repository's own reports in the fit does for its other designs, as a
    user's ``nas calibrate --reports`` with one synthesized project of their tool and part
    would: per repository of ``mask`` with two designs or more, each design in turn joins the
    fit of the other repositories' rows (a group of its own, weighing as one repository), and
    its repository's other designs are estimated. Per quantity, the MAPE over every such
    (report in the fit, design estimated) pair, beside the MAPE of the same pairs'
    ``predicted`` estimates (their repository left out whole)."""
    group = np.array([r["group"] for r in rows])
    named = sorted(name for name in set(group[mask]) if (mask & (group == name)).sum() > 1)
    folds = [np.setdiff1d(members, [report])
             for members in (np.flatnonzero(mask & (group == name)) for name in named)
             for report in members]
    with_report = np.vstack([estimate_matrix(estimator.predict(
        [VendorDesign.from_dict(rows[i]["design"]) for i in fold]))
        for fold, estimator in zip(folds, fold_estimators("vendor_hls", rows, folds),
                                   strict=True)])
    index = np.concatenate(folds)
    measured = measured_matrix([rows[i] for i in index])
    mapes = {way: error_table(estimates, measured)
             for way, estimates in (("left_out", predicted[index]), ("one_report_in",
                                                                     with_report))}
    return {"n_repositories": len(named), "n_pairs": len(index),
            **{way: {q: round(table[q]["mape"], 1) for q in SHOWN if q in table}
               for way, table in mapes.items()}}


class LineRegisterEstimator(VendorEstimator):
    """The estimator with a DSP product's registers a line in the clock on both families
    (``MULTIPLIER_NS / usable - 1`` stages), the form the 7-series step replaced (its other
    features as shipped: the 7-series adder-tree registers counted by depth alone)."""

    def multiplier_registers(self, family: str, usable: float) -> dict[str, float]:
        return {f"multiplier_stage_bits_{family}": multiplier_stages(usable)}


#: The forms of a DSP product's FF ``register_form_choice`` chooses between.
REGISTER_FORMS: dict[str, type[VendorEstimator]] = {"step": VendorEstimator,
                                                    "line": LineRegisterEstimator}


def register_form_choice(rows: list[dict], mask: np.ndarray) -> dict:
    """Whether the repositories a repository is scored without choose the form of a DSP
    product's FF (``REGISTER_FORMS``) it is scored with: per repository of ``mask``, each
    form's FF MAPE on the other repositories of ``mask``, each left out in turn with it; the
    lower picked, and the repository estimated by that form fitted without it (nested). FF
    MAPE on the designs of ``mask`` of each form (leave-one-repository-out) and of the picks.
    A fit without two repositories serves both orders of the pair (fitted once)."""
    group = np.array([r["group"] for r in rows])
    names = sorted(str(name) for name in set(group[mask]))
    members = {name: np.flatnonzero(mask & (group == name)) for name in names}
    designs = [VendorDesign.from_dict(row["design"]) for row in rows]
    measured = measured_matrix(rows)
    truth = np.maximum(measured[:, QUANTITIES.index("ff")], 1.0)

    @functools.cache
    def fitted(form: str, left_out: frozenset[str]) -> VendorEstimator:
        kept = np.flatnonzero(~np.isin(group, list(left_out)))
        return REGISTER_FORMS[form]().fit([designs[i] for i in kept], measured[kept],
                                          group_weights([rows[i] for i in kept]))

    def ape(form: str, name: str, left_out: frozenset[str]) -> np.ndarray:
        estimates = np.array([e.ff for e in fitted(form, left_out).predict(
            [designs[i] for i in members[name]])])
        return np.abs(estimates - truth[members[name]]) / truth[members[name]]

    outer = {form: {name: ape(form, name, frozenset({name})) for name in names}
             for form in REGISTER_FORMS}
    picked = {}
    for name in names:
        inner = {form: np.mean(np.concatenate([ape(form, other, frozenset({name, other}))
                                               for other in names if other != name]))
                 for form in REGISTER_FORMS}
        picked[name] = min(inner, key=inner.get)
    return {"forms": {form: round(float(100 * np.mean(np.concatenate(list(errors.values())))), 1)
                      for form, errors in outer.items()},
            "nested": round(float(100 * np.mean(np.concatenate(
                [outer[form][name] for name, form in picked.items()]))), 1),
            "picked": picked}


def latency_strategy(rows: list[dict], predicted: np.ndarray, public: np.ndarray,
                     flagged: dict[int, list[str]]) -> dict:
    """The public reports left out by repository: errors per family, and, where some designs'
    facts are incomplete (a table row's: types not recorded per layer, weights not known),
    the same on the designs whose facts are per layer and on those whose facts are all read;
    split by what ``nas estimate`` ``flagged`` (``flagged_left_out``)."""
    errors = _by_family(rows, predicted, public)
    per_layer = public & np.array([r["types_per_layer"] for r in rows])
    full = public & complete(rows)
    pairs = constant_pairs(rows, predicted, public)
    split = extrapolation_split(rows, predicted, flagged)
    partial = per_layer.sum() < public.sum()
    return {"evaluation": "public reports (Latency strategy), leave-one-repository-out",
            "n_designs": int(public.sum()), "n_complete_facts": int(full.sum()),
            "errors": errors, "same_features": same_features_floor(rows, public),
            "feature_floor": feature_floor(rows, public),
            "extrapolation": split,
            "layer_latency": layer_latency(rows, left_out_estimators(rows, public)),
            **({"complete_facts": _subset_errors(rows, predicted, full)}
               if full.sum() < public.sum() else {}),
            **({"per_layer_facts": _by_family(rows, predicted, per_layer)} if partial else {}),
            "scaled_per_repository": {
                "all": scaled_per_repository(rows, predicted, public),
                **({"per_layer_facts": scaled_per_repository(rows, predicted, per_layer)}
                   if partial else {})},
            "scale_from_facts": scale_from_facts(rows, predicted, public),
            "one_report_in": one_report_in(rows, predicted, public),
            "register_form_choice": register_form_choice(rows, public),
            "constant_where_reports_differ_2x": pairs,
            "targets": _latency_targets(errors["all"]),
            "targets_inside_calibration": _latency_targets(split["inside"]["errors"]),
            "no_constant_quantity": all(v == 0 for v in pairs.values())}


def _latency_targets(errors: dict) -> dict:
    """Each Latency-strategy target (``LATENCY_TARGETS``) against these ``errors``: on all
    public designs, and restated on those ``nas estimate`` does not flag (a calibration cannot
    know the registers of a tool version it has never seen)."""
    return {q: {"goal_mape": goal, "measured_mape": errors[q]["mape"],
                "met": errors[q]["mape"] <= goal} for q, goal in LATENCY_TARGETS.items()}


def resource_strategy(rows: list[dict], resource: np.ndarray) -> dict:
    folds = resource_folds(rows, resource)
    predicted = cross_predict("vendor_hls", rows, folds)
    _round_cycles(predicted)
    errors = _by_family(rows, predicted, resource)
    targets = {q: {"goal_smape": WA_HLS4ML["gnn"][q], "measured_smape": errors["all"][q]["smape"],
                   "met": errors["all"][q]["smape"] <= WA_HLS4ML["gnn"][q]} for q in SHOWN}
    return {"evaluation": f"wa-hls4ml-search sweep, Resource strategy, {FOLDS}-fold (seed 0), "
                          f"each fold predicted by the fit on everything outside it: "
                          f"in-distribution",
            "n_designs": int(resource.sum()), "errors": errors, "wa_hls4ml_smape": WA_HLS4ML,
            "targets": targets}


def interval_errors(rows: list[dict], sweep: np.ndarray, strategy: np.ndarray) -> dict:
    """The initiation interval ``nas estimate`` prints (``VendorEstimator.interval`` of the
    shipped calibration) against each report's, per data set, strategy and reuse (1, or more
    in some layer): MAPE, the designs exact, and how many of the designs it misses report an
    interval of their latency + 1 (a top function that is not pipelined) where the estimate
    takes one pipeline."""
    estimator = default_calibration("vitis").estimator("vendor_hls")
    designs = [VendorDesign.from_dict(r["design"]) for r in rows]
    estimate = np.array([estimator.interval(design) for design in designs], dtype=float)
    reported = np.array([r["interval"] or 0 for r in rows], dtype=float)
    latency = np.array([r["measured"]["latency_cycles"] for r in rows])
    pipelined = np.array([not design.dataflow for design in designs])
    shared = np.array([max(layer.reuse_factor for layer in design.layers) > 1
                       for design in designs])
    subsets = {f"{data}, {name} strategy, reuse {'> 1' if reuse else '1'}":
               where & (strategy == name) & (shared == reuse) & (reported > 0)
               for data, where in (("public reports", ~sweep), ("wa-hls4ml-search sweep", sweep))
               for name in ("latency", "resource") for reuse in (False, True)}
    table = {}
    for name, mask in subsets.items():
        if not mask.any():
            continue
        missed = mask & (estimate != reported)
        table[name] = {
            "n": int(mask.sum()),
            "mape": round(100 * float(np.mean(np.abs(estimate[mask] - reported[mask])
                                              / reported[mask])), 1),
            "exact": int(np.sum(mask & ~missed)),
            "missed_unpipelined": int(np.sum(missed & pipelined & (reported == latency + 1)))}
    return table


def _round_cycles(predicted: np.ndarray) -> None:
    column = QUANTITIES.index("latency_cycles")
    predicted[:, column] = np.maximum(1, np.floor(predicted[:, column] + 0.5))


def estimate_speed() -> dict:
    """Seconds ``nas estimate --project DIR --json`` takes (a new process, as a user runs it)
    on a folder of ``SPEED_PROJECTS`` copies of the project folders in ../shared."""
    sources = [config.parent for base in FOLDERS for config in sorted(base.rglob("hls4ml_config.yml"))]
    with tempfile.TemporaryDirectory() as folder:
        for index in range(SPEED_PROJECTS):
            shutil.copytree(sources[index % len(sources)], Path(folder) / f"project_{index}")
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "nas", "estimate", "--project", folder,
                               "--json"], capture_output=True, text=True, check=True)
        seconds = time.perf_counter() - start
    estimated = len(json.loads(done.stdout))
    return {"projects": SPEED_PROJECTS, "estimated": estimated, "seconds": round(seconds, 1),
            "goal_seconds": SPEED_GOAL_S,
            "met": seconds <= SPEED_GOAL_S and estimated == SPEED_PROJECTS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    start = time.perf_counter()
    table_rows = [calibration_row(d) for d in shared_designs()]
    rows = shared_rows(table_rows)
    method, folds = evaluation_folds(rows)
    predicted = cross_predict("vendor_hls", rows, folds)
    _round_cycles(predicted)
    family = np.array([r["design"]["part_family"] for r in rows])
    group = np.array([r["group"] for r in rows])
    sweep = group == SWEEPS[0].parent.name
    public = f"public_hls4ml_mlp ({(~sweep).sum()} reports, {len(set(group[~sweep]))} repositories)"
    strategy = np.array([r["design"]["layers"][0]["strategy"] for r in rows])
    everything = np.ones(len(rows), dtype=bool)
    flagged = flagged_left_out(rows, ~sweep)
    overall = _subset_errors(rows, predicted, everything)
    result = {
        "date": datetime.date.today().isoformat(), "machine": machine(),
        "evaluation": method.replace("groups", "repositories").replace("group", "repository"),
        "n_designs": len(rows), "n_repositories": len(folds),
        "seconds": round(time.perf_counter() - start, 1),
        "overall": overall,
        "mean_over_repositories": {q: round(mape, 2) for q, mape in mean_over_groups(
            predicted, measured_matrix(rows), group).items() if q in SHOWN},
        "by_part_family": {f: _subset_errors(rows, predicted, family == f)
                           for f in sorted(set(family))},
        "by_data_set": {
            public: _subset_errors(rows, predicted, ~sweep),
            **{f"public_hls4ml_mlp, {f}": _subset_errors(rows, predicted, ~sweep & (family == f))
               for f in sorted(set(family[~sweep]))},
            "wa-hls4ml-search sweep, Latency strategy":
                _subset_errors(rows, predicted, sweep & (strategy == "latency")),
            "wa-hls4ml-search sweep, Resource strategy":
                _subset_errors(rows, predicted, sweep & (strategy == "resource"))},
        "sweep_floor": {name: smooth_law_floor(rows, sweep & (strategy == name))
                        for name in ("latency", "resource")},
        "targets": {q: {"goal_mape": goal, "measured_mape": overall[q]["mape"],
                        "met": overall[q]["mape"] <= goal} for q, goal in TARGETS.items()},
        "designs": [{"name": r["name"], "group": r["group"], "part": r["part"],
                     "tool": r["tool"], "family": r["design"]["part_family"],
                     "report": {q: r["measured"][q] for q in SHOWN},
                     "estimate": {q: round(float(predicted[i, QUANTITIES.index(q)]), 1)
                                  for q in SHOWN},
                     "assumed": r["assumed"], "types_per_layer": r["types_per_layer"],
                     "extrapolated": flagged[i]}
                    for i, r in enumerate(rows) if not sweep[i]],
        "rule4ml": RULE4ML,
        "binding": binding_thresholds(rows, ~sweep),
        "narrow_inputs": rule_choice(table_rows, rows, "table_input_bits"),
        "odd_part_tools": rule_choice(table_rows, rows, "odd_part_tools"),
        "latency_strategy": latency_strategy(rows, predicted, ~sweep, flagged),
        "table_facts": table_facts(table_rows, ~sweep),
        "resource_strategy": resource_strategy(rows, sweep & (strategy == "resource")),
        "interval": interval_errors(rows, sweep, strategy),
        "estimate_speed": estimate_speed(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"{result['date']}; {result['machine']}")
    print(f"{result['evaluation']}: {len(rows)} designs, {len(folds)} repositories")
    print(f"{'subset':58} " + " ".join(f"{q:>24}" for q in SHOWN))
    subsets = {"overall": overall, **{f"family {k}": v for k, v in
                                      result["by_part_family"].items()},
               **result["by_data_set"]}
    for name, table in subsets.items():
        print(f"{name[:58]:58} " + " ".join(
            f"{table[q]['mape']:7.1f}/{table[q]['median_ape']:6.1f}/{table[q]['worst_ape']:7.0f}"
            if q in table else f"{'-':>24}" for q in SHOWN))
    print("mean over repositories: " + ", ".join(
        f"{q} {v:.1f}" for q, v in result["mean_over_repositories"].items()))
    for name in ("latency_strategy", "resource_strategy"):
        part = result[name]
        print(f"{part['evaluation']} ({part['n_designs']} designs):")
        for subset, table in part["errors"].items():
            print(f"  {subset:12} " + ", ".join(
                f"{q} MAPE {table[q]['mape']:.1f} SMAPE {table[q]['smape']:.1f}"
                for q in SHOWN if q in table))
    print("interval (nas estimate's): " + "; ".join(
        f"{name} {part['exact']}/{part['n']} exact, MAPE {part['mape']:.1f}"
        for name, part in result["interval"].items()))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
