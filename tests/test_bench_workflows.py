"""``make bench``: the quick harness end to end, and the committed results files, which must be
what their renderer writes from the committed JSON, with every "met" following from its value."""

import json
import subprocess
import sys

import pytest
from conftest import REPO
from conftest import bench_module as _module

BENCH = REPO / "benchmarks"
#: The folders of committed bench results: mlp_psd's, and mlp_gn's once it is measured.
COMMITTED = [BENCH, *(BENCH / "results").glob("bench_*/")]
FIELDS = {"method", "space", "seed", "val_accuracy", "test_accuracy", "lut", "ff",
          "latency_cycles", "bit_exact"}
COMPARE = {">=": lambda measured, goal: measured >= goal, "<=": lambda measured, goal: measured <= goal}


def _check_targets(result: dict) -> None:
    scored = result["targets"] + result["tuning_targets"]
    assert scored
    for target in scored:
        assert target["met"] == COMPARE[target["comparison"]](target["measured"], target["goal"])


def test_committed_results_are_rendered_from_their_json():
    render = _module("render_results")
    result = json.loads((BENCH / "RESULTS.json").read_text())
    assert (BENCH / "RESULTS.md").read_text() == render.render(result)
    readme = (REPO / "README.md").read_text()
    assert render.with_blocks(readme, render.readme_blocks()) == readme
    _check_targets(result)
    assert {d["method"] for d in result["designs"]} == set(result["methods"])
    assert all(set(d) >= FIELDS for d in result["designs"])


@pytest.mark.parametrize("folder", COMMITTED, ids=lambda folder: folder.name)
def test_committed_targets_are_scored_from_the_committed_designs(folder):
    bench = _module("bench_workflows")
    result = json.loads((folder / "RESULTS.json").read_text())
    again = bench.scored(result)
    assert again["targets"] == result["targets"]
    assert again["tuning_targets"] == result["tuning_targets"]
    held_out = set(result["seeds"]) - set(result["tuning_seeds"])
    assert bool(result["targets"]) == bool(held_out)
    assert (folder / "RESULTS.md").read_text() == _module("render_results").render(result)
    assert {d["space"] for d in result["designs"]} == {result["designs"][0]["space"]}


def test_runs_of_another_budget_are_not_read_back(tmp_path):
    bench = _module("bench_workflows")
    other = bench.Budget(trials=7, seeds=(0,), jobs=2, quick=False)
    with pytest.raises(SystemExit, match="another budget"):
        bench.read_back(BENCH / "RESULTS.json", ["random"], other, tmp_path)
    assert not any(tmp_path.iterdir())


def test_a_kept_run_is_taken_up_only_by_the_same_budget_and_code(tmp_path, monkeypatch):
    # A seed outlasting a session: each finished part is kept, and the next session takes it
    # up instead of running it again, unless budget or code differ.
    kept_module = _module("kept")
    run = {"designs": [_design("default", 5, 0.98, 900)], "search_seconds": 1000.0}
    monkeypatch.setattr(kept_module, "commit", lambda: "a" * 40)
    kept = kept_module.Kept(tmp_path, "100 complete trials per search, space mlp_gn")
    assert kept.take_up(5, "default") is None
    kept.keep(5, "default", run)
    assert kept.take_up(5, "default") == run
    assert kept.take_up(4, "default") is None and kept.take_up(5, "random") is None
    fewer = kept_module.Kept(tmp_path, "50 complete trials per search, space mlp_gn")
    with pytest.raises(SystemExit, match="another budget or code"):
        fewer.take_up(5, "default")
    monkeypatch.setattr(kept_module, "commit", lambda: "b" * 40)
    with pytest.raises(SystemExit, match="run from that commit"):
        kept.take_up(5, "default")
    measured = []
    assert kept.run(5, "cnn_psd", lambda: measured.append(1) or {"designs": []}) == \
        kept.run(5, "cnn_psd", lambda: measured.append(2) or {"designs": [1]})
    assert measured == [1]  # measured once, then taken up
    kept.discard([5])
    assert not (tmp_path / "seed5").exists()
    kept_module.Kept(None, "").keep(5, "default", run)  # nothing kept without a folder


def _design(method: str, seed: int, accuracy: float, lut: int, test: float | None = None) -> dict:
    return {"method": method, "space": "mlp_psd", "seed": seed, "val_accuracy": accuracy,
            "test_accuracy": accuracy if test is None else test, "lut": lut, "ff": lut,
            "latency_cycles": 3, "bit_exact": True, "estimate": {"lut": lut, "ff": lut}}


def test_a_seed_without_our_design_at_an_accuracy_is_a_miss_never_averaged():
    bench = _module("bench_workflows")
    # at 98.9 %: seed 0 neither method, seed 1 ours at 0.2x HGQ2's LUTs, seed 2 HGQ2 alone
    # a design whose test accuracy reaches a level its validation accuracy does not is not
    # chosen there: seed 2's default at 98.9 % test, 98.6 % validation
    designs = {0: {"default": [(0.986, 2000)], "hgq2_sweep": [(0.985, 3000)]},
               1: {"default": [(0.9895, 2000)], "hgq2_sweep": [(0.9895, 10000)]},
               2: {"default": [(0.986, 2000, 0.990)], "hgq2_sweep": [(0.990, 12000)]}}
    runs = {seed: {method: {"designs": [_design(method, seed, *d) for d in by.get(method, [])],
                            "search_seconds": 60.0, "synth_seconds": 60.0}
                   for method in bench.METHODS}
            for seed, by in designs.items()}
    for seed, run in runs.items():
        run["random"]["designs"] = [_design("random", seed, 0.98, 4000)]
        run["manual"]["designs"] = [_design("manual", seed, 0.97, 6000)]
        run["reference"]["designs"] = [_design("reference", seed, 0.978, 7000)]
    found = {t["name"].split(" (")[0]: t for t in bench.targets(runs, dict.fromkeys(runs, 1.0))}
    at_98_9 = found["at 98.9 %: LUT of the default's smallest design / HGQ2's"]
    assert at_98_9["measured"] == _module("harness").MISSED and not at_98_9["met"]
    assert at_98_9["detail"] == "per seed: neither, 0.20, HGQ2 only"
    at_98_5 = found["at 98.5 %: LUT of the default's smallest design / HGQ2's"]
    assert at_98_5["measured"] == pytest.approx(0.2) and at_98_5["met"]  # of 0.67, 0.2, 0.17
    at_98_0 = found["at 98.0 %: LUT of the default's smallest design / random's"]
    assert at_98_0["detail"] == "per seed: 0.50, 0.50, 0.50" and at_98_0["met"]


def test_a_readme_block_that_drifts_is_caught():
    render = _module("render_results")
    readme = (REPO / "README.md").read_text()
    drifted = readme.replace("<!-- results:bench -->\n", "<!-- results:bench -->\n| a typed row |\n", 1)
    assert drifted != readme and render.with_blocks(drifted, render.readme_blocks()) == readme


def test_a_missed_target_on_the_second_application_is_listed_with_its_space():
    render = _module("render_results")
    missed = {"name": "at 98.0 %: LUT of the default's smallest design / HGQ2's (median of "
                      "seeds)", "measured": 0.9, "goal": 0.7, "comparison": "<=", "met": False,
              "detail": "per seed: 0.90"}
    lines = render.not_yet({"targets": []}, None, second={"targets": [missed]})
    assert lines == [f"* `make bench` on mlp_gn target missed: {missed['name']}: measured "
                     f"0.90, goal <= 0.7 (per seed: 0.90)."]
    assert render.not_yet({"targets": []}, None, second={"targets": [{**missed, "met": True}]}) \
        == ["* Every measured target is met."]


@pytest.fixture(scope="module")
def quick_bench(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench_out")
    process = subprocess.run(
        [sys.executable, str(BENCH / "bench_workflows.py"), "--quick", "--out", str(out),
         "--workdir", str(tmp_path_factory.mktemp("bench_studies"))],
        capture_output=True, text=True, timeout=1500)
    assert process.returncode == 0, process.stdout[-2000:] + process.stderr[-3000:]
    return json.loads((out / "RESULTS.json").read_text()), (out / "RESULTS.md").read_text()


@pytest.mark.slow
@pytest.mark.timeout(1800)  # whichever runs first also runs the harness (quick_bench)
def test_every_method_and_seed_delivers_synthesized_designs(quick_bench):
    result, text = quick_bench
    bench = _module("bench_workflows")
    assert result["seeds"] == [0] and result["methods"] == list(bench.METHODS)
    for seed in result["seeds"]:
        runs = result["runs"][str(seed)]
        for method in ("default", "random", "manual"):
            assert runs[method]["trials"]["complete"] == 2, method
        for method in bench.METHODS:
            designs = [d for d in result["designs"] if d["method"] == method and d["seed"] == seed]
            assert designs, (method, seed)
            assert all(set(d) >= FIELDS and d["lut"] > 0 for d in designs)
    peer = [d for d in result["designs"] if d["method"].startswith("hgq2")]
    assert all(d["bit_exact"] for d in peer)  # HGQ2's RTL equals its model in Verilator
    sweep = result["runs"]["0"]["hgq2_sweep"]
    assert sweep["budget_seconds"] == result["runs"]["0"]["default"]["search_seconds"]
    # The sweep's first schedule is the fixed one: it takes up that run and its synthesis (the
    # same record, seconds included), trained and synthesized once.
    fixed = {d["trial"]: d for d in peer if d["method"] == "hgq2"}
    taken = [d for d in peer if d["method"] == "hgq2_sweep" and d["trial"] in fixed]
    assert taken and all(d == {**fixed[d["trial"]], "method": "hgq2_sweep"} for d in taken)
    assert 1 <= len(sweep["schedules"]) <= len(bench.peer_hgq2.QUICK_SWEEP)
    assert result["peer_tools"]["hgq2"] == "0.2.0" and "yosys" not in result["peer_tools"]
    assert _module("render_results").render(result) == text
    assert "| reference recipe 30-8-4 |" in text  # named by the shape it was measured at
    # --quick has no held-out seed: the trainer-in-the-loop paragraph says so, not "needs  of"
    assert result["targets"] == [] and "(no held-out seed measured yet)" in text


@pytest.mark.slow
@pytest.mark.timeout(1800)  # whichever runs first also runs the harness (quick_bench)
def test_manual_workflow_searches_layers_only_at_the_fixed_precision(quick_bench):
    from nas.model.config import StudentConfig

    result, _ = quick_bench
    bench = _module("bench_workflows")
    reference = bench.reference_recipe(bench.QUICK_REFERENCE_HIDDEN)
    for seed in result["seeds"]:
        manual = [d for d in result["designs"] if d["method"] == "manual" and d["seed"] == seed]
        assert result["runs"][str(seed)]["manual"]["delivered_trial"] in [d["trial"] for d in manual]
        for design in manual:
            config = design["config"]
            assert set(config["weight_bits"]) == {8} and set(config["act_bits"]) <= {8}
            assert config["sparsity"] == reference.sparsity
        ref = [d for d in result["designs"] if d["method"] == "reference" and d["seed"] == seed]
        assert [StudentConfig.from_dict(d["config"]) for d in ref] == [reference]


@pytest.mark.slow
@pytest.mark.timeout(1800)  # whichever runs first also runs the harness (quick_bench)
def test_targets_follow_from_the_synthesized_designs(quick_bench):
    result, _ = quick_bench
    _check_targets(result)
    by_name = {t["name"].split(" (")[0]: t for t in result["targets"] + result["tuning_targets"]}
    for seed in result["seeds"]:
        def smallest(method, accuracy, seed=seed):
            return min((d["lut"] for d in result["designs"] if d["method"] == method
                        and d["seed"] == seed and d["bit_exact"]
                        and d["val_accuracy"] >= accuracy), default=None)
        ours, theirs = smallest("default", 0.98), smallest("hgq2_sweep", 0.98)
        shown = by_name["at 98.0 %: LUT of the default's smallest design / "
                        "HGQ2's"]["detail"].split(": ")[1].split(", ")[seed]
        if ours and theirs:
            assert float(shown) == pytest.approx(ours / theirs, abs=0.005)
        elif ours is None and theirs is None:
            assert shown == "neither"
    wins = by_name["seeds where the default has a design as accurate as the reference recipe "
                   "with <= 1/5 of its LUTs and no more latency"]
    n_seeds = len(result["seeds"])
    assert 0 <= wins["measured"] <= n_seeds and wins["goal"] == n_seeds
    front = [d for d in result["designs"] if d["method"] == "default" and d["bit_exact"]]
    lut_errors = [abs(d["estimate"]["lut"] - d["lut"]) / d["lut"] for d in front]
    assert by_name["trace estimator's worst LUT error % on the default's fronts"]["measured"] \
        == pytest.approx(100 * max(lut_errors))
    assert by_name["trace estimator's LUT MAPE % on the default's fronts"]["measured"] == \
        pytest.approx(100 * sum(lut_errors) / len(lut_errors))


def _only_seeds(result: dict, seeds: list[int]) -> dict:
    """The part of ``result`` measured on ``seeds``, as a run of those seeds alone writes it."""
    return {**result, "seeds": seeds, "parts": None,
            "budget": result["budget"].replace(f"seeds {result['seeds']}", f"seeds {seeds}"),
            "designs": [d for d in result["designs"] if d["seed"] in seeds],
            "runs": {s: r for s, r in result["runs"].items() if int(s) in seeds},
            "teacher_seconds": {s: v for s, v in result["teacher_seconds"].items()
                                if int(s) in seeds}}


def test_held_out_seeds_are_merged_and_decide_the_targets():
    bench = _module("bench_workflows")
    tuning = _only_seeds(json.loads((BENCH / "RESULTS.json").read_text()),
                         list(bench.TUNING_SEEDS))
    seed = str(tuning["seeds"][0])
    held_out = {**tuning, "seeds": [7], "date": "2026-12-06 00:00 UTC", "total_minutes": 60.0,
                "machine": "another machine",
                "budget": tuning["budget"].replace(f"seeds {tuning['seeds']}", "seeds [7]"),
                "designs": [{**d, "seed": 7} for d in tuning["designs"] if d["seed"] == int(seed)],
                "runs": {"7": tuning["runs"][seed]},
                "teacher_seconds": {"7": tuning["teacher_seconds"][seed]}}
    result = bench.merged([tuning, held_out])
    assert result["seeds"] == [*tuning["seeds"], 7] and "seeds [0, 1, 2, 7]" in result["budget"]
    assert result["tuning_targets"] == tuning["tuning_targets"]
    # seed 7 holds seed 0's designs: its targets are seed 0's per-seed values
    levels = [t for t in tuning["tuning_targets"] if t["name"].startswith("at ")]
    first = [t["detail"].removeprefix("per seed: ").split(", ")[0] for t in levels]
    assert [t["detail"].removeprefix("per seed: ") for t in result["targets"]
            if t["name"].startswith("at ")] == first
    # each run keeps the machine it ran on
    assert result["machine"] == f"{tuning['machine']}; another machine"
    assert "seeds 7, 60 min, on another machine" in _module("render_results").render(result)
    with pytest.raises(SystemExit, match="other seeds"):
        bench.merged([tuning, tuning])


def test_a_partial_held_out_run_scores_only_the_methods_it_ran():
    bench, render = _module("bench_workflows"), _module("render_results")
    tuning = _only_seeds(json.loads((BENCH / "RESULTS.json").read_text()),
                         list(bench.TUNING_SEEDS))
    ran = ("default", "random")
    partial = {**tuning, "seeds": [9], "methods": list(ran), "total_minutes": 30.0,
               "budget": tuning["budget"].replace(f"seeds {tuning['seeds']}", "seeds [9]"),
               "designs": [{**d, "seed": 9} for d in tuning["designs"]
                           if d["seed"] == tuning["seeds"][0] and d["method"] in ran],
               "runs": {"9": {m: tuning["runs"][str(tuning["seeds"][0])][m] for m in ran}},
               "teacher_seconds": {"9": 1.0}}
    result = bench.merged([tuning, partial])
    names = [t["name"] for t in result["targets"]]
    assert sum("random's" in n for n in names) == len(bench.ACCURACIES)
    assert not any("HGQ2's" in n or "manual's" in n or "reference" in n for n in names)
    assert result["methods"] == tuning["methods"]  # what either part ran
    assert "not run yet" in render.render(result)


def test_the_sweep_covers_every_shape_and_beta_before_repeating_one():
    peer = _module("peer_hgq2")
    shapes, betas = ((16,), (32,), (64,), (32, 16)), (1e-4, 3e-5, 3e-4, 1e-5)
    order = peer.sweep(shapes, betas, 600)
    assert len({(s.hidden, s.beta_max) for s in order}) == len(order) == 16
    for start in range(0, 16, 4):
        cycle = order[start:start + 4]
        assert {s.hidden for s in cycle} == set(shapes)
        assert {s.beta_max for s in cycle} == set(betas)
    assert (order[0].hidden, order[0].beta_max) == ((16,), 1e-4)
    with pytest.raises(ValueError, match="as many shapes as betas"):
        peer.sweep(shapes, betas[:3], 600)


def test_the_sweep_trains_while_its_seconds_are_under_the_budget():
    peer = _module("peer_hgq2")
    order = peer.sweep(((16,), (32,)), (1e-4, 3e-4), 10)
    seconds = {s.name: 100.0 + 10 * k for k, s in enumerate(order)}  # 100, 110, 120, 130

    def trained(budget):
        return [s.name for s in peer._train_within(order, budget, lambda s: seconds[s.name])]

    assert trained(None) == [s.name for s in order]
    assert trained(250.0) == [s.name for s in order[:3]]  # 210 < 250: the third starts
    assert trained(210.0) == [s.name for s in order[:2]]  # 210 reaches it: no third
    assert trained(0.0) == []


def test_the_second_application_runs_its_own_space_with_every_seed_held_out(tmp_path):
    bench = _module("bench_workflows")
    budget = bench.Budget(trials=2, seeds=(0,), jobs=1, quick=False, space="mlp_gn")
    assert "space mlp_gn;" in budget.describe()
    for method in ("default", "random", "manual"):
        assert bench.method_settings(method, 0, budget, tmp_path).space.n_inputs == 35
    tuning = _only_seeds(json.loads((BENCH / "RESULTS.json").read_text()),
                         list(bench.TUNING_SEEDS))
    result = bench.scored({**tuning, "tuning_seeds": list(bench.TUNED_ON["mlp_gn"])})
    assert result["targets"] and not result["tuning_targets"]
    assert [t["detail"] for t in result["targets"]] == [t["detail"] for t in tuning["tuning_targets"]]


@pytest.mark.slow
@pytest.mark.timeout(1800)  # whichever runs first also runs the harness (quick_bench)
def test_hgq2_as_the_trainer_inside_our_loop_screens_and_synthesizes(quick_bench, tmp_path):
    """Issue 29 item 6's loop at a tiny budget: its first trial is our first starting plan
    (within the quick space's widths), trained by HGQ2 past its screening (the first trials
    always go on), its converted front synthesized bit-exact and scored level by level
    against the quick bench's default search."""
    result, _ = quick_bench
    results = tmp_path / "RESULTS.json"
    results.write_text(json.dumps(result))
    out = tmp_path / "loop.json"
    process = subprocess.run(
        [sys.executable, str(BENCH / "bench_hgq2_search.py"), "--quick", "--seed", "0",
         "--budget-seconds", "5", "--results", str(results), "--out", str(out),
         "--workdir", str(tmp_path / "work")], capture_output=True, text=True, timeout=900)
    assert process.returncode == 0, process.stdout[-2000:] + process.stderr[-3000:]
    entry = json.loads(out.read_text())["seeds"]["0"]
    first = entry["trials"][0]
    from nas.search.sampling import starting_plans
    from nas.spaces import get_space

    plan = starting_plans(_module("bench_workflows").quick_space(get_space("mlp_psd")).student)[0]
    assert (first["hidden"], first["beta_max"]) == ([plan["width_1"]], plan["beta"])
    assert first["went_on"] and first["epochs"] == entry["epochs"][1] > entry["epochs"][0]
    assert entry["designs"] and all(d["bit_exact"] and d["method"] == "hgq2_search"
                                    for d in entry["designs"])
    default = [d for d in result["designs"] if d["method"] == "default" and d["seed"] == 0]
    for row in entry["levels"]:
        loop = [d["lut"] for d in entry["designs"] if d["val_accuracy"] >= row["level"]]
        ours = [d["lut"] for d in default if d["bit_exact"] and d["val_accuracy"] >= row["level"]]
        assert (row["hgq2_search"] or {}).get("lut") == (min(loop) if loop else None)
        if ours and loop:
            assert row["default_over_loop"] == pytest.approx(min(ours) / min(loop))


def test_the_loop_table_scores_each_level_and_takes_the_median_over_seeds():
    render = _module("render_results")

    def pick(lut):
        return None if lut is None else {"lut": lut, "val_accuracy": 0.985,
                                         "test_accuracy": 0.98, "latency_cycles": 3}

    def entry(levels):
        return {"date": "2026-12-06", "machine": "m", "versions": {"hgq2": "0.2.0",
                                                                   "da4ml": "0.6.0"},
                "epochs": [90, 300], "budget_seconds": 900.0, "search_seconds": 950.0,
                "load_average": [2.0, 3.0], "designs": [{"bit_exact": True}],
                "trials": [{"went_on": True}, {"went_on": False}],
                "levels": [{"level": level, "default": pick(ours), "hgq2_search": pick(loop),
                            "hgq2_sweep": None, "default_over_loop": ratio,
                            "loop_over_sweep": None}
                           for level, ours, loop, ratio in levels]}

    loop = {"seeds": {"3": entry([(0.98, 1000, 2000, 0.5), (0.989, None, 3000, 99.0)]),
                      "4": entry([(0.98, 1500, 1000, 1.5), (0.989, 2000, None, 0.0)])}}
    lines = render.hgq2_loop_tables(loop)
    assert "| 3 | 900 | 950 | 2 (1) | 1 (1) | 2.0, 3.0 |" in lines
    assert lines[-1] == ("Default / HGQ2 in our loop, median of seeds 3, 4: 1.50 at 98.0 %, "
                         "no design of ours at 98.9 %.")
    assert any("| 4 | 98.9 % |" in line and "only the default reaches it" in line
               for line in lines)


def test_the_seeded_plans_lose_at_97_5_percent_on_both_tuning_seeds():
    # README (under the variants table): the seeded starting plans, run as make bench runs the
    # default, give a larger smallest design at 97.5 % on seeds 0 and 1 and a larger one at
    # 98.0 % on seed 1, about level on seed 0; the claim recomputed from the committed runs.
    smallest_at = _module("harness").smallest_at
    folder = BENCH / "results" / "seeded_plans"

    def lut(variant: str, seed: int, level: float) -> int:
        kept = json.loads((folder / variant / f"seed{seed}" / "default.json").read_text())
        assert kept["budget"].startswith("100 complete trials")
        designs = kept["run"]["designs"]
        assert {d["seed"] for d in designs} == {seed}
        return smallest_at(designs, level)["lut"]

    for seed in (0, 1):
        assert lut("seeded", seed, 0.975) > lut("default", seed, 0.975)
    assert lut("seeded", 1, 0.98) > lut("default", 1, 0.98)
    assert abs(lut("seeded", 0, 0.98) / lut("default", 0, 0.98) - 1) < 0.02
