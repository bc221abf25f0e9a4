"""Which sampler finds the better front at the same budget? (the measurement behind the default)

Runs the default space with each sampler for the same number of complete trials and seeds,
and prints the hypervolume of (validation accuracy, LUT-equivalent) with the reference point
(accuracy 0.8, 25,000 LUT-equivalents): larger is better.
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import optuna
from common import machine
from optuna.trial import TrialState

from nas.search.front import hypervolume_2d
from nas.search.settings import RunSettings
from nas.search.study import run_search
from nas.spaces import get_space

REFERENCE = (0.8, 25_000.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--samplers", nargs="+", default=["tpe", "nsgaii", "random"])
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print(machine())
    print(f"{args.trials} complete trials per run; hypervolume reference {REFERENCE}")
    results: dict[str, list[float]] = {name: [] for name in args.samplers}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for name in args.samplers:
                settings = RunSettings(space=get_space("mlp_psd"), trials=args.trials, seed=seed,
                                       workdir=Path(tmp) / f"{name}_{seed}", sampler=name)
                start = time.perf_counter()
                study = run_search(settings)
                done = study.get_trials(states=(TrialState.COMPLETE,))
                values = np.array([t.values[:2] for t in done if max(t.constraints.values()) <= 0])
                hv = hypervolume_2d(values[:, 0], values[:, 1], *REFERENCE)
                results[name].append(hv)
                print(f"seed {seed} {name:7s} hypervolume {hv:8.1f}  "
                      f"({time.perf_counter() - start:.0f} s, {len(study.trials)} trials in all)",
                      flush=True)
    base = np.median(results["random"]) if "random" in results else None
    for name, values in results.items():
        ratio = f", {np.median(values) / base:.2f}x random" if base else ""
        print(f"{name:7s} median hypervolume {np.median(values):8.1f}{ratio}")


if __name__ == "__main__":
    main()
