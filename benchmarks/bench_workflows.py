"""``make bench``: does the estimator-guided search beat the manual workflow, on synthesized numbers?

Four methods on the same space (mlp_psd), data, teacher and training recipe per trial, for
each seed:

1. ``search``: this project's default (multi-objective TPE guided by the calibrated estimator);
2. ``random``: the same space and objectives with Optuna's random sampler;
3. ``manual``: the published workflow (Molina et al. 2024): an accuracy-only Bayesian search
   (single-objective TPE) over the student's layers and widths, every candidate quantized to
   the fixed 8-bit precision and 20 % sparsity of the reference recipe (quantization-aware, with
   the same distillation as every other trial);
4. ``reference``: the reference recipe alone (DESIGN.md: 30-15-4, 8-bit, 20 %, distillation).

Each search gets the same number of complete trials. From each, the designs on the
(validation accuracy, estimated LUT-equivalent) front inside the hypervolume box are
synthesized with the open flow (da4ml -> Verilator on the whole test set -> yosys), at most
``--synth-cap`` of them, evenly spaced along LUTs. For the manual workflow this is generous: it
would deliver only its most accurate design (marked), but a user could pick from its trials too.
Scores use synthesized numbers only: hypervolume of (test accuracy, synthesized LUT) with the
fixed reference point ``HV_REFERENCE``, and the smallest synthesized design at least as accurate
as the reference recipe of the same seed, with its latency. Writes ``benchmarks/RESULTS.md`` and
``benchmarks/out/bench_workflows.json``; ``--quick`` runs a CI-sized version (two seeds, a few
trials, small students of the quick space) into another folder, to check the harness, not the targets.
"""

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import optuna
from common import machine, reference_recipe, tool_versions, train_reference_model
from optuna.trial import TrialState
from results_md import render

from nas.app.synth import synthesize_trials
from nas.hls.open_flow import run_open_flow
from nas.model.data import load_data
from nas.model.student import accuracy
from nas.model.teacher import load_teacher
from nas.search.front import hypervolume_2d, is_feasible, synthesized_error, trial_counts
from nas.search.records import results
from nas.search.settings import RunSettings
from nas.search.study import (
    ATTEMPTS_PER_TRIAL,
    create_or_continue,
    fail_dead_trials,
    prepare,
    run_search,
)
from nas.spaces import get_space
from nas.spaces.parts import get_part

HERE = Path(__file__).parent
METHODS = ("search", "random", "manual", "reference")
#: Hypervolume box, fixed before the first run: classifiers below 90 % test accuracy are of no
#: use for this task (the teacher reaches 99 %), and designs above 8,000 LUTs are larger than
#: the reference recipe synthesizes to (7,407 LUTs), i.e. than the workflow being replaced.
HV_REFERENCE = (0.90, 8000.0)


@dataclass(frozen=True)
class Budget:
    trials: int
    seeds: tuple[int, ...]
    synth_cap: int
    jobs: int
    quick: bool

    def describe(self) -> str:
        space = "quick mlp_psd (fewer events and epochs)" if self.quick else "mlp_psd"
        return (f"{self.trials} complete trials per search, seeds {list(self.seeds)}, "
                f"at most {self.synth_cap} synthesized designs per search, {self.jobs} synthesis "
                f"jobs, space {space}")


def manual_space(space):
    """The space of the manual workflow: layers and widths searched, precision and sparsity
    fixed at the reference recipe's."""
    ref = reference_recipe()
    fixed = replace(space.student, weight_bits=(8, 8), weight_int_bits=(1, 1), act_bits=(8, 8),
                    act_int_bits=(2, 2), input_bits=(ref.input_bits,) * 2,
                    input_int_bits=(ref.input_int_bits,) * 2, sparsity=(ref.sparsity,) * 2)
    return replace(space, student=fixed)


def quick_space(space):
    """The quick space with one small hidden layer, so that each synthesis takes seconds."""
    return replace(space.quick(), student=replace(space.student, max_hidden_layers=1,
                                                  width=(4, 12)))


def share_caches(source: RunSettings, target: RunSettings) -> None:
    """Give ``target`` the data and teacher that ``source`` made (the same seed makes the same
    ones; the study's fingerprint check confirms it), so each seed trains one teacher."""
    target.paths.create()
    for pattern in ("data_seed*", "teacher_seed*"):
        for path in source.paths.root.glob(pattern):
            shutil.copy2(path, target.paths.root / path.name)


def run_manual(settings: RunSettings) -> optuna.Study:
    """Accuracy-only TPE; its trials are then copied into a study of the usual three objectives
    (the estimate is recorded by every trial), so that synthesis and reports treat it alike."""
    study = create_or_continue(settings)
    fail_dead_trials(study, settings.storage_url)
    runner = prepare(settings, study)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        searcher = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(
            multivariate=True, group=True, seed=settings.seed, n_startup_trials=10))
    values: dict[int, tuple] = {}

    def accuracy_only(trial: optuna.Trial) -> float:
        values[trial.number] = runner(trial)
        return values[trial.number][0]

    def enough(study_: optuna.Study, _trial) -> None:
        if len(values) >= settings.trials:
            study_.stop()

    searcher.optimize(accuracy_only, n_trials=settings.trials * ATTEMPTS_PER_TRIAL,
                      catch=(Exception,), gc_after_trial=True, callbacks=[enough])
    for trial in searcher.trials:
        study.add_trial(optuna.trial.create_trial(
            state=trial.state, params=trial.params, distributions=trial.distributions,
            values=list(values[trial.number]) if trial.state == TrialState.COMPLETE else None,
            user_attrs=trial.user_attrs, system_attrs=trial.system_attrs))
    return study


def box_front(study: optuna.Study, cap: int) -> list[int]:
    """Trials on the (validation accuracy, estimated LUT-equivalent) front whose estimate lies
    in the hypervolume box (LUTs with a 25 % margin for the estimator's error); at most ``cap``,
    evenly spaced along LUTs."""
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if is_feasible(t) and t.values[0] > HV_REFERENCE[0]
            and t.values[1] < 1.25 * HV_REFERENCE[1]]
    done.sort(key=lambda t: (t.values[1], -t.values[0]))
    front, best = [], -1.0
    for trial in done:
        if trial.values[0] > best:
            front.append(trial)
            best = trial.values[0]
    if len(front) > cap:
        step = (len(front) - 1) / (cap - 1) if cap > 1 else 0
        front = [front[round(k * step)] for k in range(cap)]
    return [t.number for t in front]


def most_accurate(study: optuna.Study) -> int:
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if is_feasible(t)]
    return max(done, key=lambda t: t.values[0]).number


def design_rows(study: optuna.Study, numbers: list[int]) -> list[dict]:
    """Synthesized designs of ``numbers`` (bit-exact ones), with their test accuracy and estimate."""
    synth = results(study, "synth")
    rows = []
    for number in numbers:
        record = synth.get(number, {})
        if record.get("status") != "ok":
            continue
        attrs = study.trials[number].user_attrs
        rows.append({"trial": number, "test_accuracy": attrs["test_accuracy"],
                     "val_accuracy": attrs["val_accuracy"], "config": attrs["config"],
                     "lut": record["lut"], "ff": record["ff"], "dsp": record["dsp"],
                     "latency_cycles": record["latency_cycles"],
                     "estimate": record["estimate"],
                     "estimate_seconds": attrs.get("estimate_seconds"),
                     "synth_seconds": record["wall_seconds"]})
    return rows


def run_search_method(method: str, settings: RunSettings, budget: Budget) -> dict:
    start = time.perf_counter()
    study = run_manual(settings) if method == "manual" else run_search(settings)
    search_seconds = time.perf_counter() - start
    numbers = box_front(study, budget.synth_cap)
    delivered = most_accurate(study)
    if method == "manual" and delivered not in numbers:
        numbers.append(delivered)
    start = time.perf_counter()
    synthesize_trials(study, settings, numbers, jobs=budget.jobs)
    synth_seconds = time.perf_counter() - start
    counts = trial_counts(study)
    designs = design_rows(study, numbers)
    return {"designs": designs, "delivered_trial": delivered,
            "trials": counts, "search_seconds": search_seconds, "synth_seconds": synth_seconds,
            "trials_per_hour": counts["complete"] / search_seconds * 3600,
            "failed_synthesis": len(numbers) - len(designs)}


def run_reference(settings: RunSettings, out: Path) -> dict:
    """The reference recipe, trained as the trials are, and synthesized by the same open flow."""
    space = settings.space
    start = time.perf_counter()
    model, config, data, _ = train_reference_model(settings)  # data and teacher: cached already
    result = run_open_flow(model, config, data.x_test, space.input_divisor, out,
                           get_part(space.part_name).full_name, space.clock_mhz)
    if not result.bit_exact:
        raise RuntimeError(f"the reference recipe's RTL is not bit-exact: {result.rtl_exact_fraction}")
    row = {"trial": None, "test_accuracy": accuracy(model, data.x_test, data.y_test),
           "val_accuracy": accuracy(model, data.x_val, data.y_val), "config": config.to_dict(),
           "lut": result.lut, "ff": result.ff, "dsp": result.dsp,
           "latency_cycles": result.latency_cycles, "estimate": None,
           "synth_seconds": result.seconds["yosys"]}
    return {"designs": [row], "delivered_trial": None, "trials": {"complete": 1},
            "search_seconds": 0.0, "synth_seconds": time.perf_counter() - start,
            "trials_per_hour": None, "failed_synthesis": 0, "versions": result.versions}


def score(run: dict, reference_accuracy: float) -> dict:
    """Synthesized hypervolume, and the smallest design at least as accurate as the reference."""
    designs = run["designs"]
    accuracy_ = np.array([d["test_accuracy"] for d in designs])
    luts = np.array([d["lut"] for d in designs], dtype=float)
    as_accurate = [d for d in designs if d["test_accuracy"] >= reference_accuracy]
    smallest = min(as_accurate, key=lambda d: d["lut"]) if as_accurate else None
    return {"hypervolume": hypervolume_2d(accuracy_, luts, *HV_REFERENCE),
            "smallest_as_accurate": smallest,
            "wall_seconds": run["search_seconds"] + run["synth_seconds"]}


def summarize(runs: dict[int, dict[str, dict]]) -> dict:
    """Per method: median and [min .. max] over seeds of every score, and the target checks."""
    per_method: dict[str, dict] = {m: {"hypervolume": [], "lut": [], "latency": [],
                                       "accuracy": [], "wall": [], "found": 0}
                                   for m in METHODS}
    lut_reduction: list[float] = []
    latency_ok: list[bool] = []
    for seed_runs in runs.values():
        reference = seed_runs["reference"]["designs"][0]
        for method in METHODS:
            scored = seed_runs[method]["score"]
            entry = per_method[method]
            entry["hypervolume"].append(scored["hypervolume"])
            entry["wall"].append(scored["wall_seconds"])
            smallest = scored["smallest_as_accurate"]
            if smallest:
                entry["found"] += 1
                entry["lut"].append(smallest["lut"])
                entry["latency"].append(smallest["latency_cycles"])
                entry["accuracy"].append(smallest["test_accuracy"])
        best = seed_runs["search"]["score"]["smallest_as_accurate"]
        lut_reduction.append(reference["lut"] / best["lut"] if best else 0.0)
        latency_ok.append(bool(best) and best["latency_cycles"] <= reference["latency_cycles"])
    hv = {m: statistics.median(per_method[m]["hypervolume"]) for m in METHODS}
    hv_ratio = hv["search"] / hv["random"] if hv["random"] else float("inf")
    lut_median = statistics.median(lut_reduction)
    return {"methods": per_method, "median_hypervolume": hv,
            "lut_reduction_per_seed": lut_reduction, "latency_ok_per_seed": latency_ok,
            "targets": {"lut_reduction_median": lut_median,
                        "lut_target_met": lut_median >= 3.0 and all(latency_ok),
                        "hv_ratio_vs_random": hv_ratio, "hv_target_met": hv_ratio >= 1.3}}


def estimator_table(runs: dict[int, dict[str, dict]]) -> dict:
    """The trial estimate against synthesis over every synthesized search design, and speeds."""
    designs = [d for seed_runs in runs.values() for m in ("search", "random", "manual")
               for d in seed_runs[m]["designs"]]
    if not designs:
        return {}
    table = synthesized_error(designs)
    estimate_s = [d["estimate_seconds"] for d in designs if d.get("estimate_seconds")]
    synth_s = [d["synth_seconds"] for d in designs]
    return {"errors": table, "n": len(designs),
            "estimate_seconds_median": statistics.median(estimate_s) if estimate_s else None,
            "synth_seconds_median": statistics.median(synth_s)}


def run_all(budget: Budget, root: Path, progress=print) -> dict:
    space = get_space("mlp_psd")
    runs: dict[int, dict[str, dict]] = {}
    versions: dict = {}
    teacher_seconds: dict[int, float] = {}
    for seed in budget.seeds:
        runs[seed] = {}
        first: RunSettings | None = None
        for method in METHODS:
            method_space = manual_space(space) if method == "manual" else space
            settings = RunSettings(space=method_space, trials=budget.trials, seed=seed,
                                   workdir=root / f"seed{seed}" / method, quick=budget.quick,
                                   sampler="random" if method == "random" else "tpe")
            if budget.quick:
                settings = replace(settings, space=quick_space(method_space))
            if first is None:
                first = settings
                start = time.perf_counter()
                settings.paths.create()
                load_teacher(settings.space, load_data(settings.space, seed, settings.paths), seed,
                             settings.paths)
                teacher_seconds[seed] = time.perf_counter() - start
            else:
                share_caches(first, settings)
            if method == "reference":
                run = run_reference(settings, settings.workdir / "rtl")
                versions = run.pop("versions")
            else:
                run = run_search_method(method, settings, budget)
            runs[seed][method] = run
            progress(f"seed {seed} {method:9s} {len(run['designs'])} designs synthesized, "
                     f"{run['search_seconds'] + run['synth_seconds']:.0f} s")
        reference_accuracy = runs[seed]["reference"]["designs"][0]["test_accuracy"]
        for method in METHODS:
            runs[seed][method]["score"] = score(runs[seed][method], reference_accuracy)
    return {"machine": machine(), "tools": {**tool_versions(), **versions},
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "budget": budget.describe(), "hv_reference": HV_REFERENCE,
            "teacher_seconds": teacher_seconds, "runs": {str(seed): value for seed, value in runs.items()},
            "summary": summarize(runs), "estimator": estimator_table(runs)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="CI-sized run that checks the harness, not the targets")
    parser.add_argument("--trials", type=int, help="complete trials per search")
    parser.add_argument("--seeds", type=int, nargs="+")
    parser.add_argument("--synth-cap", type=int)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, help="folder of RESULTS.md and the JSON "
                        "(default: benchmarks/, or benchmarks/out/quick with --quick)")
    parser.add_argument("--workdir", type=Path, help="keep the studies here (default: a "
                        "temporary folder, removed at the end)")
    args = parser.parse_args(argv)
    quick = args.quick
    budget = Budget(trials=args.trials or (2 if quick else 30),
                    seeds=tuple(args.seeds or ((0, 1) if quick else (0, 1, 2))),
                    synth_cap=args.synth_cap or (1 if quick else 5), jobs=args.jobs, quick=quick)
    out = args.out or (HERE / "out" / "quick" if quick else HERE)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print(machine(), flush=True)
    print(budget.describe(), flush=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.workdir or Path(tmp)
        result = run_all(budget, root, progress=lambda line: print(line, flush=True))
    seconds = time.perf_counter() - start
    result["total_seconds"] = seconds
    out.mkdir(parents=True, exist_ok=True)
    json_dir = out if quick or args.out else HERE / "out"
    json_dir.mkdir(parents=True, exist_ok=True)
    (json_dir / "bench_workflows.json").write_text(json.dumps(result, indent=2, default=str))
    text = render(result, METHODS)
    (out / "RESULTS.md").write_text(text)
    print(text)


if __name__ == "__main__":
    sys.exit(main())
