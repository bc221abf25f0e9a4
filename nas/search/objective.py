"""One trial: sample a student, reject it if it cannot fit, train it, estimate it, record it."""

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna

from nas._tf import set_seed
from nas.estimators.base import RESOURCES, ResourceEstimate, ResourceEstimator
from nas.estimators.calibration import FLOWS, Calibration
from nas.estimators.design import expected_design, trained_design
from nas.model.config import StudentConfig, quantized_kernels
from nas.model.data import DataSplits
from nas.model.port import raw_port
from nas.model.student import accuracy, build_student, train_student
from nas.model.weights import load_weights, save_weights
from nas.search.records import download_weights
from nas.spaces.space import Space, StudentRanges

SPARSITY_STEP = 0.05


def sample_student(trial: optuna.trial.BaseTrial, ranges: StudentRanges) -> StudentConfig:
    """The student configuration a trial proposes within the space's ranges."""
    n_hidden = trial.suggest_int("n_hidden", 1, ranges.max_hidden_layers)
    widths, w_bits, w_int, a_bits, a_int = [], [], [], [], []
    for i in range(n_hidden + 1):
        is_hidden = i < n_hidden
        tag = str(i + 1) if is_hidden else "out"
        if is_hidden:
            widths.append(trial.suggest_int(f"width_{tag}", *ranges.width, log=True))
        w_bits.append(trial.suggest_int(f"weight_bits_{tag}", *ranges.weight_bits))
        w_int.append(trial.suggest_int(f"weight_int_bits_{tag}", *ranges.weight_int_bits))
        if is_hidden:
            a_bits.append(trial.suggest_int(f"act_bits_{tag}", *ranges.act_bits))
            a_int.append(trial.suggest_int(f"act_int_bits_{tag}", *ranges.act_int_bits))
    input_bits = trial.suggest_int("input_bits", *ranges.input_bits)
    input_int_bits = min(trial.suggest_int("input_int_bits", *ranges.input_int_bits), input_bits)
    sparsity = trial.suggest_float("sparsity", *ranges.sparsity, step=SPARSITY_STEP)
    # Integer bits cannot reach the total: clip rather than reject, the sampler learns either way.
    w_int = [min(i, b - 1) for i, b in zip(w_int, w_bits, strict=True)]
    a_int = [min(i, b) for i, b in zip(a_int, a_bits, strict=True)]
    return StudentConfig(tuple(widths), tuple(w_bits), tuple(w_int), tuple(a_bits),
                         tuple(a_int), input_bits, input_int_bits, round(sparsity, 4))


def _weight_stats(model, config: StudentConfig) -> dict[str, float]:
    kernels = quantized_kernels(model, config)
    n_weights = sum(k.size for k in kernels)
    nonzero = sum(int(np.count_nonzero(k)) for k in kernels)
    return {"n_weights": n_weights, "nonzero_weights": nonzero,
            "achieved_sparsity": 1.0 - nonzero / n_weights}


def flow_estimators(calibration: Calibration, space: Space, data: DataSplits
                    ) -> tuple[ResourceEstimator, ResourceEstimator, Callable]:
    """The calibrated estimators of the flow: architecture-level (before training), value-aware
    (after training), and how the latter sees a trained ``(model, config)``. The open flow's
    value-aware estimator traces the student, which needs raw integer inputs over a power of
    two; a space without them is estimated at architecture level throughout."""
    spec = FLOWS[calibration.flow]
    prior = calibration.estimator(spec.prior, space.clock_mhz)
    if spec.value != "trace":
        return prior, calibration.estimator(spec.value, space.clock_mhz), trained_design
    port = raw_port(data.x_train * space.input_divisor, space.input_divisor)
    if port is None:
        return prior, prior, trained_design

    def traced(model, config: StudentConfig) -> dict[str, float]:
        from nas.estimators.trace import student_features

        return student_features(model, config, port, space.clock_mhz, space.n_inputs)

    return prior, calibration.estimator("trace"), traced


@dataclass
class TrialRunner:
    """Callable objective of the study; everything it needs is loaded once, before the study."""

    space: Space
    data: DataSplits
    teacher_logits: np.ndarray
    prior_estimator: ResourceEstimator
    estimator: ResourceEstimator
    describe: Callable
    artifact_store: optuna.artifacts.FileSystemArtifactStore
    seed: int
    worker: str = ""

    def _record_estimate(self, trial: optuna.Trial, estimate: ResourceEstimate,
                         prefix: str) -> None:
        part = self.space.part
        for key, value in estimate.as_attrs(prefix).items():
            trial.set_user_attr(key, value)
        trial.set_user_attr(f"{prefix}lut_equivalent", estimate.lut_equivalent(part))

    def _set_constraints(self, trial: optuna.Trial, estimate: ResourceEstimate) -> None:
        """Soft constraints the sampler reads: overuse of each resource (<= 0 fits the part)."""
        for name, overuse in zip(RESOURCES, estimate.overuse(self.space.part), strict=True):
            trial.set_constraint(name, overuse)

    def __call__(self, trial: optuna.Trial) -> tuple[float, float, float]:
        try:
            return self._run(trial)
        except optuna.TrialPruned:
            raise
        except Exception as error:
            trial.set_user_attr("fail_reason", f"{type(error).__name__}: {error}")
            raise

    def _run(self, trial: optuna.Trial) -> tuple[float, float, float]:
        space = self.space
        trial.set_user_attr("worker", self.worker)
        config = sample_student(trial, space.student)
        trial.set_user_attr("config", config.to_dict())
        trial.set_user_attr("n_params", config.n_params(space.n_inputs, space.n_classes))
        prior = self.prior_estimator.predict_one(
            expected_design(config, space.n_inputs, space.n_classes))
        self._record_estimate(trial, prior, "prior_")
        reason = prior.misfit_reason(space.part)
        if reason:
            self._set_constraints(trial, prior)
            trial.set_user_attr("rejected_reason", reason)
            raise optuna.TrialPruned(f"rejected before training: {reason}")

        set_seed(self.seed * 100_003 + trial.number)
        model, losses = train_student(config, self.data.x_train, self.data.y_train,
                                      self.teacher_logits, space.n_classes, space.recipe)
        start = time.perf_counter()
        estimate = self.estimator.predict_one(self.describe(model, config))
        trial.set_user_attr("estimate_seconds", time.perf_counter() - start)
        self._record_estimate(trial, estimate, "est_")
        self._set_constraints(trial, estimate)
        val_acc = accuracy(model, self.data.x_val, self.data.y_val)
        test_acc = accuracy(model, self.data.x_test, self.data.y_test)
        stats = _weight_stats(model, config)
        attrs = {"val_accuracy": val_acc, "test_accuracy": test_acc, "final_loss": losses[-1],
                 "nonzero_params": stats["nonzero_weights"] + (config.n_params(
                     space.n_inputs, space.n_classes) - stats["n_weights"]),
                 "achieved_sparsity": stats["achieved_sparsity"],
                 "fits_part": estimate.misfit_reason(space.part) is None,
                 "weights_artifact_id": self._store_weights(trial, model)}
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        return val_acc, estimate.lut_equivalent(space.part), estimate.latency_cycles

    def _store_weights(self, trial: optuna.Trial, model) -> str:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"trial_{trial.number}_weights.npz"
            save_weights(model, path)
            return optuna.artifacts.upload_artifact(
                artifact_store=self.artifact_store, file_path=str(path), study_or_trial=trial,
                mimetype="application/octet-stream")


def load_student(trial: optuna.trial.FrozenTrial, space: Space,
                 store: optuna.artifacts.FileSystemArtifactStore):
    """Rebuild a trial's trained student from its configuration and stored weights."""
    config = StudentConfig.from_dict(trial.user_attrs["config"])
    model = build_student(config, space.n_inputs, space.n_classes)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "weights.npz"
        download_weights(trial, store, path)
        load_weights(model, path)
    return model, config
