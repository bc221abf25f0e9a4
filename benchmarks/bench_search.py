"""``make bench``: trials per hour of the default search on this machine, and the reference
recipe (DESIGN.md) trained by this pipeline, beside the best front design of the same run.

The search and the reference use the same data, teacher, training recipe and estimator.
Results are printed and written to benchmarks/out/bench_search.json.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import optuna
from common import machine, train_reference_model

from nas.app.commands import DEFAULT_TRIALS
from nas.model.student import accuracy
from nas.search.front import front_rows, trial_counts
from nas.search.objective import flow_estimators
from nas.search.settings import RunSettings
from nas.search.study import run_search, study_calibration
from nas.spaces import get_space

OUT = Path(__file__).parent / "out"


def train_reference(settings: RunSettings, study) -> dict:
    """The reference recipe, trained and estimated exactly as the study's trials are."""
    space = settings.space
    model, config, data, seconds = train_reference_model(settings)
    _, estimator, describe = flow_estimators(study_calibration(study), space, data)
    estimate = estimator.predict_one(describe(model, config))
    return {"shape": "30-15-4", "bits": "in 8.4 | w 8.1,8.1 | a 8.2", "sparsity": 0.2,
            "n_params": config.n_params(space.n_inputs, space.n_classes),
            "val_accuracy": accuracy(model, data.x_val, data.y_val),
            "test_accuracy": accuracy(model, data.x_test, data.y_test),
            "lut_equivalent": estimate.lut_equivalent(space.part), "est_ff": estimate.ff,
            "latency_cycles": estimate.latency_cycles, "train_seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=DEFAULT_TRIALS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = get_space("mlp_psd")
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        settings = RunSettings(space=space, trials=args.trials, seed=args.seed, workdir=Path(tmp))
        stages: dict[str, float] = {}
        study = run_search(settings, on_stage=lambda stage: stages.setdefault(stage, time.perf_counter()))
        search_seconds = time.perf_counter() - stages["searching"]
        reference = train_reference(settings, study)
    counts = trial_counts(study)
    rows = front_rows(study, space.n_inputs, space.n_classes)
    as_accurate = [r for r in rows if r["test_accuracy"] >= reference["test_accuracy"]]
    best = min(as_accurate, key=lambda r: r["lut_equivalent"]) if as_accurate else None
    most_accurate = max(rows, key=lambda r: r["test_accuracy"])
    result = {"machine": machine(), "trials": counts, "search_seconds": search_seconds,
              "trials_per_hour": counts["complete"] / search_seconds * 3600,
              "teacher_test_accuracy": study.user_attrs["teacher_test_accuracy"],
              "reference": reference, "best_as_accurate": best, "most_accurate": most_accurate}
    OUT.mkdir(exist_ok=True)
    (OUT / "bench_search.json").write_text(json.dumps(result, indent=2))

    print(f"\nsearch: {counts['complete']} complete trials ({counts['rejected']} rejected before "
          f"training, {counts['failed']} failed) in {search_seconds:.0f} s: "
          f"{result['trials_per_hour']:.0f} trials per hour")
    print(f"teacher test accuracy: {result['teacher_test_accuracy']:.4f}")
    print(f"\n{'design':28s} {'test acc':>8s} {'LUT-eq':>8s} {'latency':>7s}  shape / bits")
    for label, row in (("reference recipe", reference), ("front, as accurate, fewest LUT", best),
                       ("front, most accurate", most_accurate)):
        if row is None:
            print(f"{label:28s} (no front design reaches the reference accuracy)")
            continue
        print(f"{label:28s} {row['test_accuracy']:8.4f} {row['lut_equivalent']:8.0f} "
              f"{row['latency_cycles']:7.0f}  {row['shape']} / {row['bits']}")
    if best:
        print(f"\nLUT-equivalents, reference / best as accurate: "
              f"{reference['lut_equivalent'] / best['lut_equivalent']:.2f}x (estimates, open flow)")


if __name__ == "__main__":
    main()
