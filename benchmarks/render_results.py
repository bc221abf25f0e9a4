"""``benchmarks/RESULTS.md`` and the README's results blocks, written from the JSON results
alone (``RESULTS.json`` of ``bench_workflows.py``, ``results/compare_search.json``), so that
no figure is typed by hand. ``python render_results.py`` writes them again from the committed
JSON; the tests check that the committed files equal what this writes.

A README block sits between ``<!-- results:NAME -->`` and ``<!-- /results:NAME -->``.
"""

import json
import re
import sys
from pathlib import Path
from statistics import median_high

from cnn_race import HELD_OUT_FILES, TUNING_SEEDS, race_medians, shown_ratio
from harness import MISSED, SHORT_NAMES, hypervolume, median, smallest_at

from nas.app.render import QUANTITY_NAMES
from nas.search.sampling import STARTING_PLANS
from nas.search.study import TPE_STARTUP_TRIALS
from nas.spaces import get_space

HERE = Path(__file__).parent
README = HERE.parent / "README.md"
COMPARE = HERE / "results" / "compare_search.json"
DATASETS = HERE / "results" / "datasets.json"
VENDOR = HERE / "results" / "vendor_hls.json"
FAULTS = HERE / "results" / "faults.json"
CNN = HERE / "results" / "cnn.json"
#: ``bench_peer_reproduction.py``: the HGQ2 peer beside the independent runs of its recipe.
PEER_REPRODUCTION = HERE / "results" / "peer_reproduction.json"
#: ``bench_workflows.py --space mlp_gn``: the second application, every seed held out.
MLP_GN = HERE / "results" / "bench_mlp_gn" / "RESULTS.json"
CALIBRATIONS = HERE.parent / "nas" / "estimators" / "calibrations"
TRACE_TRANSFER = HERE / "results" / "trace_transfer.json"
HGQ2_LOOP = HERE / "results" / "hgq2_search.json"
LABELS = {"default": "default search (`nas run`)", "random": "random sampler, same space",
          "manual": "manual workflow (accuracy-only TPE, fixed 8-bit, 20 %)",
          "hgq2": "HGQ2 + da4ml, three fixed schedules (reference row)",
          "hgq2_sweep": "HGQ2 + da4ml at equal compute (peer)"}


def _spread(values: list[float], fmt: str = "{:,.0f}") -> str:
    if not values:
        return "none"
    text = fmt.format(median(values))
    return text if len(values) == 1 else f"{text} [{fmt.format(min(values))} .. {fmt.format(max(values))}]"


def _seeds_of(result: dict, method: str) -> list[int]:
    """The seeds on which ``method`` ran (all, unless a partial run was merged)."""
    return [seed for seed in result["seeds"] if method in result["runs"][str(seed)]]


def _by(result: dict, method: str, seed: int) -> list[dict]:
    return [d for d in result["designs"] if d["method"] == method and d["seed"] == seed]


def _seed_groups(result: dict) -> tuple[list[int], list[int]]:
    """The held-out seeds and the tuning seeds of ``result``."""
    tuning = set(result.get("tuning_seeds", []))
    return ([s for s in result["seeds"] if s not in tuning],
            [s for s in result["seeds"] if s in tuning])


def targets_table(result: dict) -> list[str]:
    """The targets on the held-out seeds (which decide "met") beside the same scores on the
    tuning seeds, and the gap between them."""
    held_out, tuning = _seed_groups(result)
    by_name = {t["name"]: t for t in result.get("tuning_targets", [])}
    lines = [f"| target | held-out seeds {held_out or '(none yet)'} | tuning seeds {tuning} | "
             f"held-out - tuning | goal | met (held-out) | per seed (held-out; tuning) |",
             "|---|---|---|---|---|---|---|"]
    names = [t["name"] for t in result["targets"]] or list(by_name)
    held = {t["name"]: t for t in result["targets"]}
    for name in names:
        ours, theirs = held.get(name), by_name.get(name)
        either = ours or theirs
        gap = (f"{ours['measured'] - theirs['measured']:+.2f}"
               if ours and theirs and MISSED not in (ours["measured"], theirs["measured"])
               else "-")
        lines.append(
            f"| {name} | {_measured(ours)} | {_measured(theirs)} | {gap} | "
            f"{either['comparison']} {either['goal']:g} | "
            f"{('yes' if ours['met'] else 'no') if ours else 'not measured'} | "
            f"{ours['detail'].removeprefix('per seed: ') if ours else '-'}; "
            f"{theirs['detail'].removeprefix('per seed: ') if theirs else '-'} |")
    return lines


def _measured(target: dict | None) -> str:
    """A target's median as printed: "no design" where the median seed has none of ours."""
    if target is None:
        return "-"
    return "no design" if target["measured"] == MISSED else f"{target['measured']:.2f}"


def _label(result: dict, method: str) -> str:
    """How the tables name ``method``; the reference recipe by the shape it was measured at
    (every design carries its space and configuration)."""
    if method != "reference":
        return LABELS[method]
    design = next((d for d in result["designs"] if d["method"] == "reference"), None)
    if design is None:
        return "reference recipe"
    space = get_space(design["space"])
    shape = (space.n_inputs, *design["config"]["widths"], space.n_classes)
    return f"reference recipe {'-'.join(map(str, shape))}"


def methods_table(result: dict) -> list[str]:
    """Per method: at each validation accuracy the smallest design's LUTs (median of seeds),
    hypervolume."""
    levels = result["accuracies"]
    head = ["method", *(f"LUT at >= {100 * a:.1f} % (val)" for a in levels), "hypervolume",
            "designs (bit-exact)", "minutes per seed"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for method in result["methods"]:
        seeds = _seeds_of(result, method)
        per_seed = [_by(result, method, seed) for seed in seeds]
        cells = []
        for level in levels:
            found = [s["lut"] for s in (smallest_at(d, level) for d in per_seed) if s]
            cells.append(f"{_spread(found)} ({len(found)}/{len(per_seed)})")
        volumes = [hypervolume(d) for d in per_seed]
        exact = sum(d["bit_exact"] for designs in per_seed for d in designs)
        total = sum(len(designs) for designs in per_seed)
        runs = [result["runs"][str(seed)][method] for seed in seeds]
        minutes = [(r["search_seconds"] + r["synth_seconds"]) / 60 for r in runs]
        lines.append(f"| {_label(result, method)} | " + " | ".join(cells) +
                     f" | {_spread(volumes, '{:,.1f}')} | {total} ({exact}) | {_spread(minutes, '{:.1f}')} |")
    return lines


def _swept_seeds(result: dict) -> list[int]:
    return [seed for seed in result["seeds"] if "hgq2_sweep" in result["runs"][str(seed)]]


def _trainer_costs(result: dict, seed: int) -> dict[str, float | None]:
    """On ``seed``: the default search's seconds per complete trial and epochs per complete
    trial (None where the run did not record them), HGQ2's training seconds per epoch in its
    sweep (schedule names end in ``_e<epochs>``), and the HGQ2 trainings the default search's
    seconds buy at our epochs per trial (``trainings``; None without them), at most (every
    trial screened out: ``most``) and at least (none screened out: ``least``)."""
    ours, peer = result["runs"][str(seed)]["default"], result["runs"][str(seed)]["hgq2_sweep"]
    epochs = sum(int(re.search(r"_e(\d+)$", name).group(1)) for name in peer["schedules"])
    per_epoch = peer["train_seconds"] / epochs
    recipe = get_space(result.get("space", "mlp_psd")).recipe
    complete = ours["trials"]["complete"]
    ours_epochs = ours["epochs_trained"] / complete if "epochs_trained" in ours else None

    def buys(epochs_per_trial: float) -> float:
        return ours["search_seconds"] / (per_epoch * epochs_per_trial)

    return {"per_trial": ours["search_seconds"] / complete, "per_epoch": per_epoch,
            "epochs_per_trial": ours_epochs,
            "trainings": None if ours_epochs is None else buys(ours_epochs),
            "most": buys(recipe.screen_epochs), "least": buys(recipe.learned_epochs)}


def equal_compute_table(result: dict) -> list[str]:
    """Per seed the HGQ2 sweep ran on: its training seconds beside the default search's (its
    budget), the schedules it trained, both syntheses' seconds, summed over the designs
    (each design's own measurement, so a run continued after an interruption counts them
    all; with parallel jobs the sum is above the wall-clock), and what one training costs
    each (``_trainer_costs``)."""
    head = ["seed", "default search (s)", "HGQ2 training (s)", "HGQ2 schedules trained",
            "default synthesis, summed over designs (s)",
            "HGQ2 synthesis, summed over designs (s)", "default: s per complete trial",
            "default: epochs per complete trial", "HGQ2: s per epoch",
            "HGQ2 trainings of our epochs per trial in the default's seconds (none .. all "
            "screened out)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for seed in _swept_seeds(result):
        runs = result["runs"][str(seed)]
        ours, peer = runs["default"], runs["hgq2_sweep"]
        synth = {method: sum(d["synth_seconds"] for d in result["designs"]
                             if d["seed"] == seed and d["method"] == method)
                 for method in ("default", "hgq2_sweep")}
        costs = _trainer_costs(result, seed)
        lines.append(f"| {seed} | {ours['search_seconds']:.0f} | {peer['train_seconds']:.0f} | "
                     f"{', '.join(peer['schedules'])} | {synth['default']:.0f} | "
                     f"{synth['hgq2_sweep']:.0f} | {costs['per_trial']:.1f} | "
                     f"{_dash(costs['epochs_per_trial'], '{:.0f}')} | "
                     f"{costs['per_epoch']:.2f} | {_dash(costs['trainings'], '{:.1f}')} "
                     f"({costs['least']:.1f} .. {costs['most']:.1f}) |")
    return lines if len(lines) > 2 else []


def trainer_in_loop_text(result: dict) -> list[str]:
    """Issue 29's question, measured before building: HGQ2 as the trainer inside our search
    (the same loop, screening and budget). What it would get is read off the sweep's seconds:
    when the budget buys fewer trainings than the trials the search runs before TPE steers it
    (the starting plans, then random draws), the loop would train the starting plans, which
    are HGQ2's own shapes, and random draws: the sweep under another order, whose ratios then
    answer the question. Seeds whose runs did not record our epochs per trial count at the
    most trainings (every trial screened out)."""
    seeds = _swept_seeds(result)
    if not seeds:
        return []
    costs = [_trainer_costs(result, seed) for seed in seeds]
    trainings = [cost["trainings"] or cost["most"] for cost in costs]
    unrecorded = [seed for seed, cost in zip(seeds, costs, strict=True) if cost["trainings"] is None]
    unsteered = len(STARTING_PLANS) + TPE_STARTUP_TRIALS
    text = (f"HGQ2 as the trainer inside our search, at the same budget (measured before "
            f"building it): the default's seconds buy {_spread(trainings, '{:.1f}')} HGQ2 "
            f"trainings of our epochs per trial (median of seeds {seeds}"
            + (f"; seeds {unrecorded} did not record our epochs per trial and count as if "
               f"every trial were screened out" if unrecorded else "") + "), ")
    if max(trainings) < unsteered:
        ratios = [f"{_measured(t)} {t['name'].split(':')[0]}" for t in result["targets"]
                  if f"/ {SHORT_NAMES['hgq2_sweep']}'s" in t["name"]]
        measured = (f"the default needs {', '.join(ratios)} of its LUTs (median of the "
                    f"held-out seeds, the targets above)" if ratios
                    else "the targets above (no held-out seed measured yet)")
        text += (f"fewer than the {unsteered} trials the search runs before TPE steers it "
                 f"({len(STARTING_PLANS)} starting plans, HGQ2's own shapes, then "
                 f"{TPE_STARTUP_TRIALS} random draws). In our loop HGQ2 would train those "
                 f"plans and draws: the sweep above under another order, so the sweep's "
                 f"ratios are the measurement: {measured}, and `model/learned.py` stays.")
    else:
        text += (f"not fewer than the {unsteered} trials the search runs before TPE steers it: "
                 f"only a run of the loop can answer (`bench_hgq2_search.py`: README, "
                 f"\"HGQ2 as the trainer inside our loop\").")
    return [text]


def _work_minutes(result: dict) -> float:
    """Minutes the methods' searches and syntheses took, over every seed (the teacher aside)."""
    return sum(run["search_seconds"] + run["synth_seconds"]
               for runs in result["runs"].values() for run in runs.values()) / 60


def designs_table(result: dict, accuracy: float) -> list[str]:
    lines = ["| seed | " + " | ".join(_label(result, m) for m in result["methods"]) + " |",
             "|" + "---|" * (len(result["methods"]) + 1)]
    for seed in result["seeds"]:
        cells = []
        for method in result["methods"]:
            best = smallest_at(_by(result, method, seed), accuracy)
            ran = method in result["runs"][str(seed)]
            cells.append("not run yet" if not ran else "none" if best is None else
                         f"{best['lut']:,} LUT, {best['latency_cycles']} cycles, "
                         f"{100 * best['val_accuracy']:.2f} % val, "
                         f"{100 * best['test_accuracy']:.2f} % test")
        lines.append(f"| {seed} | " + " | ".join(cells) + " |")
    return lines


def render(result: dict) -> str:
    tools = ", ".join(f"{k} {v}" for k, v in sorted(result["tools"].items()))
    peer = ", ".join(f"{k} {v}" for k, v in sorted(result["peer_tools"].items())) or "none"
    lines = [
        "# Benchmark: the search against the manual workflow, random sampling and HGQ2",
        "",
        "Written by `make bench` (`benchmarks/bench_workflows.py`, whose docstring describes the "
        "methods; this file is rendered from `RESULTS.json` by `render_results.py`). Every number "
        "is from open-flow synthesis (da4ml RTL, Verilator bit-exact on the whole test set, yosys "
        "`synth_xilinx` for xc7, logic synthesis without place and route); only bit-exact designs "
        "count.",
        "",
        f"- Date: {result['date']}; the invocations took {result['total_minutes']:.0f} min, the "
        f"methods' work {_work_minutes(result):.0f} min (a method finished by an earlier, "
        f"interrupted invocation is read back, not run again)",
        *[f"- {line}" for line in _parts_text(result)],
        f"- Machine: {result['machine']}",
        f"- Tools: {tools}",
        f"- Peer (its own virtual environment): {peer}",
        f"- Budget: {result['budget']}",
        f"- Seeds: {_seeds_text(result)}",
        "- Every design is chosen as a user chooses, on validation accuracy (the smallest design "
        "at or above a level); its test accuracy is reported, never used to choose.",
        f"- Hypervolume of (test accuracy, LUT) above accuracy {result['hv_reference'][0]} and "
        f"under {result['hv_reference'][1]:,.0f} LUT (larger is better; information, not a "
        f"target). Figures: median of seeds [min .. max].",
        "- LUT ratios: a seed where the default has no design at the accuracy is a miss, "
        "ranked above every ratio in the median, whether the other method has one or not.",
        "", "## Targets", "", *targets_table(result),
        "", "## Per method", "", *methods_table(result),
    ]
    equal = equal_compute_table(result)
    if equal:
        lines += ["", "## HGQ2 at equal compute", "",
                  "The sweep trains its schedules in order while its training seconds are "
                  "under the default search's (the teacher and both syntheses left out); the "
                  "last run it starts may end past that.", "", *equal,
                  "", *trainer_in_loop_text(result)]
    for level in result["accuracies"]:
        lines += ["", f"## Smallest design at >= {100 * level:.1f} % validation accuracy, per "
                  f"seed", "",
                  *designs_table(result, level)]
    return "\n".join(lines) + "\n"


def compare_table(compare: dict) -> list[str]:
    head = ["variant", "complete trials", "search (s)", "synthesized (bit-exact)", "hypervolume",
            "smallest at >= 98.0 %", "smallest at >= 98.5 %"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, run in compare["variants"].items():
        designs = run["designs"]
        cells = []
        for level in ("0.98", "0.985"):
            best = run["smallest"][level]
            cells.append("none" if best is None else
                         f"{best['lut']:,} LUT ({100 * best['test_accuracy']:.2f} %)")
        lines.append(f"| {name} | {run['trials']['complete']} | {run['search_seconds']:.0f} | "
                     f"{len(designs)} ({sum(d['bit_exact'] for d in designs)}) | "
                     f"{run['hypervolume']:.1f} | " + " | ".join(cells) + " |")
    return lines


def _lut_span(luts: list[int]) -> str:
    """``luts`` (sorted) as "3 designs, 1,521-1,742"."""
    if not luts:
        return "no design"
    if len(luts) == 1:
        return f"1 design, {luts[0]:,}"
    return f"{len(luts)} designs, {luts[0]:,}-{luts[-1]:,}"


def datasets_table(datasets: dict) -> list[str]:
    head = ["data set", "inputs (signed, decades)", "events (test)", "baseline LR / MLP",
            "teacher", "teacher / better baseline, mean of splits", "best student",
            "front: LUT", "RTL exact", "C-sim exact", "LUT MAPE of the estimate", "targets met"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, run in datasets["datasets"].items():
        designs = run["designs"]
        base = run["baselines"]
        luts = sorted(d["lut"] for d in designs)
        best = max((d["test_accuracy"] for d in designs), default=0.0)
        met = sum(run["checks"].values())
        means = run["splits"]["mean"]
        splits = len(run["splits"]["per_seed"])
        lut_error = "n/a" if run["lut_error"] is None else f"{run['lut_error']['mape']:.1f} %"
        lines.append(
            f"| {name} | {run['n_inputs']} ({'yes' if run['signed_inputs'] else 'no'}, "
            f"{run['decades']:.1f}) | {run['n_events']} ({run['test_events']}) | "
            f"{100 * base['logistic_regression']:.1f} / {100 * base['mlp']:.1f} % | "
            f"{100 * run['teacher_test_accuracy']:.1f} % | "
            f"{100 * means['teacher']:.1f} / "
            f"{100 * max(means['logistic_regression'], means['mlp']):.1f} % ({splits}) | "
            f"{100 * best:.1f} % | "
            f"{_lut_span(luts)} | "
            f"{sum(d['bit_exact'] for d in designs)}/{len(designs)} | "
            f"{sum(d['hls_exact_fraction'] == 1.0 for d in designs)}/{len(designs)} | "
            f"{lut_error} | "
            f"{met}/{len(run['checks'])} |")
    return lines


def calibration_table() -> list[str]:
    """The shipped calibrations' errors on the designs left out of their fit; where groups
    were left out one at a time, also the mean of the groups' MAPE."""
    lines = ["| flow | estimator | quantity | MAPE left out | MAPE per group (mean) | median | "
             "worst | exact | designs (left out) | evaluation |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for path in sorted(CALIBRATIONS.glob("*.json")):
        calibration = json.loads(path.read_text())
        data = calibration["data"]
        for name, entry in calibration["estimators"].items():
            for quantity, label in QUANTITY_NAMES.items():
                error = entry["held_out_error"].get(quantity)
                if error:
                    median = error.get("median_ape")
                    per_group = (f"{error['group_mape']:.1f} % ({error['groups']} groups)"
                                 if "group_mape" in error else "-")
                    lines.append(f"| {calibration['flow']} | {name} | {label} | "
                                 f"{error['mape']:.1f} % | {per_group} | "
                                 f"{'-' if median is None else f'{median:.1f} %'} | "
                                 f"{error['worst_ape']:.0f} % | "
                                 f"{100 * error['exact_fraction']:.0f} % | "
                                 f"{data['n_designs']} ({data['n_held_out']}) | "
                                 f"{data.get('evaluation', 'held-out fifth')} |")
    return lines


def trace_transfer_table(transfer: dict) -> list[str]:
    """The shipped trace estimator's errors on designs other runs synthesized, per group."""
    lines = [f"Measured {transfer['date']} ({transfer['machine']}), calibration of "
             f"{transfer['calibration']['created'][:10]}:", "",
             "| designs | n | LUT MAPE | worst | FF MAPE | worst |", "|---|---|---|---|---|---|"]
    for label, group in transfer["groups"].items():
        lut, ff = group["errors"]["lut"], group["errors"]["ff"]
        lines.append(f"| {label} | {len(group['designs'])} | {lut['mape']:.1f} % | "
                     f"{lut['worst_ape']:.0f} % | {ff['mape']:.1f} % | {ff['worst_ape']:.0f} % |")
    return lines


def _errors(table: dict) -> list[str]:
    return [f"{table[q]['mape']:.1f} ({table[q]['median_ape']:.1f}, {table[q]['worst_ape']:,.0f})"
            if q in table else "-" for q in QUANTITY_NAMES]


def vendor_table(vendor: dict) -> list[str]:
    """``bench_vendor_hls.py``: leave-one-repository-out error per quantity and subset."""
    lines = ["| designs left out by repository | " + " | ".join(
        f"{label} MAPE % (median, worst)" for label in QUANTITY_NAMES.values()) + " |",
        "|" + "---|" * (len(QUANTITY_NAMES) + 1)]
    goals = [f"{vendor['targets'][q]['goal_mape']:g} ({'met' if vendor['targets'][q]['met'] else 'not met'})"
             for q in QUANTITY_NAMES]
    rows = {f"all {vendor['n_designs']} designs": vendor["overall"],
            **{f"part family {name}": table for name, table in vendor["by_part_family"].items()},
            **vendor["by_data_set"]}
    for name, table in rows.items():
        lines.append(f"| {name} | " + " | ".join(_errors(table)) + " |")
    lines.append("| mean of the repositories' MAPE | " + " | ".join(
        f"{vendor['mean_over_repositories'][q]:.1f}" for q in QUANTITY_NAMES) + " |")
    lines.append("| target (all designs) | " + " | ".join(goals) + " |")
    lines += ["", "The sweep's own scatter: the best log-linear law in its columns (inputs, "
                  "outputs, weight bits, reuse factor), fitted in-sample, leaves MAPE " +
              "; ".join(f"{strategy} strategy " + ", ".join(
                  f"{QUANTITY_NAMES[q]} {value:.1f} %" for q, value in errors.items())
                  for strategy, errors in vendor["sweep_floor"].items()) +
              " (a quantity with zeros is left out): how far these reports scatter around a "
              "smooth law of the columns they record."]
    rule4ml = vendor["rule4ml"]
    lines += ["", f"For comparison, rule4ml ({rule4ml['url']}) reports sMAPE "
                  f"{rule4ml['smape_percent'][0]}-{rule4ml['smape_percent'][1]} % and R^2 "
                  f"{rule4ml['r2'][0]}-{rule4ml['r2'][1]} ({rule4ml['protocol']})."]
    return lines


def _mape_smape(table: dict) -> list[str]:
    return [f"{table[q]['mape']:.1f} / {table[q]['smape']:.1f}" if q in table else "-"
            for q in QUANTITY_NAMES]


def _errors_by_family(part: dict) -> list[str]:
    lines = [f"| {part['evaluation']} | " + " | ".join(
        f"{label} MAPE / SMAPE %" for label in QUANTITY_NAMES.values()) + " |",
        "|" + "---|" * (len(QUANTITY_NAMES) + 1)]
    for subset, table in part["errors"].items():
        name = f"all {part['n_designs']} designs" if subset == "all" else f"part family {subset}"
        lines.append(f"| {name} | " + " | ".join(_mape_smape(table)) + " |")
    return lines


def _per_layer_rows(latency: dict) -> list[str]:
    """The Latency-strategy errors on the designs whose table records each layer's types."""
    rows = []
    for subset, table in latency.get("per_layer_facts", {}).items():
        n = next(iter(table.values()))["n"]
        where = "" if subset == "all" else f", part family {subset}"
        rows.append(f"| the {n} designs whose types are recorded per layer{where} | "
                    + " | ".join(_mape_smape(table)) + " |")
    return rows


def _per_layer_targets(latency: dict) -> list[str]:
    """Which Latency-strategy targets the designs recorded per layer are within."""
    table = latency.get("per_layer_facts", {}).get("all")
    if not table:
        return []
    n = next(iter(table.values()))["n"]
    return [f"The {n} designs whose types are recorded per layer, against the same targets"
            f"{_within_targets(table, latency['targets'])}.", ""]


def _met(flag: bool) -> str:
    return "met" if flag else "not met"


def _latency_limits(latency: dict) -> list[str]:
    """Where the Latency-strategy error comes from: the designs with complete facts, and the
    floor that designs the estimator cannot tell apart set."""
    same, full = latency["same_features"], latency.get("complete_facts")
    if full:
        n_full = next(iter(full.values()))["n"]
        facts = (f"On the {n_full} public designs whose facts are all read from their project "
                 f"folder (nothing assumed; a re-synthesis of the same firmware, which the facts "
                 f"table notes, reads the folder of its other version), MAPE / SMAPE %: "
                 + ", ".join(f"{QUANTITY_NAMES[q]} {full[q]['mape']:.1f} / "
                             f"{full[q]['smape']:.1f}" for q in QUANTITY_NAMES if q in full)
                 + _within_targets(full, latency["targets"]) + ".")
    else:
        facts = (f"Every one of the {latency['n_designs']} public designs' facts is read from "
                 f"its project folder (nothing assumed).")
    return [facts + " Designs of different repositories "
            f"that the estimator cannot tell apart (the same features): "
            f"{len(same['groups'])} group(s); the least MAPE any estimate of these features "
            f"can have over all {latency['n_designs']} designs because of them: " + ", ".join(
                f"{QUANTITY_NAMES[q]} {v:.1f} %" for q, v in same["mape_floor"].items()) + "."
            + _scaled_sentence(latency) + _feature_floor_sentence(latency),
            *_extrapolation_sentence(latency), *_layer_latency_sentence(latency)]


#: What each kind of extrapolation (the first word of ``extrapolations``' phrases) means.
EXTRAPOLATION_KINDS = {"tool": "a tool version absent", "clock": "a logic time a cycle outside "
                       "the family's span", "layer": "a layer beyond the calibration's sizes, "
                       "reuse factors or strategies", "inputs": "HGQ inputs where no "
                       "calibration layer has them", "part": "a part family absent"}


def _layer_latency_sentence(latency: dict) -> list[str]:
    """Each layer's own cycles against its function's report, as a paragraph of its own,
    where the results have it."""
    check = latency.get("layer_latency")
    if not check:
        return []
    largest = "; ".join(f"{x['design']} layer {x['layer']} ({x['n_in']} x {x['n_out']}): "
                        f"{x['estimate']:.1f} against {x['report']:g}" for x in check["largest"])
    deep = (f", on the {check['n_deep']} that take 2 cycles or more {check['mape_deep']:.1f} %"
            if check["n_deep"] else "")
    return ["", f"Latency per layer: each dense layer's own cycles as the estimate counts them "
                f"(`VendorEstimator.layer_cycles`: its activation, the registers between layers "
                f"and the interface apart), each repository's by the fit without it, against "
                f"the report HLS wrote for the layer's function where the project kept one: "
                f"{check['n_layers']} layers of {check['n_designs']} designs of "
                f"{check['n_repositories']} repositories, {check['mean_abs_cycles']:.2f} cycles "
                f"off on average, {check['exact']} exact after rounding, MAPE (of the report, at "
                f"least 1) {check['mape']:.1f} %{deep}. The layers with the most products: "
                f"{largest}."]


def _feature_floor_sentence(latency: dict) -> str:
    """The least in-sample MAPE of the estimator's features, where the results have it."""
    floor = latency.get("feature_floor")
    if not floor:
        return ""
    return (f" The least MAPE that any non-negative coefficients of the estimator's features "
            f"give on the {latency['n_designs']} designs, fitted on those designs themselves "
            f"(in-sample, an oracle's figure; cycles unrounded): " + ", ".join(
                f"{QUANTITY_NAMES[q]} {v:.1f} %" for q, v in floor.items())
            + ": a target below it needs features the estimator does not have, not another "
              "fit.")


def _extrapolation_sentence(latency: dict) -> list[str]:
    """The error where ``nas estimate`` says the left-out design is inside its calibration
    and where it says it extrapolates, as a paragraph of its own, where the results have it."""
    split = latency.get("extrapolation")
    if not split:
        return []
    inside, flagged = split["inside"], split["flagged"]

    def errors(part: dict) -> str:
        return ", ".join(f"{QUANTITY_NAMES[q]} {part['errors'][q]['mape']:.1f}"
                         for q in QUANTITY_NAMES if q in part["errors"])

    reasons = ", ".join(f"{n} for {EXTRAPOLATION_KINDS.get(kind, kind)}" for kind, n in
                        sorted(flagged["reasons"].items(), key=lambda item: -item[1]))
    return ["", f"By what `nas estimate` says of each public design under the calibration fitted "
            f"without its repository (its `extrapolated` field): the {inside['n_designs']} "
            f"designs of {inside['n_repositories']} repositories it does not flag, MAPE %: "
            f"{errors(inside)}{_within_targets(inside['errors'], latency['targets'])}; the "
            f"{flagged['n_designs']} of {flagged['n_repositories']} repositories it flags "
            f"({reasons}; a design may have several), MAPE %: {errors(flagged)}."
            + _one_report_sentence(latency) + _register_form_sentence(latency)]


def _register_form_sentence(latency: dict) -> str:
    """The 7-series step in a DSP product's registers against the line it replaced, chosen
    for each repository by the others, where the results have it
    (``bench_vendor_hls.register_form_choice``)."""
    found = latency.get("register_form_choice")
    if not found:
        return ""
    forms, picked = found["forms"], found["picked"]
    line = sorted(name for name, form in picked.items() if form == "line")
    verdict = ("the other repositories choose the form each is scored with"
               if found["nested"] <= min(forms.values()) else
               "the choice is not confirmed without the repositories whose per-layer reports "
               "show the step (it was read off them)")
    return (f" The form of a DSP product's registers, the 7-series step against the line in "
            f"the clock it replaced, each repository estimated by the form the others choose "
            f"(by their own leave-one-repository-out FF), FF MAPE %: step {forms['step']:.1f}, "
            f"line {forms['line']:.1f}, chosen so {found['nested']:.1f} (the step for "
            f"{len(picked) - len(line)} of {len(picked)} repositories"
            + (f"; the line for {', '.join(line)}" if line else "") + f"): {verdict}.")


def _one_report_sentence(latency: dict) -> str:
    """What one of a repository's reports in the fit does for its other designs, where the
    results have it (``bench_vendor_hls.one_report_in``)."""
    found = latency.get("one_report_in")
    if not found:
        return ""
    return (f" One report of the repository in the fit (as `nas calibrate --reports` with one "
            f"of a user's projects; each design of the {found['n_repositories']} repositories "
            f"with two or more in turn, {found['n_pairs']} pairs of a report in the fit and a "
            f"design estimated), MAPE % on its other designs, with it / left out whole: "
            + ", ".join(f"{QUANTITY_NAMES[q]} {found['one_report_in'][q]:.1f} / {v:.1f}"
                        for q, v in found["left_out"].items()) + ".")


def _table_facts_sentence(vendor: dict) -> str:
    """The same evaluation with the facts table's rows where the folders were read."""
    table = vendor.get("table_facts")
    if not table:
        return ""
    errors, pairs = table["errors"], table["constant_where_reports_differ_2x"]
    return (" With the facts table's rows in place of the folders read from the repositories "
            "(the table records no weights, nor which layer has which of a QKeras or HGQ "
            "model's types, nor the inputs HGQ holds at zero), MAPE %: " + ", ".join(
                f"{QUANTITY_NAMES[q]} {errors[q]['mape']:.1f} (worst "
                f"{errors[q]['worst_ape']:.0f})" for q in QUANTITY_NAMES if q in errors)
            + "; pairs with equal estimates whose reports differ more than 2x: " + ", ".join(
                f"{QUANTITY_NAMES[q]} {n}" for q, n in pairs.items()) + ".")


def _scaled_sentence(latency: dict) -> str:
    """The error left with one scale per repository (an oracle), where the results have it."""
    scaled = latency.get("scaled_per_repository")
    if not scaled:
        return ""
    n = {"all": latency["n_designs"]}
    if "per_layer_facts" in latency:
        n["per_layer_facts"] = next(iter(latency["per_layer_facts"]["all"].values()))["n"]
    return (" With each repository's estimates multiplied by the one factor that fits its own "
            "reports best (an oracle, not an estimator: it reads the reports it is scored on), "
            "the MAPE left (the spread within a repository) is: " + "; ".join(
                f"on the {n[subset]} designs{' recorded per layer' if subset != 'all' else ''} "
                + ", ".join(f"{QUANTITY_NAMES[q]} {v:.1f} %" for q, v in table.items())
                for subset, table in scaled.items())
            + ": the rest of the error is a scale per repository." + _scale_facts_sentence(latency))


def _and(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return " and ".join(filter(None, (", ".join(items[:-1]), items[-1])))


def _scale_facts_sentence(latency: dict) -> str:
    """How far the facts a project records give a left-out repository's scale, where the
    results have it (``bench_vendor_hls.scale_from_facts``)."""
    found = latency.get("scale_from_facts")
    if not found:
        return ""
    facts = next(iter(found.values()))["one_fact"]
    least = {q: min(min(t["one_fact"].values()), t["best_pair"]["mape"])
             for q, t in found.items()}
    none = [QUANTITY_NAMES[q] for q, t in found.items() if least[q] >= t["left_out"]]
    some = [f"{QUANTITY_NAMES[q]} by {t['left_out'] - least[q]:.1f} points"
            for q, t in found.items() if least[q] < t["left_out"]]
    verdict = "; ".join(part for part in (
        f"no recorded fact gives the scale of {_and(none)}" if none else "",
        f"the best lowers {_and(some)}" if some else "") if part)
    return (f" Each left-out repository's scale predicted by the other repositories through "
            f"what its projects record ({len(facts)} facts: {', '.join(facts)}; the log ratio "
            f"of estimate to report as a line in one fact, or in the pair that does best, "
            f"picked on these designs) leaves these MAPEs (the best fact / the best pair / "
            f"no scale): " + ", ".join(
                f"{QUANTITY_NAMES[q]} {min(t['one_fact'].values()):.1f} / "
                f"{t['best_pair']['mape']:.1f} / {t['left_out']:.1f} %" for q, t in found.items())
            + f": {verdict}.")


def _inside_target_row(latency: dict) -> list[str]:
    """The targets restated on the designs ``nas estimate`` does not flag, as a table row,
    where the results have them (MAPE to two decimals: a figure at the target shows which
    side it is on)."""
    targets = latency.get("targets_inside_calibration")
    if not targets:
        return []
    inside = latency["extrapolation"]["inside"]
    return [f"| restated target: the {inside['n_designs']} designs of "
            f"{inside['n_repositories']} repositories `nas estimate` does not flag, MAPE % | "
            + " | ".join(f"{t['measured_mape']:.2f} <= {t['goal_mape']:g} ({_met(t['met'])})"
                         for t in targets.values()) + " |"]


def _within_targets(errors: dict, targets: dict) -> str:
    """Which quantities of ``errors`` are within the Latency-strategy MAPE targets."""
    within = [q for q in targets if q in errors and errors[q]["mape"] <= targets[q]["goal_mape"]]
    beyond = [q for q in targets if q in errors and q not in within]
    return "".join(f"; {label} the targets: {', '.join(QUANTITY_NAMES[q] for q in chosen)}"
                   for label, chosen in (("within", within), ("beyond", beyond)) if chosen)


def _binding_table(binding: dict) -> list[str]:
    """The binding rule's input-width threshold against the public reports."""
    families = [f for f in next(iter(binding["thresholds"].values())) if f != "all"]
    lines = [f"Binding rule: DSP slices the rule alone counts (no fitted coefficient) on the "
             f"{binding['n_designs']} public reports, by the input width from which a product "
             f"goes to a DSP slice:", "",
             "| input bits | " + " | ".join(f"{f} DSP MAPE / SMAPE %"
                                           for f in ["all", *families]) + " |",
             "|" + "---|" * (len(families) + 2)]
    for bits, table in binding["thresholds"].items():
        lines.append(f"| {bits} | " + " | ".join(
            f"{table[f]['mape']:.1f} / {table[f]['smape']:.1f}" for f in ["all", *families]) +
            " |")
    return lines


def _rule_choice_table(choice: dict, caption: str, row_label: str, shipped: str) -> list[str]:
    """A rule parameter's values against the public reports (``bench_vendor_hls.rule_choice``:
    each left out by repository, the criterion that picks one, and the nested check)."""
    chosen = choice["nested"]["chosen"]
    counts = ", ".join(f"{_choice_name(value)} for {sum(1 for x in chosen.values() if x == value)}"
                       for value in sorted(set(chosen.values())))
    lines = [f"{caption}: the public reports left out by repository (MAPE %), and the criterion "
             f"that picks it (the mean of the four quantities' MAPE averaged per repository):",
             "", f"| {row_label} | " + " | ".join(f"{n} MAPE %" for n in QUANTITY_NAMES.values())
             + " | criterion |", "|" + "---|" * (len(QUANTITY_NAMES) + 2)]
    for value, row in choice["variants"].items():
        lines.append(f"| {_choice_name(value)} | " + " | ".join(
            f"{row['errors'][q]['mape']:.1f}" for q in QUANTITY_NAMES) +
            f" | {row['criterion']:.1f} |")
    nested = choice["nested"]["errors"]
    lines.append("| nested: picked without the scored repository | " + " | ".join(
        f"{nested[q]['mape']:.1f}" for q in QUANTITY_NAMES) + " | - |")
    return [*lines, "", f"On all {len(chosen)} repositories the criterion picks "
                        f"{_choice_name(choice['chosen_on_all'])}, {shipped}. Nested (the honest "
                        f"figure for a choice made on these reports): for each repository the "
                        f"value the criterion picks on the other {len(chosen) - 1}, each left "
                        f"out in turn ({counts} repositories), scored on it."]


def _choice_name(value: int | str) -> str:
    """A rule value as a table shows it: a width in bits (0: none), else the value."""
    if isinstance(value, str) and not value.isdigit():
        return value
    return f"{value} bits" if int(value) else "none"


def vendor_strategy_tables(vendor: dict) -> list[str]:
    """Issue 31's two evaluations: the Latency strategy left out by repository (targets in
    MAPE) and the Resource strategy five-fold in the sweep (targets: the wa-hls4ml GNN's
    SMAPE, shown beside the published surrogates')."""
    latency, resource = vendor["latency_strategy"], vendor["resource_strategy"]
    lines = [*_errors_by_family(latency), *_per_layer_rows(latency),
             "| target (MAPE) | " + " | ".join(
                 f"{t['goal_mape']:g} ({_met(t['met'])})"
                 for t in latency["targets"].values()) + " |",
             *_inside_target_row(latency),
             "", "Pairs of public designs whose reports differ by more than 2x but whose "
                 "estimates are equal (as given, not rounded): " + ", ".join(
                     f"{QUANTITY_NAMES[q]} {n}" for q, n in
                     latency["constant_where_reports_differ_2x"].items()) +
             f" ({_met(latency['no_constant_quantity'])}: no quantity constant where the "
             f"reports differ).{_table_facts_sentence(vendor)}", "",
             *_per_layer_targets(latency), *_latency_limits(latency), "",
             *_binding_table(vendor["binding"]), "", *_rule_choice_table(
                 vendor["narrow_inputs"], "Narrow inputs, by the widest HGQ input whose products "
                 "are tables (`MAX_TABLE_INPUT_BITS`; none: the rule off)", "inputs of at most",
                 "the width shipped"), "", *_rule_choice_table(
                 vendor["odd_part_tools"], "Constants of a narrow odd part (fewer than "
                 "`MIN_MULTIPLIER_ODD_BITS`), by the tools that fold them into shifts and adds "
                 "(`ODD_PART_TOOLS`; the others keep them as multipliers)", "folded by",
                 "the tools shipped"),
             "", *_errors_by_family(resource)]
    for name, smape in resource["wa_hls4ml_smape"].items():
        lines.append(f"| wa-hls4ml {name} (published, own test split), SMAPE % | " + " | ".join(
            f"{smape[q]:g}" for q in QUANTITY_NAMES) + " |")
    lines.append("| target: SMAPE <= the GNN's | " + " | ".join(
        _met(t["met"]) for t in resource["targets"].values()) + " |")
    speed = vendor["estimate_speed"]
    lines += ["", f"`nas estimate --project DIR --json` on a folder of {speed['projects']} "
                  f"projects (copies of the project folders in ../shared; {speed['estimated']} "
                  f"estimated): {speed['seconds']:.1f} s, a new process included (target "
                  f"{speed['goal_seconds']:g} s: {_met(speed['met'])})."]
    return [*lines, "", *interval_table(vendor["interval"])]


def interval_table(errors: dict) -> list[str]:
    """The initiation interval ``nas estimate`` prints (``VendorEstimator.interval``) against
    each report's, and how many of its misses report a top function that is not pipelined."""
    unpipelined = sum(part["missed_unpipelined"] for part in errors.values())
    missed = sum(part["n"] - part["exact"] for part in errors.values())
    return ["Initiation interval (`nas estimate`'s `interval`, the shipped calibration: in one "
            "pipeline the most passes of any layer over its shared multipliers; in a DATAFLOW "
            "region, which hls4ml makes of a network with a Resource-strategy layer, the "
            "slowest layer, one without shared multipliers taking its latency + 1) against "
            "each report's:",
            "", "| designs | n | exact | MAPE % |", "|---|---|---|---|",
            *(f"| {name} | {part['n']} | {part['exact']} | {part['mape']:.1f} |"
              for name, part in errors.items()),
            "", f"Of the {missed} designs it misses, {unpipelined} report an interval of their "
                f"latency + 1: a top function that is not pipelined, where hls4ml's automatic "
                f"style pipelines a network without a Resource-strategy layer."]


def _dash(value, fmt: str = "{}") -> str:
    return "-" if value is None else fmt.format(value)


def faults_table(faults: dict) -> list[str]:
    lines = ["| fault | what happened | completed trials lost | orphan processes | "
             "seconds to stop or recover |", "|---|---|---|---|---|"]
    lines += [f"| {row['fault']} | {row['outcome']} | {_dash(row['trials_lost'])} | "
              f"{row['orphans']} | {_dash(row['recover_s'], '{:.1f}')} |"
              for row in faults["faults"]]
    lost = sum(row["trials_lost"] or 0 for row in faults["faults"])
    orphans = sum(row["orphans"] for row in faults["faults"])
    lines += ["", f"In all: {lost} completed trials lost (target 0), {orphans} orphan processes "
                  f"(target 0)."]
    return lines


def _design_text(design: dict | None) -> str:
    if design is None:
        return "none"
    return (f"{design['lut']:,} LUT, {design['latency_cycles']} cycles "
            f"({100 * design['test_accuracy']:.1f} %, trial {design['trial']})")


def _unsynthesized_text(unsynthesized: dict[str, str]) -> str:
    """`` (trial 2: timeout)`` for front designs without synthesis results."""
    if not unsynthesized:
        return ""
    return " (" + ", ".join(f"trial {n}: {status}" for n, status in unsynthesized.items()) + \
        " in synthesis)"


def _fewer(row: dict, key: str) -> str:
    """The family with less ``key`` at a row's accuracy; the only one with a design wins."""
    cnn, mlp = row["cnn"], row["mlp"]
    if cnn is None or mlp is None:
        return "cnn" if cnn else "mlp" if mlp else "neither"
    return "tie" if cnn[key] == mlp[key] else "cnn" if cnn[key] < mlp[key] else "mlp"


def race_table(cnn: dict) -> list[str]:
    """The default CNN search against HGQ2 at equal compute, per space and level (none when
    the race was not run)."""
    if not cnn.get("race"):
        return []
    lines = ["", "| space | validation accuracy at least | default | HGQ2 at equal compute | "
                 "default / HGQ2 | goal |", "|---|---|---|---|---|---|"]
    for row in cnn["race"]:
        level = row["level"] if row["level"].endswith("%") else \
            f"{row['level']} ({100 * row['val_accuracy']:.1f} %)"
        goal = "-" if row["goal"] is None else \
            f"<= {row['goal']:g}: {'met' if row['met'] else '**missed**'}"
        lines.append(f"| {row['space']} | {level} | {_design_text(row['default'])} | "
                     f"{_design_text(row['hgq2'])} | {shown_ratio(row)} | {goal} |")
    runs = {run["space"]: run for run in (cnn["digits"], cnn["psd"])}
    lines += ["", "HGQ2's training at equal compute: " + "; ".join(
        f"{space}: {len(peer['schedules'])} schedules in {peer['train_seconds'] / 60:.1f} min "
        f"(the search: {runs[space]['search_minutes']:.1f} min), {len(peer['designs'])} "
        f"checkpoints synthesized, {sum(d['bit_exact'] for d in peer['designs'])} bit-exact"
        for space, peer in cnn["hgq2"].items()) + "."]
    return lines


def _ratio_text(ratio: float) -> str:
    return "no design of ours" if ratio == MISSED else f"{ratio:.2f}"


def _held_out_races(held_out: list[dict]) -> dict[int, list[dict]]:
    """Seed -> the race rows of each held-out CNN run that raced."""
    return {cnn["seed"]: cnn["race"] for cnn in held_out if cnn.get("race")}


#: The day ``cnn_psd`` began to learn its bit widths by default (3821c86, 2026-12-06 06:50
#: UTC); runs record their spaces' precision since 5abd6e6 (08:09 the same day).
LEARNED_PSD_SINCE = "2026-12-06"


def _precisions(cnn: dict) -> dict[str, str]:
    """The default students' precision per space: as the run recorded it, else as the code of
    its day had it (a run dated before ``LEARNED_PSD_SINCE`` searched both spaces; one from
    that day without a record ran 3821c86's code, where ``cnn_psd`` learned)."""
    unrecorded = {"cnn_digits": "searched",
                  "cnn_psd": "learned" if cnn["date"] >= LEARNED_PSD_SINCE else "searched"}
    return {run["space"]: run.get("precision", unrecorded[run["space"]])
            for run in (cnn["digits"], cnn["psd"])}


def _precisions_text(cnn: dict) -> str:
    return "; the default's precision: " + ", ".join(
        f"{space} {precision}" for space, precision in _precisions(cnn).items())


def held_out_race_table(held_out: list[dict]) -> list[str]:
    """The race on the held-out seeds: per space and level, each seed's ratio and their
    median against the goal (none when no held-out seed has raced)."""
    races = _held_out_races(held_out)
    if not races:
        return []
    summary = race_medians(races)
    seeds = sorted(races)
    lines = ["", f"The race on held-out seeds {seeds} (the CNN spaces were set up on seed "
                 f"{', '.join(map(str, TUNING_SEEDS))}; "
                 f"the goal asks for the median of three held-out seeds"
                 f"{'' if len(seeds) >= 3 else f': {len(seeds)} measured so far'}):", "",
             "| space | validation accuracy at least | " +
             " | ".join(f"seed {seed}" for seed in seeds) + " | median | goal |",
             "|---|---|" + "---|" * len(seeds) + "---|---|"]
    for row in summary:
        goal = "-" if row["goal"] is None else \
            f"<= {row['goal']:g}: {'met' if row['met'] else '**missed**'}"
        lines.append(f"| {row['space']} | {row['level']} | " +
                     " | ".join(_ratio_text(row["ratios"][s]) if s in row["ratios"] else "-"
                                for s in seeds) +
                     f" | {_ratio_text(row['median'])} | {goal} |")
    for cnn in held_out:
        lines += ["", f"Seed {cnn['seed']}, measured {cnn['date']} ({cnn['machine']})"
                      f"{_precisions_text(cnn)}:", *race_table(cnn)]
    return lines


def cnn_tables(cnn: dict) -> list[str]:
    """The CNN spaces' fronts, cnn_psd against the MLP default at equal accuracy, the trace
    estimator on the conv designs, and the targets."""
    lines = ["| space | teacher | trials | front: LUT | best test accuracy | RTL exact | "
             "C-sim exact | search minutes |", "|---|---|---|---|---|---|---|---|"]
    for run in (cnn["digits"], cnn["psd"]):
        designs = run["designs"]
        best = max((d["test_accuracy"] for d in designs), default=0.0)
        lines.append(
            f"| {run['space']} ({run['part']}) | {100 * run['teacher_test_accuracy']:.1f} % | "
            f"{run['trials']['complete']} | {_lut_span(sorted(d['lut'] for d in designs))} | "
            f"{100 * best:.1f} % | {sum(d['bit_exact'] for d in designs)}/{len(designs)}"
            f"{_unsynthesized_text(run['unsynthesized'])} | "
            f"{sum(d['hls_exact_fraction'] == 1.0 for d in designs)}/{len(designs)} | "
            f"{run['search_minutes']:.0f} |")
    lines += ["", "| test accuracy at least | cnn_psd (Conv1D) | mlp_psd default (MLP) | "
                  "fewer LUTs | fewer cycles |", "|---|---|---|---|---|"]
    for row in cnn["psd_vs_mlp"]:
        lines.append(f"| {100 * row['accuracy']:.1f} % | {_design_text(row['cnn'])} | "
                     f"{_design_text(row['mlp'])} | {_fewer(row, 'lut')} | "
                     f"{_fewer(row, 'latency_cycles')} |")
    lines += race_table(cnn)
    error = cnn["conv_error"]
    lines += ["", "Trace estimator on the " + str(error.get("lut", {}).get("n", 0)) +
              " bit-exact conv designs (no conv design in its calibration): " +
              ", ".join(f"{QUANTITY_NAMES[q]} MAPE {e['mape']:.1f} % (worst {e['worst_ape']:.0f} %"
                        f", exact {100 * e['exact_fraction']:.0f} %)"
                        for q, e in error.items() if q in QUANTITY_NAMES) + ".",
              "", "Targets: " + ", ".join(f"{name} {'met' if met else '**missed**'}"
                                           for name, met in cnn["checks"].items()) +
              f" (test accuracy >= {100 * cnn['targets']['digits_accuracy']:.0f} % within the "
              f"part, LUT MAPE <= {cnn['targets']['lut_mape']:g} %"
              f"{'; default / HGQ2 within the goal at every scored level' if cnn.get('race') else ''}"
              f"). MLP designs: "
              f"{cnn['mlp_source']}."]
    return lines


def peer_reproduction_table(reproduction: dict) -> list[str]:
    """Per training seed, the peer's smallest design at the level beside the independent run's."""
    score, level = reproduction["score"], _percent(reproduction["level"], 1)
    lines = [f"| training seed | smallest at >= {level} test: LUT (test %) | independent run: LUT "
             f"| chosen on >= {level} validation: LUT (validation %, test %) |",
             "|---|---|---|---|"]
    for seed, row in score["seeds"].items():
        by_test, by_val = row["by_test"], row["by_validation"]
        lines.append(
            f"| {seed} | {_design_at(by_test, 'test_accuracy')} | {row['independent_lut']:,} | "
            + (f"{by_val['lut']:,} ({_percent(by_val['val_accuracy'])}, "
               f"{_percent(by_val['test_accuracy'])})" if by_val else "none") + " |")
    lines.append(f"| median | {_lut_or_none(score['median_lut'])} | "
                 f"{score['independent_median_lut']:,.0f} | |")
    lines += ["", f"Goal: median at most {score['goal_lut']:,} LUT: "
                  f"{'met' if score['met'] else 'not met'}."]
    return lines


def _design_at(design: dict | None, accuracy: str) -> str:
    return f"{design['lut']:,} ({_percent(design[accuracy])})" if design else "none"


def _percent(fraction: float, digits: int = 2) -> str:
    return f"{fraction * 100:.{digits}f} %"


def _lut_or_none(lut: float) -> str:
    return f"{lut:,.0f}" if lut != float("inf") else "none"


def not_yet(result: dict, datasets: dict | None, cnn: dict | None = None,
            held_out: list[dict] = (), second: dict | None = None,
            reproduction: dict | None = None) -> list[str]:
    """What the measured results miss: every target not met, by how much (``held_out``: the
    CNN bench's runs on held-out seeds; ``second``: the bench on mlp_gn; ``reproduction``: the
    peer beside the independent runs of its recipe)."""
    lines = [f"* `make bench`{where} target missed: {t['name']}: measured {_measured(t)}, "
             f"goal {t['comparison']} {t['goal']:g} ({t['detail']})."
             for where, bench in (("", result), (" on mlp_gn", second or {"targets": []}))
             for t in bench["targets"] if not t["met"]]
    for name, run in (datasets or {}).get("datasets", {}).items():
        missed = [check for check, met in run["checks"].items() if not met]
        if missed:
            lines.append(f"* `{name}` (`bench_datasets.py`) misses: {', '.join(missed)}.")
    missed = [check for check, met in (cnn or {}).get("checks", {}).items() if not met]
    if missed:
        lines.append(f"* CNN students (`bench_cnn.py`) miss: {', '.join(missed)}.")
    races = _held_out_races(held_out)
    for row in race_medians(races) if races else []:
        if row["met"] is False:
            lines.append(f"* CNN race (`bench_cnn.py`, held-out seeds {sorted(races)}): "
                         f"{row['space']} at {row['level']}: default / HGQ2 "
                         f"{_ratio_text(row['median'])} (median), goal <= {row['goal']:g}.")
    if reproduction and not reproduction["score"]["met"]:
        score = reproduction["score"]
        lines.append(f"* HGQ2 peer reproduction (`bench_peer_reproduction.py`): smallest at >= "
                     f"{_percent(reproduction['level'], 1)} test, median of training seeds "
                     f"{_lut_or_none(score['median_lut'])} LUT, goal <= {score['goal_lut']:,}.")
    return lines or ["* Every measured target is met."]


def vendor_block(vendor: dict) -> str:
    return "\n".join([f"Measured {vendor['date']} ({vendor['machine']}) by "
                      f"`benchmarks/bench_vendor_hls.py`, {vendor['evaluation']}, "
                      f"{vendor['n_designs']} designs:", "", *vendor_table(vendor), "",
                      "By strategy (issue 31): MAPE / SMAPE per quantity and part family.", "",
                      *vendor_strategy_tables(vendor)])


def seed_spread(result: dict) -> str:
    """How far the default's hypervolume moves between the seeds of ``make bench``: the yardstick
    for the one-seed differences of ``compare_search``."""
    volumes = [hypervolume(_by(result, "default", seed)) for seed in result["seeds"]]
    return (f"One seed only: in `make bench` the default's own hypervolume spans "
            f"{min(volumes):.1f} .. {max(volumes):.1f} over seeds {', '.join(map(str, result['seeds']))} "
            f"({100 * (max(volumes) - min(volumes)) / median(volumes):.0f} % of its median), so a "
            f"variant that differs from the default by less than that has not been shown "
            f"better or worse.")


def _seeds_text(result: dict) -> str:
    held_out, tuning = _seed_groups(result)
    return (f"{', '.join(map(str, tuning)) or 'none'} tuned the defaults (the starting plans, "
            f"the epochs), so the targets are scored on the held-out seeds "
            f"({', '.join(map(str, held_out)) or 'none measured yet'}) and the tuning seeds' "
            f"scores are shown beside them")


def _parts_text(result: dict) -> list[str]:
    """Each run merged into ``result`` (its date, seeds, machine where recorded and what it
    read back)."""
    parts = result.get("parts", [result])
    lines = [f"Run of {part['date']}, seeds {', '.join(map(str, part['seeds']))}, "
             f"{part['total_minutes']:.0f} min" +
             (f", on {part['machine']}" if "machine" in part else "")
             for part in parts] if "parts" in result else []
    return lines + [_read_back(part) for part in parts if "read_back" in part]


def _read_back(result: dict) -> str:
    return (f"Read back from the run of {result['read_back']['date']} (their code unchanged "
            f"since): {', '.join(result['read_back']['methods'])}")


def _loop_pick(design: dict | None) -> str:
    return "none" if design is None else (f"{design['lut']:,} ({100 * design['val_accuracy']:.2f}"
                                          f" / {100 * design['test_accuracy']:.2f} %)")


def _loop_ratio(ratio: float) -> str:
    return "only the default reaches it" if ratio == 0.0 else _ratio_text(ratio)


def hgq2_loop_tables(loop: dict) -> list[str]:
    """Issue 29 item 6, measured (``bench_hgq2_search.py``): per seed, what the loop ran in
    its seconds, and per level the smallest bit-exact design of the default search, of HGQ2 in
    our loop and of the HGQ2 sweep (chosen on validation), with the LUT ratios; then, per
    level, the median of the default / loop ratios over the seeds measured."""
    seeds = sorted(loop["seeds"], key=int)
    last = loop["seeds"][seeds[-1]]
    lines = [f"Measured {last['date']} ({last['machine']}; HGQ2 {last['versions']['hgq2']}, "
             f"da4ml {last['versions']['da4ml']}; {last['epochs'][1]} epochs a trial, screened "
             f"after {last['epochs'][0]}):", "",
             "| seed | budget (s) | loop (s) | trials (trained on after screening) | designs "
             "synthesized (bit-exact) | load average (start, end) |", "|---|---|---|---|---|---|"]
    for seed in seeds:
        entry = loop["seeds"][seed]
        trials = entry["trials"]
        lines.append(f"| {seed} | {entry['budget_seconds']:.0f} | {entry['search_seconds']:.0f} "
                     f"| {len(trials)} ({sum(t['went_on'] for t in trials)}) | "
                     f"{len(entry['designs'])} ({sum(d['bit_exact'] for d in entry['designs'])}) "
                     f"| {entry['load_average'][0]:.1f}, {entry['load_average'][1]:.1f} |")
    lines += ["", "| seed | level (val) | default: LUT (val / test %) | HGQ2 in our loop | HGQ2 "
              "sweep | default / loop | loop / sweep |", "|---|---|---|---|---|---|---|"]
    for seed in seeds:
        for row in loop["seeds"][seed]["levels"]:
            lines.append(f"| {seed} | {100 * row['level']:.1f} % | {_loop_pick(row['default'])} "
                         f"| {_loop_pick(row['hgq2_search'])} | {_loop_pick(row['hgq2_sweep'])} "
                         f"| {_loop_ratio(row['default_over_loop'])} | "
                         f"{_dash(row['loop_over_sweep'], '{:.2f}')} |")
    levels = [row["level"] for row in loop["seeds"][seeds[0]]["levels"]]
    medians = [median_high([row["default_over_loop"] for seed in seeds
                            for row in loop["seeds"][seed]["levels"] if row["level"] == level])
               for level in levels]
    lines += ["", "Default / HGQ2 in our loop, median of seeds " + ", ".join(seeds) + ": "
              + ", ".join(f"{_loop_ratio(m)} at {100 * level:.1f} %"
                          for level, m in zip(levels, medians, strict=True)) + "."]
    return lines


def readme_blocks() -> dict[str, str]:
    """The README's generated blocks, from the committed JSON."""
    result = json.loads((HERE / "RESULTS.json").read_text())
    blocks = {"bench": "\n".join(
        [f"Measured {result['date']} ({result['machine']}; {result['budget']})"
         + (f". {_read_back(result)}:" if "read_back" in result else ":"), "",
         *targets_table(result), "", *methods_table(result)])}
    if COMPARE.exists():
        compare = json.loads(COMPARE.read_text())
        blocks["compare"] = "\n".join(
            [f"Measured {compare['date']} ({compare['machine']}), seed {compare['seed']}, "
             f"{compare['trials']} complete trials per variant:", "", *compare_table(compare), "",
             seed_spread(result)])
    blocks["calibration"] = "\n".join(calibration_table())
    if TRACE_TRANSFER.exists():
        blocks["trace-transfer"] = "\n".join(
            trace_transfer_table(json.loads(TRACE_TRANSFER.read_text())))
    if VENDOR.exists():
        blocks["vendor"] = vendor_block(json.loads(VENDOR.read_text()))
    if FAULTS.exists():
        faults = json.loads(FAULTS.read_text())
        blocks["faults"] = "\n".join(
            [f"Measured {faults['date']} ({faults['machine']}) by `benchmarks/bench_faults.py` "
             f"(the fault suite, `tests/faults`):", "", *faults_table(faults)])
    datasets = json.loads(DATASETS.read_text()) if DATASETS.exists() else None
    cnn = json.loads(CNN.read_text()) if CNN.exists() else None
    held_out = [json.loads(path.read_text())
                for path in sorted((HERE / "results").glob(HELD_OUT_FILES))]
    second = json.loads(MLP_GN.read_text()) if MLP_GN.exists() else None
    reproduction = (json.loads(PEER_REPRODUCTION.read_text()) if PEER_REPRODUCTION.exists()
                    else None)
    blocks["not-yet"] = "\n".join(not_yet(result, datasets, cnn, held_out, second, reproduction))
    if reproduction:
        blocks["peer-reproduction"] = "\n".join(
            [f"Measured {reproduction['date']} ({reproduction['machine']}; HGQ2 "
             f"{reproduction['peer']['hgq2']}, da4ml {reproduction['peer']['da4ml']}"
             f"; schedule {reproduction['schedule']}, seed {reproduction['data_seed']}'s data, "
             f"{sum(reproduction['train_seconds'].values()):,.0f} s of training in all):", "",
             *peer_reproduction_table(reproduction)])
    if second:
        blocks["bench-mlp-gn"] = "\n".join(
            [f"Measured {second['date']} ({second['machine']}; {second['budget']}):", "",
             *targets_table(second), "", *methods_table(second)])
    if cnn:
        blocks["cnn"] = "\n".join(
            [f"Measured {cnn['date']} ({cnn['machine']}) by `benchmarks/bench_cnn.py`, seed "
             f"{cnn['seed']}:", "", *cnn_tables(cnn), *held_out_race_table(held_out)])
    if HGQ2_LOOP.exists():
        loop = json.loads(HGQ2_LOOP.read_text())
        blocks["hgq2-loop"] = "\n".join(hgq2_loop_tables(loop))
    if datasets:
        blocks["datasets"] = "\n".join(
            [f"Measured {datasets['date']} ({datasets['machine']}), seed {datasets['seed']}, "
             f"{datasets['trials']} complete trials each:", "", *datasets_table(datasets)])
    return blocks


def with_blocks(text: str, blocks: dict[str, str]) -> str:
    """``text`` with every results block replaced by its rendering."""
    for name, body in blocks.items():
        pattern = re.compile(rf"(<!-- results:{name} -->\n).*?(<!-- /results:{name} -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"README.md has no block '{name}'")
        text = pattern.sub(lambda m, body=body: m.group(1) + body + "\n" + m.group(2), text)
    return text


def write_results(result: dict, out: Path) -> str:
    """RESULTS.json and RESULTS.md in ``out``; the rendered text."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "RESULTS.json").write_text(json.dumps(result, indent=1, default=str) + "\n")
    text = render(json.loads((out / "RESULTS.json").read_text()))
    (out / "RESULTS.md").write_text(text)
    return text


def main() -> None:
    (HERE / "RESULTS.md").write_text(render(json.loads((HERE / "RESULTS.json").read_text())))
    README.write_text(with_blocks(README.read_text(), readme_blocks()))


if __name__ == "__main__":
    sys.exit(main())
