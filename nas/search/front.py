"""The Pareto front of a study, the part of it worth building (above an accuracy floor, within a
user's limits), and its table rows (terminal, JSON, report)."""

from dataclasses import dataclass

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from nas.estimators.calibration import QUANTITIES, error_table
from nas.model.config import StudentConfig
from nas.search.records import results
from nas.spaces.space import Space

#: Without a floor of its own, a space's useful designs are those at most this far below the
#: teacher's validation accuracy.
BELOW_TEACHER = 0.02


def is_feasible(trial: FrozenTrial) -> bool:
    return bool(trial.constraints) and all(value <= 0 for value in trial.constraints.values())


@dataclass(frozen=True)
class Limits:
    """What a user wants of a design: validation accuracy at least ``min_accuracy``, at most
    ``max_lut`` LUT-equivalents and ``max_latency_cycles`` (estimates; None: no limit)."""

    min_accuracy: float = 0.0
    max_lut: float | None = None
    max_latency_cycles: int | None = None

    def admit(self, trial: FrozenTrial) -> bool:
        attrs = trial.user_attrs
        return (attrs["val_accuracy"] >= self.min_accuracy
                and (self.max_lut is None or attrs["est_lut_equivalent"] <= self.max_lut)
                and (self.max_latency_cycles is None
                     or attrs["est_latency_cycles"] <= self.max_latency_cycles))


def accuracy_floor(study: optuna.Study, space: Space) -> float:
    """The space's ``min_accuracy``, or the teacher's validation accuracy minus
    ``BELOW_TEACHER``: a choice, so never read from test labels (a study made before the
    validation accuracy was recorded has only its test accuracy, and keeps that floor)."""
    if space.min_accuracy:
        return space.min_accuracy
    attrs = study.user_attrs
    teacher = attrs.get("teacher_val_accuracy", attrs.get("teacher_test_accuracy", 0.0))
    return max(0.0, teacher - BELOW_TEACHER)


def pareto_front(study: optuna.Study, limits: Limits | None = None) -> list[FrozenTrial]:
    """Complete, feasible trials within ``limits`` that no other such trial dominates, by trial
    number (the whole front without limits)."""
    limits = limits or Limits()
    feasible = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                if is_feasible(t) and limits.admit(t)]
    directions = [1 if d == optuna.study.StudyDirection.MAXIMIZE else -1
                  for d in study.directions]

    def dominates(a: FrozenTrial, b: FrozenTrial) -> bool:
        better = [s * x >= s * y for s, x, y in zip(directions, a.values, b.values, strict=True)]
        return all(better) and a.values != b.values

    return sorted((t for t in feasible if not any(dominates(o, t) for o in feasible)),
                  key=lambda t: t.number)


def shape_text(config: StudentConfig, n_inputs: int, n_classes: int) -> str:
    """``30-16-4`` for an MLP; ``8x8x1-c4k3s1p2-16-10`` for a CNN (filters, kernel, stride of
    each convolution, and its max pooling when it has one)."""
    first = "x".join(map(str, config.input_shape)) if config.convs else str(n_inputs)
    convs = [f"c{c.filters}k{c.kernel}s{c.stride}" + (f"p{c.pool}" if c.pool > 1 else "")
             for c in config.convs]
    return "-".join([first, *convs, *map(str, config.widths), str(n_classes)])


def bits_text(config: StudentConfig) -> str:
    """``in 8.4 | w 8.1,8.1 | a 8.2``: total.integer bits of input, weights, activations, and
    hls4ml's strategy and reuse factor when not Latency at reuse 1 (``| resource r8``)."""
    def pairs(bits, ints):
        return ",".join(f"{b}.{i}" for b, i in zip(bits, ints, strict=True))
    directives = ("" if (config.strategy, config.reuse_factor) == ("latency", 1)
                  else f" | {config.strategy} r{config.reuse_factor}")
    return (f"in {config.input_bits}.{config.input_int_bits} | "
            f"w {pairs(config.weight_bits, config.weight_int_bits)} | "
            f"a {pairs(config.act_bits, config.act_int_bits)}{directives}")


def useful_front(study: optuna.Study, space: Space) -> list[FrozenTrial]:
    """The front above the space's accuracy floor: what is shown, synthesized and reported."""
    return pareto_front(study, Limits(min_accuracy=accuracy_floor(study, space)))


def front_rows(study: optuna.Study, trials: list[FrozenTrial], n_inputs: int,
               n_classes: int) -> list[dict]:
    """One row per design, with its HLS export check when it was exported."""
    exported = results(study, "hls")
    rows = []
    for trial in trials:
        config = StudentConfig.from_dict(trial.user_attrs["config"])
        attrs = trial.user_attrs
        rows.append({
            "trial": trial.number, "val_accuracy": attrs["val_accuracy"],
            "lut_equivalent": attrs["est_lut_equivalent"],
            "latency_cycles": attrs["est_latency_cycles"],
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


def calibration_held_out(study: optuna.Study) -> dict:
    """The held-out error of the calibration the study's estimator used (per quantity: MAPE,
    worst, R^2, exact fraction, n; where groups were left out, their mean MAPE)."""
    attrs = study.user_attrs
    estimators = attrs.get("calibration", {}).get("estimators", {})
    return estimators.get(attrs.get("estimator", ""), {}).get("held_out_error", {})


def estimator_evidence(study: optuna.Study) -> tuple[dict, dict]:
    """The estimator's error on this study's synthesized (bit-exact) designs, and the held-out
    error of the calibration it used (``calibration_held_out``)."""
    observed = synthesized_error([r for r in results(study, "synth").values()
                                  if r.get("status") == "ok"])
    return observed, calibration_held_out(study)


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
