"""How to search: each variant of the search settings on ``mlp_psd``, same seed and data, its
useful front synthesized with the open flow; scored on synthesized numbers (hypervolume of
bit-exact (test accuracy, LUT), smallest design at 98.0 % and 98.5 % test accuracy).

Variants (``--variants``, default all): ``default`` (learned precision, two objectives,
screening, multivariate TPE, starting with ``nas.search.sampling.STARTING_PLANS``), ``plain``
(the default without the starting plans), ``three`` (latency as a third objective),
``unscreened`` (every trial trained to the end), ``nsgaii`` (NSGA-II sampler), ``seeded`` (the
known-good designs of ``SEEDS`` enqueued after the starting plans), ``longer`` (600 epochs,
180 screened, instead of 300 and 90) and ``searched`` (per-layer bits searched, the earlier
default; given the wall-clock the default's search took). Writes
``benchmarks/results/compare_search.json``; ``render_results.py`` turns it into tables.
"""

import argparse
import dataclasses
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import optuna
from harness import (
    hypervolume,
    machine,
    run_search_and_synthesize,
    share_caches,
    smallest_at,
    tool_versions,
)

from nas.search.settings import RunSettings
from nas.spaces import get_space

HERE = Path(__file__).parent
VARIANTS = ("default", "plain", "three", "unscreened", "nsgaii", "seeded", "searched", "longer")
#: Known-good learned-precision plans enqueued by the ``seeded`` variant: the reference
#: recipe's shape and the shapes HGQ2's recipe uses, at two penalty strengths.
SEEDS = [{"n_hidden": 1, "width_1": 15, "input_bits": 8, "input_int_bits": 4, "beta": 1e-4},
         {"n_hidden": 1, "width_1": 16, "input_bits": 6, "input_int_bits": 2, "beta": 3e-5},
         {"n_hidden": 2, "width_1": 32, "width_2": 16, "input_bits": 6, "input_int_bits": 2,
          "beta": 3e-5}]


def variant_settings(name: str, trials: int, seed: int, root: Path,
                     timeout: float | None) -> RunSettings:
    space = get_space("mlp_psd")
    if name == "three":
        space = space.with_search(n_objectives=3)
    elif name == "unscreened":
        space = dataclasses.replace(space, recipe=dataclasses.replace(space.recipe, screen_epochs=0))
    elif name == "longer":
        space = dataclasses.replace(space, recipe=dataclasses.replace(
            space.recipe, learned_epochs=600, screen_epochs=180))
    elif name == "searched":
        space = space.with_search(precision="searched", n_objectives=3)
    sampler = "nsgaii" if name == "nsgaii" else "tpe"
    return RunSettings(space=space, trials=10_000 if timeout else trials, seed=seed,
                       workdir=root / name, sampler=sampler, timeout=timeout,
                       starting_plans=name != "plain")


def run_variant(name: str, settings: RunSettings, jobs: int) -> dict:
    if name == "seeded":
        from nas.search.study import create_or_continue

        study = create_or_continue(settings)
        for params in SEEDS:
            study.enqueue_trial(params)
    run = run_search_and_synthesize(settings, name, jobs)
    run.pop("study")
    designs = run["designs"]
    return {**run, "hypervolume": hypervolume(designs),
            "smallest": {str(a): smallest_at(designs, a) for a in (0.98, 0.985)}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--workdir", type=Path, required=True, help="where the studies go")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "compare_search.json")
    args = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    result = json.loads(args.out.read_text()) if args.out.exists() else {"variants": {}}
    first = None
    default_seconds = result["variants"].get("default", {}).get("search_seconds")
    for name in args.variants:
        timeout = default_seconds if name == "searched" else None
        settings = variant_settings(name, args.trials, args.seed, args.workdir, timeout)
        if first is not None:
            share_caches(first, settings)
        first = first or settings
        start = time.perf_counter()
        run = run_variant(name, settings, args.jobs)
        if name == "default":
            default_seconds = run["search_seconds"]
        run["wall_seconds"] = time.perf_counter() - start
        result["variants"][name] = run
        print(f"{name}: {run['trials']['complete']} trials, {len(run['designs'])} synthesized, "
              f"hypervolume {run['hypervolume']:.2f}, search {run['search_seconds']:.0f} s",
              flush=True)
        result.update({"machine": machine(), "tools": tool_versions(), "seed": args.seed,
                       "trials": args.trials, "date": datetime.now(UTC).strftime("%Y-%m-%d")})
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
