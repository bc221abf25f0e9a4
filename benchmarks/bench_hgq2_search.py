"""Issue 29, item 6, measured before building: HGQ2 as the trainer inside our search.

The loop is the default search's: multivariate TPE seeded as ``nas run`` seeds it, its random
start-up, the starting plans' widths and penalties enqueued first, the space's depth, width
and penalty ranges; the same screening (``screen_epochs`` first, then on only when no earlier
screened design beats it by the margin at no more cost, always for the first ones); the same
epochs; the same budget (the default search's seconds on the seed, from ``RESULTS.json``).
Only the trainer differs: each trial is an HGQ2 run in HGQ2's own environment
(``peers/hgq2/search_worker.py``, one process for the whole loop), its cost HGQ2's EBOPs
where ours is our estimator's LUTs, and its value the most accurate checkpoint it keeps.
Every checkpoint the loop converted that no other beats on (validation accuracy, da4ml cost)
is checked in Verilator and synthesized by the same yosys script, then compared level by
level (chosen on validation accuracy) with the default search and the HGQ2 sweep of the seed.

Writes ``results/hgq2_search.json`` (one entry per seed; other seeds' entries are kept)."""

import argparse
import json
import os
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import optuna
import peer_hgq2
from bench_workflows import ACCURACIES, Budget, method_settings, runs_of
from harness import lut_ratio, machine, smallest_at

from nas.app.commands import DEFAULT_TRIALS
from nas.model.data import load_data
from nas.search.front import accuracy_floor
from nas.search.sampling import starting_plans
from nas.search.screening import promising
from nas.search.settings import RunSettings
from nas.search.study import create_or_continue, make_sampler, prepare, sampler_seed
from nas.spaces.space import StudentRanges

HERE = Path(__file__).parent
OUT = HERE / "results" / "hgq2_search.json"
METHOD = "hgq2_search"
#: The parameters of a learned-precision plan that HGQ2 uses (it learns the input's format
#: itself, starting at the port's).
PLAN_KEYS = ("n_hidden", "beta")
#: How the worker's answers start (``search_worker.ANSWER``: that module imports Keras 3, which
#: this environment cannot).
ANSWER = "@hgq2 "


class Worker:
    """``search_worker.py`` in HGQ2's environment: screened runs on request; its progress
    lines go to ``log``."""

    def __init__(self, log: Path) -> None:
        self._log = log.open("w")
        self._process = subprocess.Popen(
            [str(peer_hgq2.PYTHON), str(peer_hgq2.PEER / "search_worker.py")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True,
            cwd=peer_hgq2.PEER, env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def _send(self, request: dict) -> None:
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()

    def _answer(self, key: str) -> dict:
        for line in self._process.stdout:
            if line.startswith(ANSWER):
                return json.loads(line[len(ANSWER):])[key]
            self._log.write(line)
            self._log.flush()
        raise RuntimeError(f"the HGQ2 worker ended (exit {self._process.wait()}): see "
                           f"{self._log.name}")

    def screen(self, arguments: list[str], screen_epochs: int) -> dict:
        self._send({"argv": arguments, "screen_epochs": screen_epochs})
        return self._answer("screened")

    def finish(self, go_on: bool) -> dict:
        self._send({"go_on": go_on})
        return self._answer("done")

    def close(self) -> None:
        self._process.stdin.close()
        self._process.wait(timeout=60)
        self._log.close()


def _plan(trial: optuna.Trial, ranges: StudentRanges) -> tuple[tuple[int, ...], float]:
    """Hidden widths and final beta, under the names and ranges our learned plans use."""
    n_hidden = trial.suggest_int("n_hidden", 1, ranges.max_hidden_layers)
    widths = tuple(trial.suggest_int(f"width_{i + 1}", *ranges.width, log=True)
                   for i in range(n_hidden))
    return widths, trial.suggest_float("beta", *ranges.beta, log=True)


def _enqueue_plans(study: optuna.Study, ranges: StudentRanges) -> None:
    for plan in starting_plans(ranges):
        study.enqueue_trial({k: v for k, v in plan.items()
                             if k in PLAN_KEYS or k.startswith("width_")})


def search(worker: Worker, settings: RunSettings, budget_seconds: float, data_file: Path,
           port: tuple[int, int, int], floor: float, root: Path) -> tuple[list[dict], float]:
    """The loop, while its seconds are under ``budget_seconds`` (the last trial started may
    end past it, as the default search's last trial may); every trial's record, the seconds."""
    space = settings.space
    recipe = space.recipe
    study = optuna.create_study(directions=["maximize", "minimize"])
    study.sampler = make_sampler("tpe", sampler_seed(settings.seed, 0, study))
    _enqueue_plans(study, space.student)
    screened: list[tuple[float, float]] = []
    trials, start = [], time.perf_counter()
    while time.perf_counter() - start < budget_seconds:
        trial, began = study.ask(), time.perf_counter()
        widths, beta = _plan(trial, space.student)
        schedule = peer_hgq2.Schedule(widths, beta, recipe.learned_epochs)
        arguments = peer_hgq2.train_arguments(
            schedule, data_file, port, settings.seed, space.clock_mhz,
            root / f"trial_{trial.number}", floor, None)
        point = worker.screen(arguments, recipe.screen_epochs)
        go_on = promising((point["val_accuracy"], point["ebops"]), screened)
        screened.append((point["val_accuracy"], point["ebops"]))
        done = worker.finish(go_on)
        accuracy, ebops = max(done["points"], key=lambda p: (p[0], -p[1]))
        study.tell(trial, [accuracy, ebops])
        trials.append({"number": trial.number, "hidden": list(widths), "beta_max": beta,
                       "screened": point, "went_on": go_on, "epochs": done["epochs"],
                       "val_accuracy": accuracy, "ebops": ebops, "converted": done["converted"],
                       "seconds": time.perf_counter() - began})
        print(f"trial {trial.number}: {'-'.join(map(str, widths))} beta {beta:.2g}, "
              f"{done['epochs']} epochs, val {accuracy:.4f}, {ebops:,.0f} EBOPs, "
              f"{done['converted']} converted ({time.perf_counter() - start:.0f} s of "
              f"{budget_seconds:.0f})", flush=True)
    return trials, time.perf_counter() - start


def front_checkpoints(root: Path) -> list[tuple[peer_hgq2.Schedule, Path]]:
    """The loop's converted checkpoints that no other beats on both validation accuracy and
    da4ml cost, with the schedule of the trial that made each."""
    found = []
    for ckpt in sorted(root.glob("trial_*/ckpt_*")):
        design = json.loads((ckpt / "design.json").read_text())
        found.append((ckpt, design))
    kept = [(c, d) for c, d in found
            if not any(o["val_accuracy"] >= d["val_accuracy"]
                       and o["da4ml_cost"] <= d["da4ml_cost"]
                       and (o["val_accuracy"], o["da4ml_cost"])
                       != (d["val_accuracy"], d["da4ml_cost"]) for _, o in found)]
    return [(peer_hgq2.Schedule(tuple(d["hidden"]), d["beta_max"], d["epochs"]), c)
            for c, d in kept]


def compare(designs: list[dict], runs: dict) -> list[dict]:
    """Per level: the smallest bit-exact design of the default search, the HGQ2 sweep and the
    loop, chosen on validation accuracy, and the LUT ratios."""
    rows = []
    for level in ACCURACIES:
        picks = {"default": smallest_at(runs["default"]["designs"], level),
                 "hgq2_sweep": smallest_at(runs.get("hgq2_sweep", {"designs": []})["designs"],
                                           level),
                 METHOD: smallest_at(designs, level)}
        rows.append({"level": level, **{k: v and {"lut": v["lut"], "val_accuracy":
                                                   v["val_accuracy"], "test_accuracy":
                                                   v["test_accuracy"], "latency_cycles":
                                                   v["latency_cycles"]}
                                        for k, v in picks.items()},
                     "default_over_loop": lut_ratio(picks["default"], picks[METHOD]),
                     "loop_over_sweep": (None if picks[METHOD] is None
                                         or picks["hgq2_sweep"] is None
                                         else picks[METHOD]["lut"] / picks["hgq2_sweep"]["lut"])})
    return rows


def run_seed(seed: int, budget_seconds: float, runs: dict, quick: bool, jobs: int,
             workdir: Path) -> dict:
    """The loop on ``seed``'s data for ``budget_seconds``, compared with ``runs`` (the bench's
    methods on that seed, by name; none to compare with when empty); its record."""
    budget = Budget(trials=DEFAULT_TRIALS, seeds=(seed,), jobs=jobs, quick=quick)
    settings = method_settings("default", seed, budget, workdir / "study")
    settings.paths.create()
    data = load_data(settings.space, seed, settings.paths)
    study = create_or_continue(settings)  # only for the teacher and its accuracy floor
    prepare(settings, study)
    floor = accuracy_floor(study, settings.space)
    root = workdir / "loop"
    root.mkdir(parents=True, exist_ok=True)
    data_file = root / "data.npz"
    np.savez(data_file, **data.arrays())
    worker = Worker(root / "worker.log")
    load = os.getloadavg()[0]
    try:
        trials, seconds = search(worker, settings, budget_seconds, data_file,
                                 data.stage.port[0], floor, root)
    finally:
        worker.close()
    synth_start = time.perf_counter()
    designs, versions = peer_hgq2.synthesized_rows(front_checkpoints(root), data.x_test, jobs,
                                                   METHOD, settings.space.name, seed)
    return {"date": datetime.now(UTC).date().isoformat(), "machine": machine(), "seed": seed,
            "budget_seconds": budget_seconds, "search_seconds": seconds,
            "synth_seconds": time.perf_counter() - synth_start, "floor": floor,
            "load_average": [load, os.getloadavg()[0]], "versions": versions,
            "epochs": [settings.space.recipe.screen_epochs, settings.space.recipe.learned_epochs],
            "trials": trials, "designs": designs,
            "levels": compare(designs, runs) if runs else []}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.json",
                        help="the bench result whose default run sets the budget")
    parser.add_argument("--budget-seconds", type=float,
                        help="the loop's seconds (default: the default search's on the seed)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--quick", action="store_true",
                        help="the bench's quick space: checks the harness, not the question")
    args = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    runs = runs_of(json.loads(args.results.read_text()))[0].get(args.seed, {})
    budget_seconds = args.budget_seconds or (runs and runs["default"]["search_seconds"])
    if not budget_seconds:
        parser.error(f"{args.results} holds no default run of seed {args.seed}: give "
                     f"--budget-seconds or run the bench on that seed first")
    entry = run_seed(args.seed, budget_seconds, runs, args.quick, args.jobs,
                     args.workdir / f"seed{args.seed}")
    kept = json.loads(args.out.read_text()) if args.out.exists() else {"seeds": {}}
    kept["seeds"][str(args.seed)] = entry
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(kept, indent=1) + "\n")
    for row in entry["levels"]:
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
