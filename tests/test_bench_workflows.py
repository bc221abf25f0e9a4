"""``benchmarks/bench_workflows.py --quick``: the harness of ``make bench`` works end to end.

One real run (training, open-flow synthesis of every selected design, all four methods, two
seeds), then checks that what the results say follows from the designs it synthesized.
"""

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO

BENCH = REPO / "benchmarks"


@pytest.fixture(scope="module")
def quick_bench(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench_out")
    process = subprocess.run(
        [sys.executable, str(BENCH / "bench_workflows.py"), "--quick", "--out", str(out),
         "--workdir", str(tmp_path_factory.mktemp("bench_studies"))],
        capture_output=True, text=True, timeout=900)
    assert process.returncode == 0, process.stderr[-3000:]
    return json.loads((out / "bench_workflows.json").read_text()), (out / "RESULTS.md").read_text()


def _bench_module():
    sys.path.insert(0, str(BENCH))
    try:
        import bench_workflows
    finally:
        sys.path.remove(str(BENCH))
    return bench_workflows


@pytest.mark.slow
def test_every_method_and_seed_is_run_on_the_stated_budget(quick_bench):
    result, _ = quick_bench
    bench = _bench_module()
    assert sorted(result["runs"]) == ["0", "1"]
    for runs in result["runs"].values():
        assert set(runs) == set(bench.METHODS)
        for method in ("search", "random", "manual"):
            assert runs[method]["trials"]["complete"] == 2, method
            assert runs[method]["trials_per_hour"] > 0
        assert len(runs["reference"]["designs"]) == 1
    assert "2 complete trials per search" in result["budget"]


@pytest.mark.slow
def test_manual_workflow_searches_layers_only_at_the_fixed_precision(quick_bench):
    from nas.model.config import StudentConfig

    result, _ = quick_bench
    bench = _bench_module()
    reference = bench.reference_recipe()
    for runs in result["runs"].values():
        manual = runs["manual"]
        assert manual["delivered_trial"] in [d["trial"] for d in manual["designs"]]
        for design in manual["designs"]:
            config = design["config"]
            assert set(config["weight_bits"]) == {8} and set(config["act_bits"]) <= {8}
            assert config["sparsity"] == reference.sparsity
        assert StudentConfig.from_dict(runs["reference"]["designs"][0]["config"]) == reference


@pytest.mark.slow
def test_scores_follow_from_the_synthesized_designs(quick_bench):
    from nas.search.front import hypervolume_2d

    result, _ = quick_bench
    bench = _bench_module()
    for runs in result["runs"].values():
        reference = runs["reference"]["designs"][0]
        assert reference["lut"] > 0 and reference["latency_cycles"] > 0
        for method in bench.METHODS:
            designs, scored = runs[method]["designs"], runs[method]["score"]
            hv = hypervolume_2d(np.array([d["test_accuracy"] for d in designs]),
                                np.array([d["lut"] for d in designs], dtype=float),
                                *bench.HV_REFERENCE)
            assert scored["hypervolume"] == pytest.approx(hv)
            as_accurate = [d for d in designs if d["test_accuracy"] >= reference["test_accuracy"]]
            expected = min((d["lut"] for d in as_accurate), default=None)
            smallest = scored["smallest_as_accurate"]
            assert (smallest["lut"] if smallest else None) == expected
    summary = result["summary"]
    hv = summary["median_hypervolume"]
    if hv["random"]:
        assert summary["targets"]["hv_ratio_vs_random"] == pytest.approx(hv["search"] / hv["random"])
    for method in bench.METHODS:
        assert len(summary["methods"][method]["hypervolume"]) == 2


@pytest.mark.slow
def test_synthesized_designs_carry_their_estimate_and_the_tools(quick_bench):
    result, text = quick_bench
    designs = [d for runs in result["runs"].values() for m in ("search", "random", "manual")
               for d in runs[m]["designs"]]
    assert designs
    for design in designs:
        assert design["lut"] > 0 and design["estimate"]["lut"] > 0
    assert result["estimator"]["n"] == len(designs)
    assert 0 <= result["estimator"]["errors"]["lut"]["mape"] < 100
    for tool in ("yosys", "verilator", "da4ml", "qkeras", "optuna"):
        assert tool in result["tools"]
    for label in ("search", "random", "manual"):
        assert f"| {label} |" in text  # the per-seed tables name each search method
    assert "## Targets" in text and result["machine"] in text
