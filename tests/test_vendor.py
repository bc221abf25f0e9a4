"""The vendor-HLS estimator: the binding rule, DSP widths, the expected weight statistics,
the structure of the latency model, leave-one-group-out evaluation on synthetic data whose
answer is known, the hls4ml project and table readers on ../shared, ``nas estimate``, the
part-family checks of ``nas calibrate`` and ``nas run``."""

import dataclasses
import json
import resource
import subprocess
import sys
import warnings

import numpy as np
import pytest
from conftest import REPO, SHARED, bench_module, run_nas, tiny_space
from test_cli import assert_user_error

from nas.errors import DataWarning
from nas.estimators.base import QUANTITIES
from nas.estimators.calibration import (
    Calibration,
    cross_predict,
    default_calibration,
    error_table,
    evaluation_folds,
    measured_matrix,
)
from nas.estimators.vendor.design import (
    ElementInputs,
    Live,
    VendorDesign,
    VendorLayer,
    WeightStats,
    design_from_facts,
    multiplied_bits,
    read_outputs,
)
from nas.estimators.vendor.estimator import (
    FIXED,
    FULL_PIPELINE_NS,
    MULTIPLIER_NS,
    VendorEstimator,
)
from nas.estimators.vendor.extrapolation import extrapolations
from nas.estimators.vendor.rules import (
    MAX_TABLE_INPUT_BITS,
    MIN_DSP_INPUT_BITS,
    ODD_PART_TOOLS,
    dsp_slices,
    interval,
    plan,
    tree_bits,
)
from nas.hls.fact_tables import merge_folders, read_table
from nas.hls.project_facts import DenseFacts, FixedType, ProjectFacts, read_project

PUBLIC = SHARED / "calibration" / "public_hls4ml_mlp"
TUTORIAL = SHARED / "reports" / "hls4ml_tutorial"
needs_shared = pytest.mark.skipif(not SHARED.exists(), reason="../shared is not beside the project")


def test_binding_rule_counts_multipliers_by_csd_digits_and_odd_part():
    # 21 = 10101b (3 CSD digits, odd part 5 bits), 45 = 64-16-4+1 (4 digits, 6 bits) and
    # -93 = -(128-32-4+1) (4 digits, 7 bits) stay multipliers; 1, 2, 3 = 4-1 and 127 = 128-1
    # (one or two digits) are shifts and adds; 0 costs nothing.
    stats = WeightStats.of(np.array([0, 1, 2, 3, 21, 45, 127, -93]))
    assert stats.nonzero == 7 and stats.multipliers == 3
    assert stats.shift_add_digits == 1 + 1 + 2 + 2 and stats.multiplier_digits == 3 + 4 + 4
    assert stats.exact and stats.multiplier_bits == 8  # 93 needs 7 magnitude bits and a sign


def test_vivado_hls_keeps_a_constant_of_a_narrow_odd_part_as_a_multiplier(tmp_path):
    """11 = 16 - 4 - 1 has three CSD digits and a 4-bit odd part: Vitis HLS folds it into
    shifts and adds, Vivado HLS keeps it a multiplier, so it counts against the Latency
    strategy's multiplier limit (the passes at a reuse factor) and binds a DSP."""
    assert ODD_PART_TOOLS == ("Vitis HLS",)
    constants = np.array([11, 13, 21, 3])  # 13 = 16 - 4 + 1; 21 = 10101b, a 5-bit odd part
    assert WeightStats.of(constants).multipliers == 1
    assert WeightStats.of(constants, odd_part=False).multipliers == 3
    facts = read_project(_hgq_project(tmp_path / "p", [12] * 4, [5, 5, 5], "0.0859375"))
    vitis, vivado = (design_from_facts(dataclasses.replace(facts, tool=tool))
                     for tool in ("Vitis HLS 2023.2", "Vivado HLS 2019.2"))
    assert vitis.layers[0].weights.multipliers == 0 and vivado.layers[0].weights.multipliers == 12
    assert plan(vivado.layers[0], "ultrascale").dsp_products == 12
    folding = design_from_facts(dataclasses.replace(facts, tool="Vivado HLS 2019.2"),
                                odd_part_tools=("Vitis HLS", "Vivado HLS"))
    assert folding.layers == vitis.layers


def test_dsp_slices_follow_the_families_ports():
    assert dsp_slices("xc7", 16, 16) == dsp_slices("ultrascale", 16, 16) == 1
    assert dsp_slices("xc7", 27, 18) == 2 and dsp_slices("ultrascale", 27, 18) == 1
    assert dsp_slices("xc7", 32, 16) == 2 and dsp_slices("xc7", 32, 32) == 4
    assert dsp_slices("xc7", 0, 16) == 0


@pytest.mark.parametrize("distribution", ["normal", "uniform"])
def test_expected_statistics_match_counting_weights_of_that_distribution(distribution):
    rng = np.random.default_rng(0)
    weight, n_in = FixedType(10, 1), 32
    scale = 1.0 / np.sqrt(n_in)
    values = rng.normal(0.0, scale, 200_000) if distribution == "normal" else \
        rng.uniform(-np.sqrt(3.0) * scale, np.sqrt(3.0) * scale, 200_000)
    mantissas = np.clip(np.floor(values * 2**weight.fraction), -512, 511)
    counted = WeightStats.of(mantissas)
    expected = WeightStats.expected(counted.nonzero, weight, n_in, distribution)
    for name in ("multipliers", "shift_add_digits", "multiplier_digits"):
        assert getattr(expected, name) == pytest.approx(getattr(counted, name), rel=0.02), name
    # Wider weight grids leave more constants that are worth a multiplier.
    shares = [WeightStats.expected(1000, FixedType(bits, 1), n_in).multipliers
              for bits in (4, 6, 8, 10, 12, 14)]
    assert shares[0] == 0 and all(a < b for a, b in zip(shares[1:], shares[2:], strict=False))


def _layer(n_in: int, n_out: int, reuse: int = 1, strategy: str = "latency",
           activation: str = "relu", bits: int = 16) -> VendorLayer:
    stats = WeightStats.expected(n_in * n_out, FixedType(bits, 6), n_in)
    return VendorLayer(n_in, n_out, bits, bits, bits, bits, reuse, strategy, activation, stats)


def _design(layers, family: str = "ultrascale", period: float = 5.0,
            tool: str = "Vitis HLS") -> VendorDesign:
    return VendorDesign(tuple(layers), "io_parallel", family, 0.7 if family == "ultrascale"
                        else 1.0, period, 0.27 * period, tool)


def test_shipped_latency_grows_with_reuse_and_layers_as_hls4ml_does():
    estimator = default_calibration("vitis").estimator("vendor_hls")
    for family in ("xc7", "ultrascale"):
        cycles, intervals = [], []
        for reuse in (1, 2, 4, 8, 16):
            design = _design([_layer(16, 64, reuse), _layer(64, 32, reuse)], family)
            cycles.append(estimator.predict_one(design).latency_cycles)
            intervals.append(interval(design))
        assert all(a <= b for a, b in zip(cycles, cycles[1:], strict=False)), (family, cycles)
        assert cycles[-1] >= cycles[0] + 8, (family, cycles)  # 16 passes over shared DSPs
        assert intervals[0] == 1 and intervals == sorted(intervals) and intervals[-1] >= 8
        shallow = _design([_layer(16, 64), _layer(64, 5, activation="linear")], family)
        deep = _design([_layer(16, 64), _layer(64, 32), _layer(32, 32),
                        _layer(32, 5, activation="linear")], family)
        assert estimator.predict_one(deep).latency_cycles > \
            estimator.predict_one(shallow).latency_cycles
    # A slower clock period holds more adder levels per cycle: fewer cycles.
    fast = _design([_layer(64, 64), _layer(64, 64)], "xc7", period=4.0)
    slow = _design([_layer(64, 64), _layer(64, 64)], "xc7", period=20.0)
    assert estimator.predict_one(slow).latency_cycles < estimator.predict_one(fast).latency_cycles


def test_shipped_latency_counts_a_register_between_two_layers():
    # The wa-hls4ml sweep's lone layers are mostly combinational (0 cycles), the public
    # networks pay a register where one layer hands over to the next: a second layer costs
    # its own delays and at least one cycle more.
    # Unrounded: the estimate rounds its cycles, 3.6 to 4 and 2 x 3.6 + 1.1 to 8.
    estimator = default_calibration("vitis").estimator("vendor_hls")
    for family in ("xc7", "ultrascale"):
        lone, pair = estimator._values([_design([_layer(32, 32, bits=2)] * count, family)
                                        for count in (1, 2)])["latency_cycles"]
        assert pair >= 2 * lone + 1, (family, lone, pair)


def test_shipped_luts_count_each_further_layers_module():
    # hls4ml's layers are modules of their own, each with its control: a second layer costs
    # its own logic (what it costs built alone, less the design's constant: the interface and
    # control it then pays) and at least 100 LUTs more.
    estimator = default_calibration("vitis").estimator("vendor_hls")
    constant = dict(zip(estimator.quantity_features["lut"], estimator.coefficients["lut"],
                        strict=True))["design"]
    first, second = _layer(8, 8), _layer(8, 4, activation="linear")
    for family in ("xc7", "ultrascale"):
        alone = [estimator.predict_one(_design([x], family)).lut for x in (first, second)]
        chained = estimator.predict_one(_design([first, second], family)).lut
        assert chained > alone[0] + alone[1] - constant + 100, (family, chained, alone)


def test_a_period_longer_than_a_product_needs_no_multiplier_pipeline():
    # pominiq's 4-128-3 network at 25 ns (the one public clock that is not 5 ns) reports 2,767
    # FFs at reuse 1: its 16x16 DSP products fit the period; registers scaled by 1 / period
    # alone estimated 15,181 there.
    network = [_layer(4, 128), _layer(128, 3, activation="linear")]
    registers = {period: tuple(VendorEstimator().features(_design(network, "xc7", period))[name]
                               for name in ("multiplier_pipeline_bits_xc7",
                                            "multiplier_stage_bits_xc7"))
                 for period in (5.0, 10.0, 25.0)}
    # 3.65 usable ns: the DSP48E1's whole pipeline; 7.3: one register; 18.25: none
    assert registers[5.0][0] > 0.0 == registers[5.0][1]
    assert registers[10.0][1] > 0.0 == registers[10.0][0]
    assert registers[25.0] == (0.0, 0.0)
    shipped = default_calibration("vitis").estimator("vendor_hls")
    # As pominiq built it: Vivado HLS, its 12.5 % clock uncertainty.
    ff = {period: shipped.predict_one(dataclasses.replace(
              _design(network, "xc7", period, tool="Vivado HLS"),
              clock_uncertainty_ns=0.125 * period)).ff for period in (5.0, 25.0)}
    assert ff[25.0] < 5_000 < ff[5.0]


def test_the_interval_is_scored_against_the_reports_and_an_unpipelined_top_is_named():
    bench = bench_module("bench_vendor_hls")
    shared = _design([_layer(16, 8, reuse=4)])
    dataflow = dataclasses.replace(_design([_layer(32, 32, strategy="resource")]), dataflow=True)
    shipped = default_calibration("vitis").estimator("vendor_hls")
    rows = [{"design": _design([_layer(16, 8)]).to_dict(), "interval": 1,
             "measured": {"latency_cycles": 3.0}},
            {"design": shared.to_dict(), "interval": interval(shared) + 2,
             "measured": {"latency_cycles": 20.0}},
            # Reported as a process that is not pipelined: its latency + 1, taken as one
            # pipeline (the rule says 1), then as the DATAFLOW region it is.
            {"design": _design([_layer(32, 32, strategy="resource")]).to_dict(), "interval": 2,
             "measured": {"latency_cycles": 1.0}},
            {"design": dataflow.to_dict(), "interval": shipped.interval(dataflow),
             "measured": {"latency_cycles": shipped.interval(dataflow) - 1.0}}]
    table = bench.interval_errors(rows, np.array([False, False, True, True]),
                                  np.array(["latency", "latency", "resource", "resource"]))
    assert table["public reports, latency strategy, reuse 1"] == \
        {"n": 1, "mape": 0.0, "exact": 1, "missed_unpipelined": 0}
    shared_row = table["public reports, latency strategy, reuse > 1"]
    assert shared_row["exact"] == 0 and shared_row["missed_unpipelined"] == 0
    assert shared_row["mape"] > 0
    assert table["wa-hls4ml-search sweep, resource strategy, reuse 1"] == \
        {"n": 2, "mape": 25.0, "exact": 1, "missed_unpipelined": 1}
    assert len(table) == 3


def test_a_scale_per_repository_leaves_only_the_spread_within_each_repository():
    bench = bench_module("bench_vendor_hls")
    reports = [100.0, 200.0, 400.0, 1000.0, 3000.0]
    # Repository a: every estimate half its report; b: one a third of its report, the other
    # two thirds.
    estimates = [50.0, 100.0, 200.0, 1000.0 / 3, 2000.0]
    rows = [{"group": group, "measured": {q: value for q in QUANTITIES}}
            for group, value in zip("aaabb", reports, strict=True)]
    predicted = np.array([[value] * len(QUANTITIES) for value in estimates])
    left = bench.scaled_per_repository(rows, predicted, np.ones(5, dtype=bool))
    # a's factor of 2 fits all three; b's best factor is 1.5 (the weighted median: 3 would
    # miss the other design by 100 %), which leaves its first design 50 % short: 50 / 5 designs.
    assert left == dict.fromkeys(bench.SHOWN, 10.0)
    raw = 100 * np.mean(np.abs(np.array(estimates) - reports) / reports)
    assert raw > 50.0
    # A repository left out of the mask neither counts nor moves the others' factor.
    only_a = bench.scaled_per_repository(rows, predicted, np.array([1, 1, 1, 0, 0], dtype=bool))
    assert only_a == dict.fromkeys(bench.SHOWN, 0.0)


def test_a_repository_scale_that_follows_a_recorded_fact_is_learned_from_the_others():
    bench = bench_module("bench_vendor_hls")
    design = _design([_layer(16, 8)]).to_dict()
    # Five repositories, two designs each, all reports 1000; each repository's estimates
    # 10 % higher per year of its tool: the tool year gives every left-out repository's scale.
    years = [year for year in range(2018, 2023) for _ in range(2)]
    rows = [{"group": f"r{year}", "tool": f"Vitis HLS {year}.1", "design": design,
             "measured": dict.fromkeys(QUANTITIES, 1000.0)} for year in years]
    predicted = np.array([[1000.0 * np.exp(0.1 * (year - 2020))] * len(QUANTITIES)
                          for year in years])
    found = bench.scale_from_facts(rows, predicted, np.ones(len(rows), dtype=bool))["ff"]
    assert found["left_out"] > 10.0
    assert found["one_fact"]["tool year"] == 0.0
    assert "tool year" in found["best_pair"]["facts"] and found["best_pair"]["mape"] == 0.0
    # A fact every repository shares gives only the others' mean scale: no better than none.
    assert found["one_fact"]["Vitis HLS"] >= found["left_out"]


def test_one_report_of_a_repository_in_the_fit_is_scored_on_its_other_designs():
    bench = bench_module("bench_vendor_hls")
    rows, _ = _synthetic_rows(groups=4, per_group=6)
    # repo3 reports 1.25x the LUTs the others' coefficients give: left out whole, it is
    # estimated 20 % short. One of its reports in the fit, weighing as one of the four
    # repositories, pulls the LUT coefficients its way, though little (19.9 -> 19.1 %): the
    # features that report is rich in take up most of it. Without it in the fit nothing moves.
    rows = [dict(row, measured={**row["measured"], "lut": 1.25 * row["measured"]["lut"]})
            if row["group"] == "repo3" else row for row in rows]
    predicted = cross_predict("vendor_hls", rows, evaluation_folds(rows)[1])
    in_repo3 = np.array([row["group"] == "repo3" for row in rows])
    found = bench.one_report_in(rows, predicted, in_repo3)
    assert found["n_repositories"] == 1 and found["n_pairs"] == 6 * 5
    assert found["left_out"]["lut"] == pytest.approx(20.0, abs=1.0)
    assert 0.0 < found["one_report_in"]["lut"] < found["left_out"]["lut"] - 0.5, found
    # A repository with one design in the mask has no other design to score.
    lone = in_repo3 & (np.cumsum(in_repo3) == 1)
    assert bench.one_report_in(rows, predicted, lone | ~in_repo3)["n_repositories"] == 3


def test_the_register_form_a_repository_is_scored_with_is_chosen_by_the_others():
    bench = bench_module("bench_vendor_hls")
    for form, make in bench.REGISTER_FORMS.items():
        rows, _ = _synthetic_rows(groups=4, per_group=12, form=make)
        found = bench.register_form_choice(rows, np.ones(len(rows), dtype=bool))
        other = next(name for name in bench.REGISTER_FORMS if name != form)
        assert set(found["picked"].values()) == {form}, found
        assert found["nested"] == found["forms"][form] < found["forms"][other], found


def test_the_feature_floor_is_zero_where_the_features_fit_and_counts_a_report_they_cannot():
    bench = bench_module("bench_vendor_hls")
    shipped = default_calibration("vitis").estimator("vendor_hls")
    designs = [_design([_layer(n_in, n_out, reuse)], family)
               for n_in, n_out, reuse, family in ((8, 4, 1, "xc7"), (16, 16, 1, "xc7"),
                                                  (32, 8, 2, "xc7"), (16, 64, 1, "ultrascale"),
                                                  (64, 32, 4, "ultrascale"), (8, 8, 1, "ultrascale"))]
    estimates = shipped.predict(designs)
    rows = [{"design": d.to_dict(), "measured": {q: float(getattr(e, q)) for q in QUANTITIES}}
            for d, e in zip(designs, estimates, strict=True)]
    everything = np.ones(len(rows), dtype=bool)
    exact = bench.feature_floor(rows, everything)
    # The shipped coefficients are non-negative and reproduce these reports exactly.
    assert exact["lut"] == exact["ff"] == exact["dsp"] == 0.0
    # One LUT report doubled: the shipped coefficients miss it by 50 %, so the least error is
    # at most 50 % over six designs, and above zero (no coefficients fit both it and the rest).
    rows[2]["measured"]["lut"] *= 2
    doubled = bench.feature_floor(rows, everything)
    assert 0.0 < doubled["lut"] <= round(50.0 / len(rows), 1)
    assert doubled["ff"] == 0.0


def test_a_constant_quantity_is_an_equal_estimate_where_the_reports_differ_2x():
    bench = bench_module("bench_vendor_hls")
    dsp = QUANTITIES.index("dsp")
    rows = [{"measured": {q: 10.0 for q in QUANTITIES} | {"dsp": float(report)}}
            for report in (34, 814, 23, 50)]
    predicted = np.full((len(rows), len(QUANTITIES)), 5.0)
    predicted[:, dsp] = [8.0, 8.0, 35.2, 35.0]
    pairs = bench.constant_pairs(rows, predicted, np.ones(len(rows), dtype=bool))
    # 8 for both of 34 and 814 is a constant; 35.2 and 35.0 for 23 and 50 are two estimates
    # (one of them wrong), though equal once rounded; 34 and 23 differ less than 2x.
    assert pairs["dsp"] == 1
    # Every other quantity: one estimate for all, but reports that do not differ.
    assert pairs["lut"] == pairs["ff"] == pairs["latency_cycles"] == 0


def test_the_public_designs_split_by_what_nas_estimate_flags_under_their_left_out_calibration():
    bench = bench_module("bench_vendor_hls")
    design = _design([_layer(16, 8)], "xc7").to_dict()
    rows = [{"design": design, "group": group, "tool": tool, "part": "xc7a50t-csg324-1",
             "measured": dict.fromkeys(QUANTITIES, 100.0)}
            for group, tool in (("a1", "Vitis HLS 2023.2"), ("a2", "Vitis HLS 2023.2"),
                                ("b", "Vivado HLS 2018.3"), ("b", "Vivado HLS 2018.3"))]
    # Repository b's tool version is in no other repository's rows: its designs are flagged.
    flagged = bench.flagged_left_out(rows, np.ones(4, dtype=bool))
    assert [bool(flagged[i]) for i in range(4)] == [False, False, True, True]
    assert all(reason.startswith("tool Vivado HLS 2018.3") for reason in flagged[2])
    predicted = np.array([[110.0] * len(QUANTITIES), [90.0] * len(QUANTITIES),
                          [150.0] * len(QUANTITIES), [200.0] * len(QUANTITIES)])
    split = bench.extrapolation_split(rows, predicted, flagged)
    assert (split["inside"]["n_designs"], split["inside"]["n_repositories"]) == (2, 2)
    assert (split["flagged"]["n_designs"], split["flagged"]["n_repositories"]) == (2, 1)
    assert split["inside"]["errors"]["lut"]["mape"] == 10.0
    assert split["flagged"]["errors"]["lut"]["mape"] == 75.0
    assert split["flagged"]["reasons"] == {"tool": 2}
    # Only the designs of the mask count, each under the calibration without its repository.
    only_a = bench.flagged_left_out(rows, np.array([True, True, False, False]))
    assert sorted(only_a) == [0, 1] and not any(only_a.values())
    split = bench.extrapolation_split(rows, predicted, only_a)
    assert split["inside"]["n_designs"] == 2 and split["flagged"]["n_designs"] == 0


def test_each_layers_own_cycles_are_its_share_of_the_latency_estimate():
    shipped = default_calibration("vitis").estimator("vendor_hls")
    coefficients = dict(zip(shipped.quantity_features["latency_cycles"],
                            shipped.coefficients["latency_cycles"], strict=True))
    for family in ("xc7", "ultrascale"):
        design = _design([_layer(16, 64), _layer(64, 32, reuse=4),
                          _layer(32, 5, activation="linear")], family)
        cycles = shipped.layer_cycles(design)
        assert len(cycles) == 3 and all(c > 0 for c in cycles)
        # The layers' shares, the registers between them and the interface make the estimate.
        total = sum(cycles) + 2 * coefficients["layer_boundaries"] + coefficients["design"]
        assert abs(total - shipped.predict_one(design).latency_cycles) <= 0.5
        # Each pass over shared multipliers beyond the first is one more cycle of that layer
        # alone (reuse 4 against 1).
        unshared = dataclasses.replace(design, layers=(design.layers[0], _layer(64, 32),
                                                       design.layers[2]))
        passes = plan(design.layers[1], family).passes
        assert passes > 1
        assert cycles[1] - shipped.layer_cycles(unshared)[1] == pytest.approx(passes - 1)
        assert shipped.layer_cycles(unshared)[0::2] == cycles[0::2]
        # A softmax is a function of its own: the layer's cycles leave it out.
        softmax = dataclasses.replace(design, layers=(*design.layers[:2], _layer(
            32, 5, activation="softmax")))
        assert shipped.layer_cycles(softmax) == cycles
        assert shipped.predict_one(softmax).latency_cycles > \
            shipped.predict_one(design).latency_cycles


def test_the_pipeline_registers_follow_the_cycles_the_fitted_latency_gives():
    shipped = default_calibration("vitis").estimator("vendor_hls")

    def depth_bits(design: VendorDesign, estimator: VendorEstimator = shipped) -> float:
        return estimator.features(design)[f"depth_adder_bits_{design.part_family}"]

    # A layer whose delays fit inside a slow clock's cycle registers a fraction of its
    # adder-tree bits; at a fast clock, the cycles it takes times them.
    slow = _design([_layer(8, 4)], "xc7", period=40.0)
    fast = _design([_layer(8, 4)], "xc7", period=4.0)
    adder_bits = shipped.features(slow)["adder_bits"]
    assert shipped.layer_cycles(slow)[0] < 1.0
    for design in (slow, fast):
        assert depth_bits(design) == pytest.approx(shipped.layer_cycles(design)[0] * adder_bits)
    assert depth_bits(slow) < adder_bits < depth_bits(fast) / 5
    # Passes over shared multipliers are cycles of their own, not stages of the adder trees.
    shared = _design([_layer(8, 4, reuse=4)], "xc7", period=4.0)
    assert shipped.layer_cycles(shared)[0] > shipped.layer_cycles(fast)[0] + 1
    assert depth_bits(shared) == pytest.approx(depth_bits(fast))
    # The fit counts the cycles its own latency gives: reports made by the shipped model are
    # fitted back within a few percent (with the prior's latency they were 11 to 46 % off).
    designs = [_design([_layer(n_in, n_out, reuse)], "xc7", period=period)
               for n_in, n_out, reuse, period in ((8, 8, 1, 4.0), (16, 16, 1, 5.0),
                                                  (32, 16, 1, 4.0), (64, 32, 1, 5.0),
                                                  (16, 64, 2, 3.5), (32, 32, 1, 10.0),
                                                  (64, 64, 1, 4.0), (8, 32, 4, 5.0),
                                                  (32, 8, 1, 6.0), (48, 24, 1, 4.5))]
    reports = np.array([[getattr(e, q) for q in QUANTITIES] for e in shipped.predict(designs)],
                       dtype=float)
    refitted = VendorEstimator().fit(designs, reports)
    ff = np.array([e.ff for e in refitted.predict(designs)])
    assert np.max(np.abs(ff / reports[:, QUANTITIES.index("ff")] - 1)) < 0.05


def test_the_layers_own_reports_are_scored_by_the_fit_without_their_repository():
    bench = bench_module("bench_vendor_hls")
    shipped = default_calibration("vitis").estimator("vendor_hls")
    small = _design([_layer(16, 8), _layer(8, 4)], "xc7")
    large = _design([_layer(64, 64), _layer(64, 8)], "xc7")
    cycles = {id(d): shipped.layer_cycles(d) for d in (small, large)}
    rows = [{"name": "small", "group": "a", "design": small.to_dict(),
             "layers_measured": [{"latency_cycles": 2.0}, None]},
            {"name": "large", "group": "b", "design": large.to_dict(),
             "layers_measured": [{"latency_cycles": 4.0}, {"latency_cycles": 0.0}]},
            {"name": "table row", "group": "c", "design": small.to_dict()},
            {"name": "elsewhere", "group": "d", "design": large.to_dict(),
             "layers_measured": [{"latency_cycles": 9.0}, None]}]
    check = bench.layer_latency(rows, {"a": shipped, "b": shipped, "c": shipped})
    # The estimates as the check records them, to the hundredth of a cycle.
    estimates = [round(c, 2) for c in (cycles[id(small)][0], cycles[id(large)][0],
                                       cycles[id(large)][1])]
    reports = [2.0, 4.0, 0.0]
    errors = [abs(e - r) / max(r, 1.0) for e, r in zip(estimates, reports, strict=True)]
    assert (check["n_layers"], check["n_designs"], check["n_repositories"]) == (3, 2, 2)
    assert check["mape"] == pytest.approx(100 * np.mean(errors), abs=0.1)
    assert check["n_deep"] == 2
    assert check["mean_abs_cycles"] == pytest.approx(
        np.mean([abs(e - r) for e, r in zip(estimates, reports, strict=True)]), abs=0.01)
    assert [x["n_in"] * x["n_out"] for x in check["largest"]] == [4096, 512, 128]
    assert bench.layer_latency(rows[2:3], {"c": shipped}) == {}
    # Two reports of one project (a re-synthesis, as Hector-Plata's) are two designs.
    again = bench.layer_latency([*rows, rows[0]], {"a": shipped, "b": shipped})
    assert (again["n_layers"], again["n_designs"]) == (4, 3)


def test_a_dataflow_region_waits_for_its_slowest_layer_a_pipeline_for_its_most_passes():
    shipped = default_calibration("vitis").estimator("vendor_hls")
    resource = _design([_layer(32, 32, strategy="resource")])
    assert shipped.interval(resource) == 1  # one pipeline (hls4ml before its DATAFLOW style)
    # A process that is not pipelined takes its latency + 1 (3 for one of two cycles), 1 for a
    # combinational one (the estimate's latency, at least 1 cycle, would say 2).
    alone = dataclasses.replace(resource, dataflow=True)
    assert shipped.interval(alone) == shipped.predict_one(alone).latency_cycles + 1 >= 2
    tiny = dataclasses.replace(alone, layers=(_layer(2, 2, strategy="resource", bits=4),),
                               clock_period_ns=25.0)
    assert shipped.interval(tiny) == 1 and shipped.predict_one(tiny).latency_cycles == 1
    # A layer that shares its multipliers takes its passes; the region its slowest layer.
    shared = _layer(32, 32, reuse=8, strategy="resource")
    assert shipped.interval(dataclasses.replace(alone, layers=(shared,))) == 8
    two = dataclasses.replace(alone, layers=(_layer(32, 32, reuse=64, strategy="resource"),
                                             _layer(32, 32, strategy="resource")))
    assert shipped.interval(two) == 64


def test_the_pipeline_style_is_read_from_the_top_function_else_hls4ml_s_automatic_one(tmp_path):
    folder = _hgq_project(tmp_path / "p", [4, 4, 4, 4], [5, 5, 5])
    assert read_project(folder).dataflow is False
    assert design_from_facts(read_project(folder)).dataflow is False
    top = folder / "firmware" / "myproject.cpp"
    top.write_text(top.read_text().replace("{\n", "{\n    #pragma HLS DATAFLOW\n", 1))
    assert read_project(folder).dataflow is True
    assert design_from_facts(read_project(folder)).dataflow is True
    top.write_text(top.read_text().replace("    #pragma HLS DATAFLOW", "    // #pragma HLS DATAFLOW"))
    assert read_project(folder).dataflow is False
    # Not read (a facts table's row): hls4ml's automatic style, DATAFLOW with a Resource layer.
    facts = read_project(folder)
    unread = dataclasses.replace(facts, dataflow=None)
    assert design_from_facts(unread).dataflow is False
    layers = tuple(dataclasses.replace(layer, strategy="resource", reuse_factor=2)
                   for layer in unread.layers)
    resource = dataclasses.replace(unread, layers=layers)
    assert design_from_facts(resource).dataflow is True
    assert design_from_facts(dataclasses.replace(unread, io_type="io_stream")).dataflow is True


def test_a_7_series_dsp_product_fills_the_slices_pipeline_below_a_usable_period():
    # The per-layer reports: 25-38 FF per DSP at 5.86-6.61 usable ns (a -2 Virtex-7, a -3),
    # 108-117 at 3.65-4.38 (-1 Zynq parts at 5 ns; the next test reads them). The fit, free to
    # give the two regimes any coefficients, finds the same step; a line in the clock
    # (MULTIPLIER_NS / usable - 1: 0.37 and 0.83 stages) would give them about 2.3x.
    shipped = default_calibration("vitis").estimator("vendor_hls")
    named = dict(zip(shipped.quantity_features["ff"], shipped.coefficients["ff"], strict=True))
    one_register, whole_pipeline = (named["multiplier_stage_bits_xc7"],
                                    named["multiplier_pipeline_bits_xc7"])
    assert 0.3 < one_register < 1.5 and whole_pipeline > 3 * one_register, named
    layer = _layer(16, 4)
    per_dsp = {}
    for part, delay_scale in (("-1 Zynq", 1.0), ("-2 Virtex-7", 0.85 * 0.88)):
        design = dataclasses.replace(_design([layer], "xc7", tool="Vivado HLS"),
                                     delay_scale=delay_scale, clock_uncertainty_ns=0.62)
        per_dsp[part] = shipped.predict_one(design).ff / plan(layer, "xc7").dsp_units
    assert per_dsp["-1 Zynq"] > 2.5 * per_dsp["-2 Virtex-7"], per_dsp


def test_the_ff_per_dsp_step_readme_quotes_is_the_per_layer_reports():
    # 7-series layers at reuse 1 with ten DSPs or more and products of at most 18 bits, whose
    # usable period needs a register (under MULTIPLIER_NS): FF per DSP on each side of
    # FULL_PIPELINE_NS, as README states it.
    bench = bench_module("bench_vendor_hls")
    sides: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for row in bench.shared_rows():
        design = VendorDesign.from_dict(row["design"])
        if design.part_family != "xc7" or design.usable_ns >= MULTIPLIER_NS:
            continue
        for layer, report in zip(design.layers, row.get("layers_measured") or [], strict=False):
            if (report and report.get("dsp", 0) >= 10 and layer.reuse_factor == 1
                    and max(layer.input_bits, layer.weight_bits) <= 18):
                sides[design.usable_ns < FULL_PIPELINE_NS].append(
                    (design.usable_ns, report["ff"] / report["dsp"]))

    def span(points: list[tuple[float, float]]) -> str:
        usable, per_dsp = zip(*points, strict=True)
        return (f"{min(per_dsp):.0f}-{max(per_dsp):.0f}", f"{min(usable):.2f}-{max(usable):.2f}")

    (one, one_at), (whole, whole_at) = span(sides[False]), span(sides[True])
    quoted = f"{one} FF per DSP at {one_at} usable ns, {whole} at {whole_at}"
    assert quoted in " ".join((REPO / "README.md").read_text().split()), quoted


def test_a_product_over_several_dsp_slices_carries_each_slices_pipeline_registers():
    # A 32 x 32-bit product takes four DSP48E1 slices (25 x 18 ports), each with its
    # pipeline registers: per DSP multiplier, 4 slices x 64 operand bits against 1 x 32.
    def stage_bits_per_multiplier(bits: int, constant: int) -> float:
        stats = WeightStats.of(np.full(64, constant))  # alternating bits: many CSD digits
        layer = VendorLayer(8, 8, bits, bits, bits, bits, 1, "latency", "relu", stats)
        step = plan(layer, "xc7")
        features = VendorEstimator().features(_design([layer], "xc7"))
        return (features["multiplier_stage_bits_xc7"]
                + features["multiplier_pipeline_bits_xc7"]) / step.dsp_units

    wide, narrow = stage_bits_per_multiplier(32, 0x1555555), stage_bits_per_multiplier(16, 0x5555)
    assert wide == pytest.approx(8 * narrow) and narrow > 0


def test_an_activations_output_bit_is_one_lut_in_the_fit_and_in_the_shipped_model():
    # Fitted, the coefficient took up what the adder trees miss (3.5 LUTs a bit) and the
    # pruned designs, which keep their outputs while losing most adders, were over-estimated.
    index = VendorEstimator.quantity_features["lut"].index("activation_bits")
    assert FIXED["lut"]["activation_bits"] == 1.0
    shipped = default_calibration("vitis").estimator("vendor_hls")
    assert shipped.coefficients["lut"][index] == 1.0


def _synthetic_rows(groups: int, per_group: int, seed: int = 0,
                    form: type[VendorEstimator] = VendorEstimator) -> tuple[list[dict], dict]:
    """Rows whose numbers a known set of coefficients predicts exactly (by ``form``)."""
    rng = np.random.default_rng(seed)
    coefficients = {q: np.array(c) * rng.uniform(0.5, 2.0, len(c))
                    for q, c in VendorEstimator.prior.items()}
    for quantity, fixed in FIXED.items():  # what structure fixes, the fit does not move
        names = VendorEstimator.quantity_features[quantity]
        for name, value in fixed.items():
            coefficients[quantity][names.index(name)] = value
    truth = form(coefficients)
    rows = []
    for index in range(groups * per_group):
        layers = [_layer(int(rng.integers(4, 64)), int(rng.integers(2, 64)),
                         int(rng.choice([1, 2, 4])), bits=int(rng.integers(6, 18)))
                  for _ in range(int(rng.integers(1, 4)))]
        design = _design(layers, str(rng.choice(["xc7", "ultrascale"])),
                         float(rng.choice([4.0, 5.0, 10.0])), str(rng.choice(["Vitis HLS",
                                                                               "Vivado HLS"])))
        estimate = truth.predict_one(design)
        rows.append({"design": design.to_dict(), "group": f"repo{index % groups}",
                     "measured": {q: float(getattr(estimate, q)) for q in QUANTITIES}})
    return rows, truth.coefficients


def test_leave_one_group_out_on_data_with_a_known_answer():
    rows, _ = _synthetic_rows(groups=4, per_group=12)
    method, folds = evaluation_folds(rows)
    assert method == "leave-one-group-out over 4 groups" and len(folds) == 4
    assert sorted(np.concatenate(folds)) == list(range(len(rows)))
    assert all(len({rows[i]["group"] for i in fold}) == 1 for fold in folds)
    measured = measured_matrix(rows)
    exact = error_table(cross_predict("vendor_hls", rows, folds), measured)
    assert exact["lut"]["mape"] < 1.0 and exact["ff"]["mape"] < 1.0
    assert exact["latency_cycles"]["mape"] < 5.0  # whole cycles: rounding is the rest
    fitted = VendorEstimator().fit([VendorDesign.from_dict(r["design"]) for r in rows], measured)
    for quantity, fixed in FIXED.items():  # what structure fixes, the fit keeps
        for name, value in fixed.items():
            index = VendorEstimator.quantity_features[quantity].index(name)
            assert fitted.coefficients[quantity][index] == value, (quantity, name)
    # One repository reports twice the LUTs: left out, it is predicted from the others, so
    # its error is the 50 % the others imply; fitted with them, the error would be hidden.
    doubled = [dict(row, measured={**row["measured"], "lut": 2 * row["measured"]["lut"]})
               if row["group"] == "repo3" else row for row in rows]
    predicted = cross_predict("vendor_hls", doubled, folds)
    in_repo3 = np.array([row["group"] == "repo3" for row in rows])
    lut = QUANTITIES.index("lut")
    errors = np.abs(predicted[in_repo3, lut] / measured_matrix(doubled)[in_repo3, lut] - 1)
    assert np.allclose(errors, 0.5, atol=0.02)
    two_groups = [dict(row, group=f"g{i % 2}") for i, row in enumerate(rows)]
    assert evaluation_folds(two_groups)[0] == "leave-one-design-out"
    assert evaluation_folds([{k: v for k, v in row.items() if k != "group"}
                             for row in rows])[0] == "held-out fifth"


def test_design_round_trips_through_a_calibration_row():
    design = _design([_layer(16, 8), _layer(8, 4, activation="softmax")], "xc7")
    assert VendorDesign.from_dict(json.loads(json.dumps(design.to_dict()))) == design


@needs_shared
def test_project_reader_on_headers_and_on_keras_models():
    michal = read_project(PUBLIC / "projects" / "MichalVarsanyi__FPGA-NN-Demo" / "hld_model")
    assert [(x.n_in, x.n_out) for x in michal.layers] == [(25, 32), (32, 16), (16, 10)]
    assert [x.activation for x in michal.layers] == ["relu", "relu", "linear"]
    assert michal.layers[-1].output == FixedType(37, 17)  # the dense result, no activation
    assert michal.tool == "Vitis HLS 2024.1" and michal.clock_uncertainty_ns == 0.62
    assert michal.report.lut == 40231 and michal.report.product_family == "artix7"
    quantized = read_project(TUTORIAL / "model_3__hls4ml_prj_pynq")
    assert [x.input.width for x in quantized.layers] == [16, 6, 6, 6]  # input, then the ReLUs
    assert {x.weight for x in quantized.layers} == {FixedType(6, 1)}
    assert [x.reuse_factor for x in quantized.layers] == [64] * 4
    assert quantized.layers[-1].activation == "softmax"
    assert all(x.mantissas is not None and x.n_zeros == np.count_nonzero(x.mantissas == 0)
               for x in quantized.layers)


@needs_shared
def test_a_resynthesis_of_a_folders_firmware_takes_the_folders_facts_with_its_own_report():
    """The facts table notes that two reports of each hls4ml-tutorial model_1 project are the
    same headers synthesized twice; the folder of one replaces both rows' facts (activation
    types, weights), each keeping its own report; model_3's versions (retrained) keep theirs."""
    rows = read_table(PUBLIC / "reports.csv")
    folders = [read_project(TUTORIAL / name) for name in sorted(
        p.name for p in TUTORIAL.iterdir() if p.name.startswith("model_"))]
    merged = merge_folders(rows, folders)
    assert len(merged) == len(rows)  # every tutorial folder is one of the table's reports
    for path in ("model_1/hls4ml_prj", "model_1/hls4ml_prj_2"):
        twins = [d for d in merged if d.name == f"Hector-Plata/hls4ml-tutorial:{path}"]
        assert len(twins) == 2 and not any(d.assumed for d in twins)
        assert len({d.report.lut for d in twins}) == 2  # each its own report
        assert all(layer.mantissas is not None for d in twins for layer in d.layers)
        estimates = [VendorEstimator().predict([design_from_facts(d)]) for d in twins]
        assert np.array_equal(*estimates)  # the same firmware: the same estimate
    retrained = [d for d in merged if d.name == "Hector-Plata/hls4ml-tutorial:model_3/hls4ml_prj"]
    assert sorted(bool(d.assumed) for d in retrained) == [False, True]


@needs_shared
def test_facts_table_rows_state_what_they_assume():
    rows = read_table(PUBLIC / "reports.csv")
    assert len(rows) == 35 and len({r.group for r in rows}) == 12  # README beside says 13
    assert all("activation output types not recorded" in " ".join(r.assumed) for r in rows)
    hgq = next(r for r in rows if r.name.endswith("model_3.1_1/hls4ml_prj"))
    assert any("3 distinct values for 4 layers" in note for note in hgq.assumed)
    assert not hgq.types_per_layer  # fewer types than layers: which layer has which is lost
    assert [x.accum.width for x in hgq.layers] == [17, 19, 22, 22]
    sweep = read_table(SHARED / "calibration" / "wa_hls4ml_search" / "results_latency.csv")
    # 81 successful rows; a row that repeats a smaller reuse factor's results is one design.
    assert len(sweep) == 63 and {r.part for r in sweep} == {"xcu250-figd2104-2L-e"}


@needs_shared
def test_nas_estimate_prints_the_estimate_beside_the_report():
    folder = TUTORIAL / "model_1__hls4ml_prj"
    result = run_nas("estimate", "--flow", "vitis", "--project", str(folder), "--json")
    assert result.returncode == 0, result.stderr
    entry = json.loads(result.stdout)
    assert set(entry["estimate"]) == {"lut", "ff", "dsp", "bram", "latency_cycles", "interval"}
    assert entry["report"]["lut"] == 84942 and entry["report"]["latency_cycles"] == 13
    assert entry["estimate"]["interval"] == 1 and entry["estimate"]["lut"] > 0
    assert entry["extrapolated"] == []  # Vivado HLS 2019.2, xcu250, reuse 1: all calibrated
    # The error a new repository's project can expect: the calibration's, left out by group.
    held_out = default_calibration("vitis").estimators["vendor_hls"]["held_out_error"]
    assert entry["expected_error_percent"] == {
        q: round(held_out[q]["group_mape"], 1) for q in ("lut", "ff", "dsp", "latency_cycles")}
    # (not the MAPE over all designs, which the sweep's thousand designs set)
    assert entry["expected_error_percent"]["lut"] != round(held_out["lut"]["mape"], 1)
    several = run_nas("estimate", "--project", str(TUTORIAL), "--json")
    entries = json.loads(several.stdout)
    assert several.returncode == 0 and len(entries) == 4 and all("report" in e for e in entries)
    table = run_nas("estimate", "--project", str(PUBLIC / "projects"))
    assert table.returncode == 0 and "116,694" in table.stdout and "40,231" in table.stdout
    assert f"FF {round(held_out['ff']['group_mape'], 1):.1f} %" in " ".join(table.stdout.split())


OPEN_CALIBRATION = str(REPO / "nas" / "estimators" / "calibrations" / "open.json")


@pytest.mark.parametrize(("args", "message"), [
    (["--project", "nowhere"], "--project nowhere is not a directory"),
    (["--project", "."], "holds no hls4ml project"),
    (["--flow", "open", "--project", "."], "invalid choice: 'open'"),
    (["--project", ".", "--calibration", OPEN_CALIBRATION], "is for the 'open' flow, not 'vitis'"),
])
def test_nas_estimate_bad_input(tmp_path, args, message):
    assert_user_error(run_nas("estimate", *args, cwd=tmp_path), message)


def _hgq_project(folder, input_widths: list[int], hidden_widths: list[int],
                 weight: str = "0.6875"):
    """A two-layer hls4ml project of an HGQ model (4-3-2, Vitis HLS, xcu250, 12-bit inputs)
    whose per-element quantizers (``nnet_code_gen.h``) give its inputs and the first layer's
    ReLU outputs these widths as HLS sees them (0: held at zero; each quantizer as many bits,
    on its buffer's grid); every weight is ``weight`` (0.6875: 1.0110b, three CSD digits)."""
    firmware = folder / "firmware"
    (firmware / "nnet_utils").mkdir(parents=True)
    (firmware / "weights").mkdir()
    (folder / "hls4ml_config.yml").write_text(
        "ProjectName: myproject\nPart: xcu250-figd2104-2L-e\nClockPeriod: 5\n"
        "IOType: io_parallel\nBackend: Vitis\n")
    (firmware / "defines.h").write_text("\n".join(f"typedef {kind} {name};" for name, kind in [
        ("input_t", "ap_fixed<16,6>"), ("q_t", "ap_fixed<12,6>"), ("d1_t", "ap_fixed<20,8>"),
        ("w_t", "ap_fixed<8,1>"), ("acc_t", "ap_fixed<20,8>"), ("relu_t", "ap_ufixed<10,6>"),
        ("q1_t", "ap_ufixed<10,6>"), ("result_t", "ap_fixed<20,8>")]) + "\n")
    (firmware / "parameters.h").write_text("".join(
        f"struct config{n} : nnet::dense_config {{\n    static const unsigned n_in = {n_in};\n"
        f"    static const unsigned n_out = {n_out};\n    static const unsigned reuse_factor = 1;\n"
        f"    static const unsigned n_zeros = 0;\n    typedef acc_t accum_t;\n"
        f"    typedef w_t weight_t;\n}};\n" for n, n_in, n_out in [(2, 4, 3), (5, 3, 2)]))
    (firmware / "myproject.cpp").write_text(
        "void myproject(input_t x[4], result_t y[2]) {\n"
        "    nnet::h_quantize<input_t, q_t>(x, layer1_out);\n"
        "    nnet::dense<q_t, d1_t, config2>(layer1_out, layer2_out, w2, b2);\n"
        "    nnet::relu<d1_t, relu_t, relu_config3>(layer2_out, layer3_out);\n"
        "    nnet::h_relu_quantizer<relu_t, q1_t>(layer3_out, layer4_out);\n"
        "    nnet::dense<q1_t, result_t, config5>(layer4_out, y, w5, b5);\n}\n")

    def quantizer(name: str, widths: list[int], fraction: int) -> str:
        lines = [f"    out[{i}] = 0;" if w == 0 else
                 f"    out[{i}] = ap_ufixed<{w},{w - fraction},AP_TRN,AP_WRAP>(inp[{i}]);"
                 for i, w in enumerate(widths)]
        return (f"template<typename input_t, typename output_t>\nvoid {name}(input_t *inp, "
                f"output_t *out) {{\n    #pragma HLS INLINE\n\n" + "\n".join(lines) + "\n}\n")

    (firmware / "nnet_utils" / "nnet_code_gen.h").write_text(
        quantizer("h_quantize", input_widths, 6) + quantizer("h_relu_quantizer", hidden_widths, 4))
    for name, count in [("w2", 12), ("w5", 6)]:
        (firmware / "weights" / f"{name}.txt").write_text(", ".join([weight] * count))
    return folder


def test_products_of_an_hgq_input_of_few_bits_are_tables_never_multipliers(tmp_path):
    """A LUT6 computes any bit of a product of an input of up to 6 bits by a constant: the
    products of inputs of at most MAX_TABLE_INPUT_BITS are no multiplier and no DSP, and their
    bits (input and weight, sign included) count as fabric bits of the input type."""
    assert 3 <= MAX_TABLE_INPUT_BITS < 12
    # 93 (4 CSD digits, 7-bit odd part, 8 bits signed) and 45 (4 digits, 7 bits signed) are
    # multipliers by the constant rule, 3 is two shift-add digits.
    mantissas = np.array([[93, 45], [93, 3], [93, 0]])
    assert WeightStats.of(mantissas).multipliers == 4
    stats = WeightStats.of_inputs(mantissas, ElementInputs((3, 12, 2), 16, table_bits=3))
    assert stats.nonzero == 5 and stats.multipliers == 1 and stats.multiplier_digits == 4
    assert stats.shift_add_digits == pytest.approx(2 + ((3 + 8) + (3 + 7) + (2 + 8)) / 16)
    # In a project (12-bit input type, at least MIN_DSP_INPUT_BITS): every weight 93/128; the
    # first layer's inputs 1-3 bits wide bind no DSP, 12 bits wide one per product.
    designs = [design_from_facts(read_project(_hgq_project(tmp_path / str(widths[0]), widths,
                                                           [5, 5, 5], "0.7265625")))
               for widths in ([3, 2, 3, 1], [12, 12, 12, 12])]
    narrow, wide = (plan(design.layers[0], "ultrascale") for design in designs)
    assert narrow.dsp_products == 0 and wide.dsp_products == 12
    untabled = design_from_facts(read_project(tmp_path / "3"), table_input_bits=0)
    assert plan(untabled.layers[0], "ultrascale").dsp_products == 12
    assert narrow.fabric_digits == pytest.approx(3 * ((3 + 8) + (2 + 8) + (3 + 8) + (1 + 8)) / 12)
    estimator = default_calibration("vitis").estimator("vendor_hls")
    assert estimator.predict_one(designs[0]).dsp < estimator.predict_one(designs[1]).dsp


def test_an_hgq_quantizers_zero_width_inputs_are_constants_no_product_is_built_for(tmp_path):
    """HGQ writes each element's quantizer into nnet_code_gen.h: an input held at zero is a
    constant, and HLS folds every product of it (its weights stay nonzero in the project)."""
    pruned = read_project(_hgq_project(tmp_path / "pruned", [8, 0, 6, 0], [5, 0, 7]))
    assert [layer.input_widths for layer in pruned.layers] == [(8, 0, 6, 0), (5, 0, 7)]
    design = design_from_facts(pruned)
    # The first layer's output 1 is the second layer's input 1, held at zero: unread.
    assert [layer.weights.nonzero for layer in design.layers] == [4.0, 4.0]
    assert [layer.live_outputs for layer in design.layers] == [2.0, 2.0]
    # In io_stream each layer writes all its outputs to a stream, read or not.
    streamed = design_from_facts(dataclasses.replace(pruned, io_type="io_stream"))
    assert [layer.weights.nonzero for layer in streamed.layers] == [6.0, 4.0]
    full = design_from_facts(read_project(_hgq_project(tmp_path / "full", [8, 8, 6, 8],
                                                       [5, 8, 7])))
    assert [layer.weights.nonzero for layer in full.layers] == [12.0, 6.0]
    estimator = default_calibration("vitis").estimator("vendor_hls")
    assert estimator.predict_one(design).lut < 0.8 * estimator.predict_one(full).lut
    # Such layers are an extrapolation of a calibration that has none (the shipped one has
    # the public HGQ projects' layers, read from their folders).
    calibration = default_calibration("vitis")
    assert calibration.data["per_element_input_layers"] > 0
    assert not extrapolations(design, calibration.data, "")
    assert [x for x in extrapolations(design, {**calibration.data, "per_element_input_layers": 0},
                                      "") if "HGQ" in x] == [
        "inputs of layer 1, 2 quantized element by element (HGQ; calibration: no such layer)"]
    # Without its weights, the second layer counts the expected share of live inputs.
    (tmp_path / "pruned" / "firmware" / "weights" / "w5.txt").unlink()
    unknown = design_from_facts(read_project(tmp_path / "pruned")).layers[1]
    assert unknown.weights.nonzero == pytest.approx(4.0) and not unknown.weights.exact
    # HLS keeps the buffer's fractional bits below a quantizer's grid: an element quantized to
    # 4 bits at 2**8..2**11 (ap_ufixed<4,12>) of an ap_fixed<12,6> buffer is 6 + 6 bits wide to
    # it, not 4 (as the Verilog ports of the public HGQ projects are).
    code_gen = tmp_path / "pruned" / "firmware" / "nnet_utils" / "nnet_code_gen.h"
    code_gen.write_text(code_gen.read_text().replace("ap_ufixed<8,2,", "ap_ufixed<4,12,")
                        .replace("ap_ufixed<6,0,", "ap_ufixed<2,-3,"))
    assert read_project(tmp_path / "pruned").layers[0].input_widths == (12, 0, 3, 0)
    # The same reader on a project without per-element quantizers records none.
    (tmp_path / "full" / "firmware" / "nnet_utils" / "nnet_code_gen.h").unlink()
    assert [x.input_widths for x in read_project(tmp_path / "full").layers] == [None, None]


def test_nas_estimate_refuses_a_project_of_another_layer_kind(tmp_path):
    (tmp_path / "hls4ml_config.yml").write_text("ProjectName: myproject\nPart: xc7z020\n")
    assert_user_error(run_nas("estimate", "--project", str(tmp_path)),
                      "has neither the firmware headers")


@needs_shared
def test_nas_estimate_refuses_a_part_it_does_not_know(tmp_path):
    import shutil

    source = PUBLIC / "projects" / "MichalVarsanyi__FPGA-NN-Demo" / "hld_model"
    project = tmp_path / "versal"
    shutil.copytree(source, project)
    shutil.copytree(source, tmp_path / "artix")
    for name in ("myproject_csynth.xml", "myproject_csynth.rpt"):
        (project / name).unlink()
    config = project / "hls4ml_config.yml"
    config.write_text(config.read_text().replace("Part: xc7a15tcpg236-1", "Part: xcvc1902"))
    assert_user_error(run_nas("estimate", "--project", str(project)),
                      "part 'xcvc1902' is not a 7-series or UltraScale part")
    several = run_nas("estimate", "--project", str(tmp_path), "--json")  # one skipped, one done
    assert several.returncode == 0 and "skipped:" in several.stderr and "versal" in several.stderr
    (entry,) = json.loads(several.stdout)
    assert entry["report"]["lut"] == 40231


@needs_shared
def test_calibrate_refuses_mixed_families_unless_told(tmp_path):
    table = str(PUBLIC / "reports.csv")
    refused = run_nas("calibrate", "--flow", "vitis", "--table", table, "--out",
                      str(tmp_path / "v.json"))
    assert_user_error(refused, "2 part families (ultrascale, xc7)")
    assert not (tmp_path / "v.json").exists()
    result = run_nas("calibrate", "--flow", "vitis", "--table", table, "--reports",
                     str(TUTORIAL), "--mix-families", "--out", str(tmp_path / "v.json"))
    assert result.returncode == 0, result.stderr
    assert "leave-one-group-out over 12 groups" in result.stdout and "median %" in result.stdout
    assert "MAPE per group" in result.stdout
    assert "reuse factors 1-64; strategies latency; io types io_parallel, io_stream (io_stream " \
        "designs are estimated as io_parallel" in " ".join(result.stdout.split())
    calibration = Calibration.load(tmp_path / "v.json", "vitis")
    assert calibration.part_family == "ultrascale+xc7" and calibration.data["n_designs"] == 35
    assert {"Vivado HLS 2019.2", "Vitis HLS 2024.1"} <= \
        set(calibration.tool_versions["hls"].split(", "))
    # the tutorial folders replace 4 rows and the 2 re-syntheses of their firmware
    assert calibration.data["designs_with_assumed_facts"] == 35 - 6


def test_vitis_run_on_another_family_warns_and_records_it(tmp_path):
    from nas.search.settings import RunSettings
    from nas.search.study import create_or_continue

    values = dataclasses.asdict(default_calibration("vitis"))
    path = tmp_path / "ultrascale.json"
    path.write_text(json.dumps({**values, "part_family": "ultrascale"}))
    settings = RunSettings(space=tiny_space(), trials=1, workdir=tmp_path / "w", flow="vitis",
                           calibration=path)
    with pytest.warns(DataWarning, match="fitted on ultrascale parts, not on the xc7 family"):
        study = create_or_continue(settings)
    assert "xc7a35t" in study.user_attrs["calibration_warning"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        create_or_continue(dataclasses.replace(settings, calibration=None,
                                               workdir=tmp_path / "other"))


def test_student_design_is_the_project_nas_export_writes():
    from nas.estimators.vendor.design import student_design
    from nas.model.config import StudentConfig

    config = StudentConfig(widths=(8,), weight_bits=(6, 4), weight_int_bits=(0, 1), act_bits=(5,),
                           act_int_bits=(2,), input_bits=8, input_int_bits=4, sparsity=0.5)
    expected = student_design(config, 30, 4, "xc7a35tcpg236-1", 200.0)
    assert expected.part_family == "xc7" and expected.clock_period_ns == 5.0
    assert [(x.n_in, x.n_out, x.input_bits, x.activation) for x in expected.layers] == \
        [(30, 8, 8, "relu"), (8, 4, 5, "linear")]
    assert expected.layers[0].weights.nonzero == 120 and not expected.layers[0].weights.exact
    kernels = [np.full((30, 8), 0.25), np.zeros((8, 4))]
    kernels[1][0] = 0.5
    trained = student_design(config, 30, 4, "xczu3eg-sbva484-1-e", 100.0, kernels)
    first, last = trained.layers
    assert trained.part_family == "ultrascale" and first.weights.exact
    # The last layer reads hidden output 0 only (``read_outputs``).
    assert first.weights.nonzero == 30 and last.weights.nonzero == 4
    # 0.25 is 8 on the 6-bit grid of 5 fractional bits: 30 of them reach 240 (8 bits), times
    # an 8-bit input, plus the sign.
    assert first.accum_bits == 8 + 8 + 1
    estimate = default_calibration("vitis").estimator("vendor_hls").predict_one(trained)
    assert estimate.lut > 0 and estimate.latency_cycles >= 1


def test_the_search_sees_a_student_as_each_flow_builds_it():
    from nas.model.config import StudentConfig
    from nas.search.flow import flow_estimators

    space = tiny_space()
    config = StudentConfig(widths=(8,), weight_bits=(6, 4), weight_int_bits=(0, 1),
                           act_bits=(5,), act_int_bits=(2,), input_bits=8, input_int_bits=4,
                           sparsity=0.5)
    vitis = flow_estimators(default_calibration("vitis"), space, None)
    design = vitis.prior_view(config)
    assert isinstance(design, VendorDesign) and design.part_family == "xc7"
    assert vitis.estimator.name == "vendor_hls" and vitis.prior.predict_one(design).lut > 0
    open_flow = flow_estimators(default_calibration("open"), space, None)
    assert open_flow.prior.name == "architecture" and open_flow.estimator.name == "trace"
    assert open_flow.prior.predict_one(open_flow.prior_view(config)).lut > 0


def test_a_vendor_flow_student_is_built_with_its_strategy_and_reuse():
    import optuna

    from nas.estimators.vendor.design import student_design
    from nas.hls.project_facts import resource_reuse_factor
    from nas.model.config import StudentConfig
    from nas.search.flow import flow_estimators
    from nas.search.sampling import sample_directives

    config = StudentConfig(widths=(16,), weight_bits=(8, 8), weight_int_bits=(1, 1),
                           act_bits=(8,), act_int_bits=(3,), input_bits=10, input_int_bits=4,
                           sparsity=0.0)
    trial = optuna.create_study().ask()
    asked = sample_directives(trial, config)
    assert sample_directives(trial, config) == asked  # the same values each time a trial asks
    assert asked.strategy in ("latency", "resource") and asked.reuse_factor in (1, 2, 4, 8, 16)
    resource = sample_directives(
        optuna.trial.FixedTrial({"strategy": "resource", "reuse_factor": 8}), config)
    assert (resource.strategy, resource.reuse_factor) == ("resource", 8)
    designs = {"resource": student_design(resource, 30, 4, "xc7a35tcpg236-1", 200.0)}
    # hls4ml moves an invalid Resource reuse factor to the closest valid one, per layer.
    assert [x.reuse_factor for x in designs["resource"].layers] == \
        [resource_reuse_factor(30, 16, 8), resource_reuse_factor(16, 4, 8)] == [6, 8]
    for reuse in (1, 8):
        latency = dataclasses.replace(config, reuse_factor=reuse)
        designs[reuse] = student_design(latency, 30, 4, "xc7a35tcpg236-1", 200.0)
        assert [x.reuse_factor for x in designs[reuse].layers] == [reuse, reuse]
    estimator = default_calibration("vitis").estimator("vendor_hls")
    estimates = {key: estimator.predict_one(design) for key, design in designs.items()}
    assert interval(designs[1]) == 1 and interval(designs[8]) > 1 and \
        interval(designs["resource"]) == 8
    assert estimates[8].latency_cycles > estimates[1].latency_cycles
    # Latency strategy: the constants' multipliers (about 27 here) stay under the allocation
    # limit of 60; Resource: ceil(weights / reuse) real multipliers, one DSP slice each.
    assert estimates[8].dsp <= estimates[1].dsp
    assert estimator.features(designs["resource"])["dsp_slices"] == 480 / 6 + 64 / 8
    space = tiny_space()
    vitis = flow_estimators(default_calibration("vitis"), space, None)
    assert vitis.searches_directives and vitis.details(designs["resource"]) == {"est_interval": 8}
    # hls4ml makes a Resource-strategy student a DATAFLOW region: at reuse 1 each layer is a
    # process that is not pipelined, so an input every latency + 1 cycles of the slowest.
    assert designs["resource"].dataflow and not designs[1].dataflow
    unshared = student_design(dataclasses.replace(resource, reuse_factor=1), 30, 4,
                              "xc7a35tcpg236-1", 200.0)
    slowest = max(estimator.predict_one(dataclasses.replace(unshared, layers=(layer,)))
                  .latency_cycles for layer in unshared.layers)
    assert vitis.details(unshared)["est_interval"] == slowest + 1 >= 2
    assert not flow_estimators(default_calibration("open"), space, None).searches_directives


@needs_shared
def test_an_8x16_product_binds_to_dsps_where_a_4x4_product_stays_in_the_fabric():
    # The wa-hls4ml sweep (Vitis HLS, UltraScale+, reuse 1): 8-bit weights times 16-bit
    # inputs put 19-26 % of the products in DSP slices, 4-bit weights none; the same layer
    # with 4-bit weights and 4-bit inputs is all shift-and-add.
    sweep = read_table(SHARED / "calibration" / "wa_hls4ml_search" / "results_latency.csv")
    reported = {x.layers[0].weight.width: x.report.dsp for x in sweep
                if (x.layers[0].n_in, x.layers[0].n_out, x.layers[0].reuse_factor) == (32, 32, 1)}
    assert reported[8] > 0.1 * 1024 and reported[4] == 0
    wide = VendorLayer(32, 32, 16, 8, 24, 16, 1, "latency", "linear",
                       WeightStats.expected(1024, FixedType(8, 1), 32))
    narrow = VendorLayer(32, 32, 4, 4, 12, 4, 1, "latency", "linear",
                         WeightStats.expected(1024, FixedType(4, 1), 32))
    wide_plan, narrow_plan = plan(wide, "ultrascale"), plan(narrow, "ultrascale")
    assert 0.1 * 1024 < wide_plan.slices < 0.4 * 1024
    assert narrow_plan.slices == 0 and narrow_plan.fabric_digits > 0
    estimator = default_calibration("vitis").estimator("vendor_hls")
    dsp = [estimator.predict_one(_design([layer])).dsp for layer in (wide, narrow)]
    assert dsp[0] > 100 and dsp[1] < 10


def test_a_32_bit_weight_type_is_counted_in_bounded_memory():
    # Within 12 standard deviations a fixed<32,6> grid holds billions of points: the expected
    # statistics draw a fixed sample there instead (summed point by point, the process needed
    # more than 20 GB). Run under a 3 GB address-space limit; compared with counting weights
    # drawn apart.
    code = (
        "import numpy as np\n"
        "from nas.estimators.vendor.design import WeightStats\n"
        "from nas.hls.project_facts import FixedType\n"
        "expected = WeightStats.expected(1.0, FixedType(32, 6), 8, 'uniform')\n"
        "rng = np.random.default_rng(1)\n"
        "values = rng.uniform(-np.sqrt(3 / 8), np.sqrt(3 / 8), 100_000) * 2.0**26\n"
        "counted = WeightStats.of(np.floor(values))\n"
        "print(expected.multiplier_digits, counted.multiplier_digits / counted.nonzero)\n")
    limit = 3 << 30
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)))
    assert result.returncode == 0, result.stderr[-2000:]
    expected, counted = (float(v) for v in result.stdout.split())
    assert expected == pytest.approx(counted, rel=0.02)


def test_an_unknown_weight_distribution_is_refused():
    with pytest.raises(ValueError, match="weight distribution 'laplace'"):
        WeightStats.expected(10, FixedType(8, 1), 4, "laplace")


@needs_shared
@pytest.mark.parametrize("table", ["results_latency.csv", "results_resource.csv"])
def test_the_sweeps_untrained_layers_bind_dsps_as_a_uniform_law_says(table):
    """The wa-hls4ml sweep's layers are never trained (Keras' lecun_uniform, within
    +-sqrt(3 / n_in)): at 6 bits on 32 inputs every mantissa is within +-9, where no constant
    is worth a multiplier, while a normal law's tail holds some; at 8 bits the uniform law
    holds more (its mass is not piled near zero). The DSP slices the binding rule alone counts
    (no fitted coefficient) are closer to the sweep's reports with the uniform law the table
    reader gives its layers than with the normal law of trained ones."""
    def multipliers(bits: int, law: str) -> float:
        return WeightStats.expected(1024, FixedType(bits, 1), 32, law).multipliers

    assert multipliers(6, "uniform") == 0 < multipliers(6, "normal")
    assert multipliers(8, "uniform") > 1.1 * multipliers(8, "normal")
    sweep = read_table(SHARED / "calibration" / "wa_hls4ml_search" / table)
    assert {x.weight_distribution for d in sweep for x in d.layers} == {"uniform"}

    def error(law: str) -> float:
        errors = []
        for facts in sweep:
            layers = tuple(dataclasses.replace(x, weight_distribution=law) for x in facts.layers)
            design = design_from_facts(dataclasses.replace(facts, layers=layers))
            slices = sum(plan(x, design.part_family).slices for x in design.layers)
            errors.append(abs(slices - facts.report.dsp) / max(facts.report.dsp, 1.0))
        return float(np.mean(errors))

    assert error("uniform") < 0.8 * error("normal")


@needs_shared
def test_inputs_of_a_qkeras_table_row_are_read_back_from_its_accumulators():
    # hls4ml infers a QKeras layer's accumulator as input + weight + ceil(log2(n_in)) + 1 bits;
    # a row whose accumulators are the default type keeps the default input.
    rows = {r.name.split(":")[0] + ":" + r.name.split(":")[1]: r
            for r in read_table(PUBLIC / "reports.csv")}
    qkeras = rows["MinhNguy3n/hls4ml-tutorial:model_3.1/hls4ml_prj"]
    assert [x.input.width for x in qkeras.layers] == [2, 1, 4, 5]
    assert [x.output.width for x in qkeras.layers[:-1]] == [1, 4, 5]
    assert any("read back from hls4ml's inferred accumulators" in a for a in qkeras.assumed)
    # Its four weight types are listed in string order (as a list of distinct values is), so
    # the row says their layer order is not recorded.
    assert sum("order is not recorded" in a for a in qkeras.assumed) == 2
    assert not qkeras.types_per_layer
    uniform = rows["nrp-nautilus/6nrp-hls4ml:model_1/hls4ml_prj"]
    assert {x.input.width for x in uniform.layers} == {16}
    assert not any("order is not recorded" in a for a in uniform.assumed)
    assert uniform.types_per_layer
    # The binding rule then puts none of its products in DSPs: the report has 2 DSPs, where
    # 16-bit inputs would bind the constants' multipliers (39 in its first layer).
    design = design_from_facts(qkeras)
    assert sum(plan(x, design.part_family).slices for x in design.layers) == 0
    assert qkeras.report.dsp == 2


def test_a_layer_wider_than_the_calibration_is_flagged_as_an_extrapolation():
    calibration = default_calibration("vitis")
    data, tools = calibration.data, calibration.tool_versions["hls"]
    widest = data["layer_inputs"][1]
    inside = _design([_layer(16, 8)], "xc7", tool="Vitis HLS")
    assert extrapolations(inside, data, tools) == []
    wide = _design([_layer(widest + 305, 64), _layer(64, 5, reuse=4 * data["reuse_factors"][1])],
                   "xc7")
    found = extrapolations(wide, data, tools, tool="Vitis HLS 2021.1")
    assert f"layer 1 has {widest + 305} inputs (calibration: at most {widest})" in found
    assert any(f.startswith("layer 2 has reuse factor") for f in found)
    assert any(f.startswith("tool Vitis HLS 2021.1 (calibration:") for f in found)
    assert extrapolations(inside, {**data, "part_families": ["ultrascale"]}, tools) == [
        "part family xc7 (calibration: ultrascale)"]
    # A fully unrolled Latency-strategy layer with more products than any report's.
    most = data["latency_products"][1]
    big = _design([_layer(561, most // 561 + 1, activation="relu")], "xc7", tool="Vitis HLS")
    assert f"layer 1 has {561 * (most // 561 + 1)} products in the Latency strategy " \
        f"(calibration: at most {most})" in extrapolations(big, data, tools)


def test_a_clock_the_calibration_s_part_family_never_ran_at_is_flagged_as_an_extrapolation():
    from nas.app.calibrate import summarize

    calibration = default_calibration("vitis")
    spans = calibration.data["usable_ns"]
    # Every UltraScale+ report in the calibration ran at 5 ns; its 7-series ones at 5 and 25.
    assert spans["ultrascale"][1] < 8.0 < spans["xc7"][1]
    fast = _design([_layer(16, 8)], "ultrascale", period=3.0)
    slow = _design([_layer(16, 8)], "ultrascale", period=10.0)
    for design in (fast, slow):
        found = [x for x in extrapolations(design, calibration.data, "") if x.startswith("clock")]
        assert found == [f"clock {design.clock_period_ns:.3g} ns less "
                         f"{design.clock_uncertainty_ns:.3g} ns uncertainty leaves "
                         f"{design.usable_ns:.2f} ns of -1 Artix-7 logic a cycle (calibration, "
                         f"ultrascale: {spans['ultrascale'][0]:.2f} to "
                         f"{spans['ultrascale'][1]:.2f})"]
    # The same 10 ns design on a 7-series part lies between that family's reports.
    assert not extrapolations(dataclasses.replace(slow, part_family="xc7", delay_scale=1.0),
                              calibration.data, "")
    # The spans are the designs' own, each end inside.
    rows = [{"design": d.to_dict(), "measured": {"lut": 1.0}, "group": "g", "part": "p"}
            for d in (fast, slow)]
    assert summarize(rows)["usable_ns"]["ultrascale"][0] <= fast.usable_ns
    assert summarize(rows)["usable_ns"]["ultrascale"][1] >= slow.usable_ns
    assert not extrapolations(fast, summarize(rows), "")


def test_the_vendor_evaluation_tables_follow_from_the_committed_results():
    import sys

    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import render_results
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    vendor = json.loads((REPO / "benchmarks" / "results" / "vendor_hls.json").read_text())
    for name, measured, goal in (("latency_strategy", "measured_mape", "goal_mape"),
                                 ("resource_strategy", "measured_smape", "goal_smape")):
        part = vendor[name]
        for quantity, target in part["targets"].items():
            key = "mape" if measured == "measured_mape" else "smape"
            assert target[measured] == part["errors"]["all"][quantity][key]
            assert target["met"] == (target[measured] <= target[goal])
    speed = vendor["estimate_speed"]
    assert speed["met"] == (speed["seconds"] <= speed["goal_seconds"]
                            and speed["estimated"] == speed["projects"])
    latency = vendor["latency_strategy"]
    inside = latency["extrapolation"]["inside"]["errors"]
    for quantity, target in latency["targets_inside_calibration"].items():
        assert target["goal_mape"] == latency["targets"][quantity]["goal_mape"]
        assert target["measured_mape"] == inside[quantity]["mape"]
        assert target["met"] == (target["measured_mape"] <= target["goal_mape"])
    assert latency["no_constant_quantity"] == \
        all(n == 0 for n in latency["constant_where_reports_differ_2x"].values())
    # The errors on all designs, and on those recorded per layer where some are not, follow
    # from the designs' estimates.
    per_layer = [d for d in vendor["designs"] if d["types_per_layer"]]
    subsets = {"all": (latency["errors"]["all"], vendor["designs"])}
    if len(per_layer) < latency["n_designs"]:
        subsets["per layer"] = (latency["per_layer_facts"]["all"], per_layer)
    else:
        assert "per_layer_facts" not in latency and "complete_facts" not in latency
    split = latency["extrapolation"]
    for part, wanted in (("inside", False), ("flagged", True)):
        subsets[part] = (split[part]["errors"], [d for d in vendor["designs"]
                                                 if bool(d["extrapolated"]) == wanted])
    for tables, designs in subsets.values():
        for quantity, table in tables.items():
            errors = [abs(d["estimate"][quantity] - d["report"][quantity])
                      / max(d["report"][quantity], 1.0) for d in designs]
            assert table["n"] == len(designs)
            assert table["mape"] == pytest.approx(100 * np.mean(errors), abs=0.1)  # rounded
    # The binding rule's threshold lies in the valley the reports give: less DSP error than
    # a threshold 4 bits lower or higher.
    thresholds = {int(bits): t["all"]["mape"] for bits, t in vendor["binding"]["thresholds"].items()}
    assert thresholds[MIN_DSP_INPUT_BITS] < min(thresholds[MIN_DSP_INPUT_BITS - 4],
                                                thresholds[MIN_DSP_INPUT_BITS + 4])
    # Each rule value shipped is the one the criterion picks on all public reports, and the
    # evaluation above is of the shipped values' rows.
    for name, shipped in (("narrow_inputs", MAX_TABLE_INPUT_BITS),
                          ("odd_part_tools", " and ".join(ODD_PART_TOOLS))):
        choice = vendor[name]
        criteria = {value: row["criterion"] for value, row in choice["variants"].items()}
        assert str(choice["chosen_on_all"]) == str(shipped) == \
            min(criteria, key=lambda value: (criteria[value], value)), name
        assert choice["variants"][str(shipped)]["errors"] == latency["errors"]["all"]
    assert f"keeps at {MAX_TABLE_INPUT_BITS} bits or fewer\n" in (REPO / "README.md").read_text()
    block = render_results.vendor_block(vendor)
    readme = (REPO / "README.md").read_text()
    assert block in readme
    for line in render_results.vendor_strategy_tables(vendor):
        assert line in block
    # The README's count of fitted coefficients is the estimator's.
    named = sum(len(features) for features in VendorEstimator.quantity_features.values())
    fixed = sum(len(values) for values in FIXED.values())
    words = {2: "two", 3: "three", 4: "four"}
    assert f"{named - fixed} coefficients ({named} less the {words[fixed]} fixed ones)" in readme


def test_resource_strategy_luts_are_tabulated_by_fold_and_size():
    from nas.estimators.vendor.estimator import fold_feature

    def resource(n_in: int, n_out: int, reuse: int) -> VendorLayer:
        return _layer(n_in, n_out, reuse, "resource")

    assert fold_feature(resource(256, 96, 512)) == "resource_fold_2_narrow_bits"
    assert fold_feature(resource(256, 160, 1024)) == "resource_fold_4_wide_bits"
    assert fold_feature(resource(32, 64, 1024)) == "resource_fold_more_narrow_bits"
    assert fold_feature(resource(64, 64, 32)) is None  # reuse <= n_in: another code path
    assert fold_feature(_layer(32, 64, 1024)) is None  # Latency strategy
    # The sweep: 256 inputs at reuse 1024 (fold 4) take 4-5x the LUTs of reuse 512 (fold 2).
    estimator = default_calibration("vitis").estimator("vendor_hls")
    luts = [estimator.predict_one(_design([resource(256, 256, reuse)])).lut
            for reuse in (512, 1024)]
    assert luts[1] > 3 * luts[0]


def test_a_vendor_trial_records_where_its_student_leaves_the_calibration():
    from nas.search.flow import flow_estimators

    vitis = flow_estimators(default_calibration("vitis"), tiny_space(), None)
    data = default_calibration("vitis").data
    widest, most = data["layer_inputs"][1], data["latency_products"][1]
    inside = _design([_layer(16, 8)], "xc7")
    outside = _design([_layer(2 * widest, 8)], "xc7")
    assert "est_extrapolated" not in vitis.details(inside)
    assert vitis.details(outside)["est_extrapolated"] == [
        f"layer 1 has {2 * widest} inputs (calibration: at most {widest})",
        f"layer 1 has {16 * widest} products in the Latency strategy (calibration: at most "
        f"{most})"]


def test_an_output_whose_weights_are_all_zero_costs_nothing_here_or_in_the_next_layer():
    # Known weights: output 1 of the first layer has no nonzero weight (its bias, a constant);
    # the second layer's weights from it multiply a constant, so HLS folds them too.
    first = np.array([[3, 0, 5], [7, 0, 0]])
    second = np.array([[11, 13], [17, 19], [23, 0]])
    stats, outputs, live = Live().through(first, 3.0, FixedType(8, 1), 2, 3, rom=False)
    assert outputs == 2 and list(live.mask) == [True, False, True]
    stats, outputs, _ = live.through(second, 5.0, FixedType(8, 1), 3, 2, rom=False)
    assert stats.nonzero == 3 and outputs == 2
    # Expected weights: a layer pruned to 1 nonzero weight in 8 per 4 inputs leaves
    # (7/8)**4 of its outputs constant, and the next layer sees that share of constant inputs.
    _, outputs, live = Live().through(None, 64.0 * 4 / 8, FixedType(8, 1), 4, 64, rom=False)
    assert outputs == pytest.approx(64 * (1 - (7 / 8) ** 4))
    stats, _, _ = live.through(None, 64.0 * 8, FixedType(8, 1), 64, 8, rom=False)
    assert stats.nonzero == pytest.approx(512 * (1 - (7 / 8) ** 4))
    # Weights in a ROM (Resource strategy above reuse 1) are read at run time: all live.
    _, outputs, live = Live().through(first, 3.0, FixedType(8, 1), 2, 3, rom=True)
    assert outputs is None and live.mask is None and live.fraction == 1.0


def test_an_output_no_later_layer_reads_costs_nothing():
    # Layer 3 reads its input 0 only: layer 2's output 1 is unread, and with it layer 2's
    # weights from input 1, the only ones from it: layer 1's output 1 is unread too.
    first, second, last = np.arange(1, 7).reshape(2, 3), np.array([[7, 0], [0, 8], [9, 0]]), \
        np.array([[5], [0]])
    read = read_outputs([first, second, last], [None, None, None], [False, False, False])
    assert [None if x is None else x.tolist() for x in read] == \
        [[True, False, True], [True, False], None]
    # An input the last layer's quantizer holds at zero is unread as well.
    held = read_outputs([first, second, np.array([[5], [6]])], [None, None, (4, 0)],
                        [False, False, False])
    assert [None if x is None else x.tolist() for x in held] == [x.tolist() for x in read[:2]] + \
        [None]
    # A layer whose weights sit in a ROM reads every input, and computes every output.
    assert read_outputs([first, second, last], [None] * 3, [False, False, True]) == [None] * 3
    assert read_outputs([first, second, last], [None] * 3, [False, True, False])[1] is None
    # So the student nas export writes: a hidden neuron whose outgoing weights are all pruned
    # is built nowhere.
    from nas.estimators.vendor.design import student_design
    from nas.model.config import StudentConfig

    config = StudentConfig(widths=(8,), weight_bits=(6, 4), weight_int_bits=(0, 1),
                           act_bits=(5,), act_int_bits=(2,), input_bits=8, input_int_bits=4,
                           sparsity=0.0)
    outgoing = np.full((8, 4), 0.5)
    pruned_row = outgoing.copy()
    pruned_row[3] = 0.0
    full, pruned = (student_design(config, 30, 4, "xc7a35tcpg236-1", 200.0,
                                   [np.full((30, 8), 0.25), kernel])
                    for kernel in (outgoing, pruned_row))
    assert [x.live_outputs for x in full.layers] == [8.0, 4.0]
    assert [x.live_outputs for x in pruned.layers] == [7.0, 4.0]
    assert [x.weights.nonzero for x in pruned.layers] == [30 * 7, 7 * 4]
    estimator = default_calibration("vitis").estimator("vendor_hls")
    assert estimator.predict_one(pruned).lut < estimator.predict_one(full).lut


def test_an_input_bit_whose_products_all_wrap_out_of_the_accumulator_is_not_built():
    """freaksie/ML-on-Chip tmp/lbnl: an ``ap_fixed<32,32>`` input times ``ap_fixed<18,4>``
    weights into an ``ap_fixed<18,4>`` accumulator: its products are 18 bits wide, one
    DSP48E1 each (the report: 16 DSPs for 16 products); into an accumulator wide enough for
    every product bit they are 32 bits, two slices each."""
    weights = np.array([[1234, -1701], [2011, 877]])  # 12 bits, 4+ CSD digits: multipliers

    def design(input_type: FixedType, accum: FixedType):
        layer = DenseFacts("dense", 2, 2, 0, input_type, FixedType(18, 4), accum,
                           FixedType(18, 4), 1, "latency", "linear", mantissas=weights)
        return design_from_facts(ProjectFacts("p", "p", (layer,), "io_parallel",
                                              "xc7vx485tffg1761-2", 5.0, 0.625,
                                              "Vivado HLS 2018.3"))

    wrapped, wide = (design(FixedType(32, 32), accum) for accum in (FixedType(18, 4),
                                                                    FixedType(50, 36)))
    assert [wrapped.layers[0].input_bits, wide.layers[0].input_bits] == [18, 32]
    assert plan(wrapped.layers[0], "xc7").slices == 4 and plan(wide.layers[0], "xc7").slices == 8
    # A saturating accumulator reads every input bit (each decides whether it saturates).
    saturating = FixedType.parse("ap_fixed<18,4,AP_RND,AP_SAT>")
    assert not saturating.wraps and FixedType.parse("fixed<18,4,RND_CONV,WRAP>").wraps
    assert design(FixedType(32, 32), saturating).layers[0].input_bits == 32
    # An input's fractional bits all reach the accumulator, whatever the range: kept.
    assert design(FixedType(20, 4), FixedType(18, 4)).layers[0].input_bits == 20
    # 20 integer bits into 2 with 7-bit weight fractions: 9 of them and the 4 fractional.
    assert multiplied_bits(DenseFacts("d", 1, 1, 0, FixedType(24, 20), FixedType(8, 1),
                                      FixedType(10, 2), FixedType(8, 1), 1, "latency",
                                      "linear")) == 9 + 4


def test_adders_grow_from_the_product_width_up_to_the_accumulator():
    # 3 products and a bias: 2 adders at level 1 and 1 at level 2, each one bit wider than
    # its operands; an accumulator narrower than a product caps every adder.
    assert tree_bits(3, 10, 24) == pytest.approx(2 * 11 + 1 * 12)
    assert tree_bits(3, 30, 16) == pytest.approx(3 * 16)
    wide = _layer(32, 8)
    lossless = dataclasses.replace(wide, accum_bits=wide.input_bits + wide.weight_bits + 6)
    estimator = VendorEstimator()
    adder = [estimator.features(_design([x]))["adder_bits"] for x in (wide, lossless)]
    assert adder[0] < adder[1] < 8 * plan(lossless, "ultrascale").terms * lossless.accum_bits
