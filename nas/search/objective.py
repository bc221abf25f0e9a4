"""One trial: sample a student, reject it if it cannot fit, train it (screened first, when its
precision is learned), estimate it, record it."""

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import optuna
from optuna.trial import TrialState

from nas import stop
from nas._tf import keras, set_seed
from nas.errors import DataError, is_disk_full
from nas.estimators.base import RESOURCES, ResourceEstimate, ResourceEstimator
from nas.estimators.calibration import FLOWS, Calibration
from nas.estimators.design import expected_design
from nas.estimators.vendor.design import VendorDesign, student_design
from nas.estimators.vendor.extrapolation import extrapolations
from nas.estimators.vendor.rules import interval
from nas.model.config import StudentConfig, quantized_kernels
from nas.model.data import DataSplits
from nas.model.learned import LearnedTrainer
from nas.model.student import Distillation, accuracy, build_student, train_student
from nas.model.weights import load_weights, save_weights
from nas.search.memory import MemoryLimitExceeded, memory_limit
from nas.search.records import download_weights
from nas.search.sampling import (
    LearnedPlan,
    sample_directives,
    sample_distillation,
    sample_learned,
    sample_student,
)
from nas.spaces.space import Space


def _weight_stats(model, config: StudentConfig) -> dict[str, float]:
    kernels = quantized_kernels(model, config)
    n_weights = sum(k.size for k in kernels)
    nonzero = sum(int(np.count_nonzero(k)) for k in kernels)
    return {"n_weights": n_weights, "nonzero_weights": nonzero,
            "achieved_sparsity": 1.0 - nonzero / n_weights}


@dataclass(frozen=True)
class FlowEstimators:
    """The calibrated estimators of a flow and how each sees a student: before training
    (``prior_view(config)``: rejection and the prior) and after (``view(model, config)``:
    the trial's objectives)."""

    prior: ResourceEstimator
    prior_view: Callable
    estimator: ResourceEstimator
    view: Callable
    #: Whether the flow builds what hls4ml's strategy and reuse factor decide (then searched),
    #: and what else of a viewed design a trial records (``est_interval``).
    searches_directives: bool = False
    details: Callable = lambda design: {}


def _vendor_details(design: VendorDesign, calibration: Calibration) -> dict:
    """What a vendor-flow trial records beside its estimate: the interval and, when the design
    leaves the calibration's data, where (``est_extrapolated``)."""
    found = extrapolations(design, calibration.data, calibration.tool_versions.get("hls", ""))
    return {"est_interval": interval(design), **({"est_extrapolated": found} if found else {})}


def flow_estimators(calibration: Calibration, space: Space, data: DataSplits) -> FlowEstimators:
    """The open flow's value-aware estimator traces the student (its input stage comes with
    it); the vendor flow sees the hls4ml project ``nas export`` would write."""
    spec = FLOWS[calibration.flow]
    prior = calibration.estimator(spec.prior, space.clock_mhz)
    value = calibration.estimator(spec.value, space.clock_mhz)
    shape = (space.n_inputs, space.n_classes)
    if calibration.flow == "vitis":
        target = (space.part.full_name, space.clock_mhz)
        return FlowEstimators(
            prior, lambda config: student_design(config, *shape, *target), value,
            lambda model, config: student_design(config, *shape, *target,
                                                 quantized_kernels(model, config)),
            searches_directives=True, details=lambda design: _vendor_details(design, calibration))

    def traced(model, config: StudentConfig) -> dict[str, float]:
        from nas.estimators.trace import student_features

        return student_features(model, config, config.inputs, space.clock_mhz)

    return FlowEstimators(prior, lambda config: expected_design(config, *shape), value, traced)


#: Screening: a learned student is trained on after ``screen_epochs`` unless an earlier
#: trial's screened design was this much more accurate with no more LUT-equivalents, or
#: fewer than ``SCREEN_STARTUP`` trials have been screened.
SCREEN_MARGIN = 0.003
SCREEN_STARTUP = 10


@dataclass(frozen=True)
class Evaluation:
    """A trained student as the search scores it."""

    val_accuracy: float
    estimate: ResourceEstimate
    lut_equivalent: float
    details: dict = field(default_factory=dict)


def screened_points(study: optuna.Study) -> list[tuple[float, float]]:
    """(validation accuracy, LUT-equivalent) of every complete trial's screened design."""
    return [(t.user_attrs["screen_val_accuracy"], t.user_attrs["screen_lut_equivalent"])
            for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if "screen_val_accuracy" in t.user_attrs]


def promising(point: tuple[float, float], earlier: list[tuple[float, float]]) -> bool:
    """Whether a screened design deserves full training: no earlier screened design beats it
    by ``SCREEN_MARGIN`` of accuracy at no more LUT-equivalents (always, for the first
    ``SCREEN_STARTUP``)."""
    accuracy_, lut = point
    return len(earlier) < SCREEN_STARTUP or not any(
        other_accuracy >= accuracy_ + SCREEN_MARGIN and other_lut <= lut
        for other_accuracy, other_lut in earlier)


@dataclass
class TrialRunner:
    """Callable objective of the study; everything it needs is loaded once, before the study."""

    space: Space
    data: DataSplits
    teacher_logits: np.ndarray
    estimators: FlowEstimators
    artifact_store: optuna.artifacts.FileSystemArtifactStore
    seed: int
    worker: str = ""
    memory_limit_bytes: int = 2**62
    #: The error that stopped the study because the disk is full (no later trial could be kept).
    disk_full: OSError | None = field(default=None, init=False)
    #: The numbers of the trials this runner ran, in order.
    numbers: list[int] = field(default_factory=list, init=False)

    def _record_estimate(self, trial: optuna.Trial, estimate: ResourceEstimate,
                         prefix: str) -> None:
        part = self.space.part
        for key, value in estimate.as_attrs(prefix).items():
            trial.set_user_attr(key, value)
        trial.set_user_attr(f"{prefix}lut_equivalent", estimate.lut_equivalent(part))

    def _set_constraints(self, trial: optuna.Trial, estimate: ResourceEstimate) -> None:
        """Soft constraints the sampler reads, each <= 0 when met: overuse of each resource
        of the part, and cycles beyond the space's latency limit (when it has one)."""
        for name, overuse in zip(RESOURCES, estimate.overuse(self.space.part), strict=True):
            trial.set_constraint(name, overuse)
        if self.space.max_latency_cycles:
            trial.set_constraint("latency", estimate.latency_cycles - self.space.max_latency_cycles)

    def __call__(self, trial: optuna.Trial) -> tuple[float, ...]:
        stop.raise_if_requested()
        self.numbers.append(trial.number)
        try:
            with memory_limit(self.memory_limit_bytes):
                return self._run(trial)
        except optuna.TrialPruned:
            raise
        except MemoryLimitExceeded:
            trial.set_user_attr("fail_reason", f"MemoryLimitExceeded: the process passed its "
                                f"memory limit of {self.memory_limit_bytes / 2**30:.2f} GB "
                                f"(--memory-limit)")
            raise
        except Exception as error:
            if is_disk_full(error):
                self.disk_full = error
                trial.study.stop()
            trial.set_user_attr("fail_reason", f"{type(error).__name__}: {error}")
            raise
        finally:
            # Each trial builds new models and graphs: let them go, or a long search grows by
            # tens of megabytes per trial.
            keras.backend.clear_session()

    def _reject_if_too_big(self, trial: optuna.Trial, config: StudentConfig) -> None:
        """Estimate ``config`` before training; a design that cannot fit the part is pruned."""
        space = self.space
        estimators = self.estimators
        prior = estimators.prior.predict_one(estimators.prior_view(config))
        self._record_estimate(trial, prior, "prior_")
        reason = prior.misfit_reason(space.part)
        if reason:
            self._set_constraints(trial, prior)
            trial.set_user_attr("rejected_reason", reason)
            raise optuna.TrialPruned(f"rejected before training: {reason}")

    def _evaluate(self, model, config: StudentConfig) -> Evaluation:
        estimators = self.estimators
        design = estimators.view(model, config)
        estimate = estimators.estimator.predict_one(design)
        return Evaluation(accuracy(model, self.data.x_val, self.data.y_val), estimate,
                          estimate.lut_equivalent(self.space.part), estimators.details(design))

    def _built(self, trial: optuna.Trial, config: StudentConfig) -> StudentConfig:
        """``config`` with the trial's strategy and reuse factor where the flow searches them
        (the same values each time a trial asks)."""
        return sample_directives(trial, config) if self.estimators.searches_directives \
            else config

    def _train_learned(self, trial: optuna.Trial, plan: LearnedPlan,
                       distillation: Distillation) -> tuple:
        """Train ``screen_epochs``, then on to ``learned_epochs`` when the screened design is
        promising; the trial records both fidelities."""
        recipe, data = self.space.recipe, self.data
        epochs = recipe.epochs(recipe.learned_epochs, len(data.y_train))
        screen = round(recipe.screen_epochs * epochs / recipe.learned_epochs)
        trainer = LearnedTrainer(plan.arch, plan.beta, data.x_train, data.y_train,
                                 self.teacher_logits, self.space.n_classes, recipe, distillation,
                                 epochs)
        if screen:
            earlier = screened_points(trial.study)
            trainer.train(screen)
            model, config = trainer.freeze()
            config = self._built(trial, config)
            screened = self._evaluate(model, config)
            trial.set_user_attr("screen_val_accuracy", screened.val_accuracy)
            trial.set_user_attr("screen_lut_equivalent", screened.lut_equivalent)
            if not promising((screened.val_accuracy, screened.lut_equivalent), earlier):
                trial.set_user_attr("epochs", screen)
                return model, config, trainer.losses, screened
        trainer.train(epochs)
        model, config = trainer.freeze()
        config = self._built(trial, config)
        trial.set_user_attr("epochs", epochs)
        return model, config, trainer.losses, None

    def _train(self, trial: optuna.Trial) -> tuple:
        """The trained student of the trial's proposal: model, configuration, losses and its
        evaluation when it is already made."""
        space = self.space
        if space.student.precision == "learned":
            plan = sample_learned(trial, space.student, self.data.stage)
            self._reject_if_too_big(trial, self._built(trial, plan.nominal_config()))
            distillation = sample_distillation(trial, space)
            set_seed(self.seed * 100_003 + trial.number)
            return self._train_learned(trial, plan, distillation)
        config = self._built(trial, sample_student(trial, space.student, self.data.stage,
                                                          space.input_shape))
        self._reject_if_too_big(trial, config)
        distillation = sample_distillation(trial, space)
        set_seed(self.seed * 100_003 + trial.number)
        model, losses = train_student(config, self.data.x_train, self.data.y_train,
                                      self.teacher_logits, space.n_classes, space.recipe,
                                      distillation=distillation)
        trial.set_user_attr("epochs", len(losses))
        return model, config, losses, None

    def _run(self, trial: optuna.Trial) -> tuple[float, ...]:
        space = self.space
        trial.set_user_attr("worker", self.worker)
        model, config, losses, evaluation = self._train(trial)
        trial.set_user_attr("config", config.to_dict())
        trial.set_user_attr("n_params", config.n_params(space.n_inputs, space.n_classes))
        start = time.perf_counter()
        evaluation = evaluation or self._evaluate(model, config)
        trial.set_user_attr("estimate_seconds", time.perf_counter() - start)
        estimate = evaluation.estimate
        self._record_estimate(trial, estimate, "est_")
        for key, value in evaluation.details.items():
            trial.set_user_attr(key, value)
        self._set_constraints(trial, estimate)
        stats = _weight_stats(model, config)
        attrs = {"val_accuracy": evaluation.val_accuracy,
                 "test_accuracy": accuracy(model, self.data.x_test, self.data.y_test),
                 "final_loss": losses[-1],
                 "nonzero_params": stats["nonzero_weights"] + (config.n_params(
                     space.n_inputs, space.n_classes) - stats["n_weights"]),
                 "achieved_sparsity": stats["achieved_sparsity"],
                 "fits_part": estimate.misfit_reason(space.part) is None,
                 "weights_artifact_id": self._store_weights(trial, model)}
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        values = {"val_accuracy": evaluation.val_accuracy,
                  "lut_equivalent": evaluation.lut_equivalent,
                  "latency_cycles": estimate.latency_cycles}
        return tuple(values[name] for name in space.objectives)

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
        try:
            load_weights(model, path)
        except Exception as error:  # numpy and zipfile raise many kinds for a damaged file
            raise DataError(f"the weights of trial {trial.number} (artifact "
                            f"{trial.user_attrs['weights_artifact_id']}) cannot be read "
                            f"({type(error).__name__}): the artifact is damaged; use another "
                            f"trial") from None
    return model, config
