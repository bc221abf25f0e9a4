"""``benchmarks/bench_deploy.py``: the committed ``results/deploy.md`` is what
``render_deploy.py`` writes from ``results/deploy.json``, and every "met" in them follows from
the measured values."""

import copy
import json
import sys

from conftest import REPO

BENCH = REPO / "benchmarks"
RESULT = BENCH / "results" / "deploy.json"


def _render():
    sys.path.insert(0, str(BENCH))
    try:
        return __import__("render_deploy")
    finally:
        sys.path.remove(str(BENCH))


def test_the_committed_deploy_results_are_rendered_from_their_json():
    render = _render()
    result = json.loads(RESULT.read_text())
    assert RESULT.with_suffix(".md").read_text() == render.render(result)
    assert result["designs"] and {b["board"] for b in result["boards"]} == \
        {"pynq-z1", "zedboard", "kv260", "artix7"}
    cnn = [result["cnn"], result["cnn"]["scores_only"]] if result.get("cnn") else []
    for design in result["designs"] + cnn:
        lut_met = design["wrapper_lut"] <= max(100, 0.05 * design["bare_lut"])
        assert design["wrapper_lut_met"] == lut_met
        assert design["bit_exact"] == (design["exact_events"] == design["received"]
                                       == design["events"] and design["extra_beats"] == 0
                                       and design["batch_ends_exact"])
    for board in result["boards"]:
        assert board["met"] == (board["seconds"] < 120)


def test_a_missed_target_is_rendered_as_missed():
    render = _render()
    result = json.loads(RESULT.read_text())
    assert "**missed**" not in render.targets(result)[0]
    worse = copy.deepcopy(result)
    design = worse["designs"][0]
    design.update(wrapper_lut=int(max(100, 0.05 * design["bare_lut"])) + 1, exact_events=0)
    worse["boards"][0]["seconds"] = 121.0
    lines = render.targets(worse)
    assert "**missed**" in lines[0] and "**missed**" in lines[3] and "**missed**" in lines[4]
    assert "| **missed** |" in "\n".join(render.designs_table(worse["designs"]))
