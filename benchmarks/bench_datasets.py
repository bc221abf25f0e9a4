"""Users' own data: public real data sets of float features (``nas.spaces.public``: tabular
with scales over five decades, a signed time series), each searched with the default recipe,
its useful front synthesized (open flow, Verilator bit-exact) and exported to hls4ml (C
simulation bit-exact), beside scikit-learn baselines on standardized features measured on the
same splits; the teacher and the baselines also on the splits of four more seeds (a test split
of 36-40 events resolves 2.5-2.8 points, the mean of five about one). Writes
``benchmarks/results/datasets.json`` (``render_results.py`` makes the README table)."""

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import optuna
from harness import machine, run_search_and_synthesize, tool_versions
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from nas.hls.export import write_project
from nas.model.data import load_data
from nas.model.student import accuracy
from nas.model.teacher import load_teacher
from nas.search.front import synthesized_error
from nas.search.objective import load_student
from nas.search.records import artifact_store
from nas.search.settings import RunSettings
from nas.spaces import get_part, get_space

HERE = Path(__file__).parent
DATASETS = ("breast_cancer", "wine", "gunpoint")
#: Targets of issue 14: teacher within a point of the better baseline, the best student within
#: two points of the teacher, the trace estimate's LUT error in the band seen on mlp_psd.
TEACHER_GAP, STUDENT_GAP, LUT_MAPE = 0.01, 0.02, 15.0
#: Seeds (splits) on which teacher and baselines are compared again.
SPLITS = 5


def baselines(data) -> dict[str, float]:
    """Test accuracy of a logistic regression and a small MLP on standardized inputs."""
    scaler = StandardScaler().fit(data.x_train)
    x_train, x_test = scaler.transform(data.x_train), scaler.transform(data.x_test)
    models = {"logistic_regression": LogisticRegression(max_iter=5000),
              "mlp": MLPClassifier((64, 32), max_iter=2000, random_state=0)}
    return {name: float(model.fit(x_train, data.y_train).score(x_test, data.y_test))
            for name, model in models.items()}


def teacher_over_splits(space, root: Path) -> dict:
    """Test accuracy of the teacher and the baselines on each of ``SPLITS`` seeds' splits, and
    their means (seed 0's teacher is the run's, cached in its study folder)."""
    rows = []
    for seed in range(SPLITS):
        paths = RunSettings(space=space, trials=1, seed=seed, workdir=root).paths
        data = load_data(space, seed, paths)
        teacher = load_teacher(space, data, seed, paths)
        rows.append({"seed": seed, "teacher": accuracy(teacher, data.x_test, data.y_test),
                     **baselines(data)})
    means = {key: float(np.mean([row[key] for row in rows])) for key in rows[0] if key != "seed"}
    return {"per_seed": rows, "mean": means}


def export_check(study, settings: RunSettings, numbers: list[int], root: Path) -> dict[int, float]:
    """hls4ml C simulation of each design against its QKeras student: the exact fraction."""
    data = load_data(settings.space, settings.seed, settings.paths)
    store = artifact_store(settings.paths)
    exact = {}
    for number in numbers:
        model, config = load_student(study.trials[number], settings.space, store)
        result = write_project(model, config, data.x_test, settings.space.input_divisor,
                               root / f"trial_{number}", get_part(settings.space.part_name),
                               settings.space.clock_mhz)
        exact[number] = result.exact_fraction
    return exact


def run_dataset(name: str, trials: int, seed: int, root: Path, jobs: int) -> dict:
    space = get_space(name)
    settings = RunSettings(space=space, trials=trials, seed=seed, workdir=root)
    start = time.perf_counter()
    run = run_search_and_synthesize(settings, "default", jobs)
    study = run.pop("study")
    data = load_data(space, seed, settings.paths)
    designs = run["designs"]
    with tempfile.TemporaryDirectory() as tmp:
        exported = export_check(study, settings, [d["trial"] for d in designs], Path(tmp))
    for design in designs:
        design["hls_exact_fraction"] = exported[design["trial"]]
    errors = synthesized_error([d for d in designs if d["bit_exact"]])
    teacher = study.user_attrs["teacher_test_accuracy"]
    base = baselines(data)
    best = max((d["test_accuracy"] for d in designs), default=0.0)
    splits = teacher_over_splits(space, root)
    means = splits["mean"]
    return {"space": name, "description": space.description, "n_inputs": space.n_inputs,
            "n_events": len(data.y_train) + len(data.y_val) + len(data.y_test),
            "test_events": len(data.y_test),
            "signed_inputs": bool(data.x_train.min() < 0),
            "decades": float(np.log10(np.abs(data.x_train).max(0).max()
                                      / np.abs(data.x_train).max(0).min())),
            "baselines": base, "teacher_test_accuracy": teacher, "splits": splits,
            "designs": designs,
            "lut_error": errors.get("lut"), "trials": run["trials"],
            "minutes": (time.perf_counter() - start) / 60,
            "checks": {
                "teacher_vs_baseline": teacher >= max(base.values()) - TEACHER_GAP,
                "teacher_vs_baseline_over_splits": (means["teacher"] >= max(
                    means["logistic_regression"], means["mlp"]) - TEACHER_GAP),
                "student_vs_teacher": best >= teacher - STUDENT_GAP,
                "rtl_bit_exact": bool(designs) and all(d["bit_exact"] for d in designs),
                "hls_bit_exact": bool(designs) and all(d["hls_exact_fraction"] == 1.0
                                                       for d in designs),
                "lut_error": errors.get("lut", {}).get("mape", 100.0) <= LUT_MAPE}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "datasets.json")
    args = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    result = json.loads(args.out.read_text()) if args.out.exists() else {"datasets": {}}
    for name in args.datasets:
        result["datasets"][name] = run_dataset(name, args.trials, args.seed, args.workdir, args.jobs)
        print(name, json.dumps(result["datasets"][name]["checks"]), flush=True)
        result.update({"machine": machine(), "tools": tool_versions(), "seed": args.seed,
                       "trials": args.trials, "date": datetime.now(UTC).strftime("%Y-%m-%d"),
                       "splits": SPLITS, "targets": {"teacher_gap": TEACHER_GAP, "student_gap": STUDENT_GAP,
                                   "lut_mape": LUT_MAPE}})
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
