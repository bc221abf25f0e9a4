"""The Pareto front of a study as table rows (terminal, JSON)."""

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from nas.estimators.calibration import QUANTITIES, error_table
from nas.model.config import StudentConfig
from nas.search.records import results
from nas.search.settings import OBJECTIVES


def is_feasible(trial: FrozenTrial) -> bool:
    return bool(trial.constraints) and all(value <= 0 for value in trial.constraints.values())


def pareto_front(study: optuna.Study) -> list[FrozenTrial]:
    """Complete, feasible trials that no other such trial dominates, by trial number."""
    feasible = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                if is_feasible(t)]
    directions = [1 if d == optuna.study.StudyDirection.MAXIMIZE else -1
                  for d in study.directions]

    def dominates(a: FrozenTrial, b: FrozenTrial) -> bool:
        better = [s * x >= s * y for s, x, y in zip(directions, a.values, b.values, strict=True)]
        return all(better) and a.values != b.values

    return sorted((t for t in feasible if not any(dominates(o, t) for o in feasible)),
                  key=lambda t: t.number)


def shape_text(config: StudentConfig, n_inputs: int, n_classes: int) -> str:
    return "-".join(str(n) for n in (n_inputs, *config.widths, n_classes))


def bits_text(config: StudentConfig) -> str:
    """``in 8.4 | w 8.1,8.1 | a 8.2``: total.integer bits of input, weights, activations."""
    def pairs(bits, ints):
        return ",".join(f"{b}.{i}" for b, i in zip(bits, ints, strict=True))
    return (f"in {config.input_bits}.{config.input_int_bits} | "
            f"w {pairs(config.weight_bits, config.weight_int_bits)} | "
            f"a {pairs(config.act_bits, config.act_int_bits)}")


def front_rows(study: optuna.Study, n_inputs: int, n_classes: int) -> list[dict]:
    """One row per front design, with its HLS export check when it was exported."""
    exported = results(study, "hls")
    rows = []
    for trial in pareto_front(study):
        config = StudentConfig.from_dict(trial.user_attrs["config"])
        attrs = trial.user_attrs
        rows.append({
            "trial": trial.number,
            **dict(zip(OBJECTIVES, trial.values, strict=True)),
            "test_accuracy": attrs["test_accuracy"],
            "est_lut": attrs["est_lut"], "est_ff": attrs["est_ff"], "est_dsp": attrs["est_dsp"],
            "n_params": attrs["n_params"], "nonzero_params": attrs["nonzero_params"],
            "sparsity": attrs["achieved_sparsity"],
            "shape": shape_text(config, n_inputs, n_classes), "bits": bits_text(config),
            "hls_exact": exported.get(trial.number, {}).get("exact_fraction"),
        })
    return rows


def trial_counts(study: optuna.Study) -> dict[str, int]:
    """Complete, rejected (cannot fit, pruned before training), failed and running trials."""
    states = {"complete": TrialState.COMPLETE, "rejected": TrialState.PRUNED,
              "failed": TrialState.FAIL, "running": TrialState.RUNNING}
    return {name: len(study.get_trials(deepcopy=False, states=(state,)))
            for name, state in states.items()}


def hypervolume_2d(accuracy: np.ndarray, cost: np.ndarray, ref_accuracy: float,
                   ref_cost: float) -> float:
    """Area dominated by (accuracy up, cost down) points, bounded by the reference point."""
    keep = (accuracy > ref_accuracy) & (cost < ref_cost)
    points = sorted(zip(cost[keep], accuracy[keep], strict=True))
    area, best = 0.0, ref_accuracy
    for i, (c, a) in enumerate(points):
        best = max(best, a)
        next_cost = points[i + 1][0] if i + 1 < len(points) else ref_cost
        area += (next_cost - c) * (best - ref_accuracy)
    return area


def synthesized_error(records: list[dict]) -> dict:
    """Error of each record's ``estimate`` against its synthesized numbers (the record's own
    ``lut``, ``ff``, ... keys), per quantity; empty without records."""
    if not records:
        return {}
    estimate = np.array([[float(r["estimate"].get(q) or 0.0) for q in QUANTITIES]
                         for r in records])
    measured = np.array([[float(r.get(q) or 0.0) for q in QUANTITIES] for r in records])
    return error_table(estimate, measured)


def estimator_evidence(study: optuna.Study) -> tuple[dict, dict]:
    """The estimator's error on this study's synthesized (bit-exact) designs, and the held-out
    error of the calibration it used (per quantity: MAPE, worst, R^2, exact fraction, n)."""
    observed = synthesized_error([r for r in results(study, "synth").values()
                                  if r.get("status") == "ok"])
    calibration = study.user_attrs.get("calibration", {})
    name = study.user_attrs.get("estimator", "")
    held_out = calibration.get("estimators", {}).get(name, {}).get("held_out_error", {})
    return observed, held_out


def evidence_lines(study: optuna.Study) -> list[str]:
    """One line per quantity: error on the synthesized designs beside the calibration's."""
    observed, held_out = estimator_evidence(study)
    lines = []
    for quantity in ("lut", "ff", "latency_cycles"):
        if quantity not in observed:
            continue
        mine, theirs = observed[quantity], held_out.get(quantity)
        line = (f"{quantity}: MAPE {mine['mape']:.1f}% (worst {mine['worst_ape']:.0f}%, exact "
                f"{100 * mine['exact_fraction']:.0f}%) on {mine['n']} synthesized designs")
        if theirs:
            line += (f"; calibration held-out: MAPE {theirs['mape']:.1f}% on "
                     f"{theirs['n']} designs")
        lines.append(line)
    return lines
