"""One trial: sample a student, reject it if it cannot fit, train it (screened first, when its
precision is learned), estimate it, record it."""

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import optuna

from nas import stop
from nas._tf import keras, set_seed
from nas.errors import DataError, is_disk_full
from nas.model.config import StudentConfig, quantized_kernels
from nas.model.data import DataSplits
from nas.model.learned import LearnedTrainer
from nas.model.student import Distillation, accuracy, build_student, train_student
from nas.model.weights import load_weights, save_weights
from nas.search.flow import FlowEstimators
from nas.search.memory import MemoryLimitExceeded, memory_limit
from nas.search.records import download_weights
from nas.search.sampling import (
    LearnedPlan,
    sample_directives,
    sample_distillation,
    sample_learned,
    sample_student,
)
from nas.search.screening import promising, screened_points
from nas.search.trial_record import Evaluation, TrialRecord, WeightStats
from nas.spaces.space import Space


def _weight_stats(model, config: StudentConfig) -> WeightStats:
    kernels = quantized_kernels(model, config)
    return WeightStats(sum(k.size for k in kernels),
                       sum(int(np.count_nonzero(k)) for k in kernels))


@dataclass(frozen=True)
class Proposal:
    """What a trial asked the sampler for, before any training: a learned-precision plan or
    a searched-precision configuration, the distillation, and the screened designs of the
    earlier trials (for screening)."""

    plan: LearnedPlan | None
    config: StudentConfig | None
    distillation: Distillation
    earlier: list[tuple[float, float]]


@dataclass
class TrialRunner:
    """Callable objective of the study; everything it needs is loaded once, before the study.

    A trial reads and writes the storage only before its training (the sampler's proposals,
    the earlier trials' screened designs) and after it (the weights, the record); the memory
    limit watches the training and estimation between, so its exception never lands inside a
    storage write."""

    space: Space
    data: DataSplits
    teacher_logits: np.ndarray
    estimators: FlowEstimators
    artifact_store: optuna.artifacts.FileSystemArtifactStore
    seed: int
    memory_limit_bytes: int = 2**62
    #: The error that stopped the study because the disk is full (no later trial could be kept).
    disk_full: OSError | None = field(default=None, init=False)
    #: The numbers of the trials this runner ran, in order.
    numbers: list[int] = field(default_factory=list, init=False)

    def __call__(self, trial: optuna.Trial) -> tuple[float, ...]:
        stop.trial_started()
        self.numbers.append(trial.number)
        record = TrialRecord()
        try:
            self._run(trial, record)
        except optuna.TrialPruned:
            record.write(trial, self.space)
            raise
        except MemoryLimitExceeded:
            record.fail_reason = (f"MemoryLimitExceeded: the process passed its memory limit of "
                                  f"{self.memory_limit_bytes / 2**30:.2f} GB (--memory-limit)")
            record.write(trial, self.space)
            raise
        except Exception as error:
            if is_disk_full(error):
                self.disk_full = error
                trial.study.stop()
            record.fail_reason = f"{type(error).__name__}: {error}"
            record.write(trial, self.space)
            raise
        finally:
            # Each trial builds new models and graphs: let them go, or a long search grows by
            # tens of megabytes per trial.
            keras.backend.clear_session()
        record.write(trial, self.space)
        return record.objectives(self.space)

    def _run(self, trial: optuna.Trial, record: TrialRecord) -> None:
        proposal = self._propose(trial, record)
        set_seed(self.seed * 100_003 + trial.number)
        with memory_limit(self.memory_limit_bytes):
            model = self._train_and_score(trial, proposal, record)
        record.weights_artifact_id = self._store_weights(trial, model)

    def _propose(self, trial: optuna.Trial, record: TrialRecord) -> Proposal:
        """The sampler's proposal; a design that cannot fit the part is pruned here."""
        space = self.space
        if space.student.precision == "learned":
            plan = sample_learned(trial, space.student, self.data.stage, space.input_shape)
            self._reject_if_too_big(record, self._built(trial, plan.nominal_config()))
            config = None
        else:
            plan = None
            config = self._built(trial, sample_student(trial, space.student, self.data.stage,
                                                       space.input_shape))
            self._reject_if_too_big(record, config)
        return Proposal(plan, config, sample_distillation(trial, space),
                        screened_points(trial.study) if plan is not None else [])

    def _reject_if_too_big(self, record: TrialRecord, config: StudentConfig) -> None:
        """Estimate ``config`` before training; a design that cannot fit the part is pruned."""
        estimators = self.estimators
        record.prior = estimators.prior.predict_one(estimators.prior_view(config))
        record.rejected_reason = record.prior.misfit_reason(self.space.part)
        if record.rejected_reason:
            raise optuna.TrialPruned(f"rejected before training: {record.rejected_reason}")

    def _built(self, trial: optuna.Trial, config: StudentConfig) -> StudentConfig:
        """``config`` with the trial's strategy and reuse factor where the flow searches them
        (sampled when first asked, the same values after)."""
        return sample_directives(trial, config) if self.estimators.searches_directives \
            else config

    def _evaluate(self, model, config: StudentConfig) -> Evaluation:
        estimators = self.estimators
        design = estimators.view(model, config)
        estimate = estimators.estimator.predict_one(design)
        return Evaluation(accuracy(model, self.data.x_val, self.data.y_val), estimate,
                          estimate.lut_equivalent(self.space.part), estimators.details(design))

    def _train_and_score(self, trial: optuna.Trial, proposal: Proposal, record: TrialRecord):
        """Train the proposal, score it and fill in ``record``; returns the trained model."""
        if proposal.plan is not None:
            model, config, losses = self._train_learned(trial, proposal, record)
        else:
            config = proposal.config
            model, losses = train_student(config, self.data.x_train, self.data.y_train,
                                          self.teacher_logits, self.space.n_classes,
                                          self.space.recipe, distillation=proposal.distillation)
            record.epochs = len(losses)
        start = time.perf_counter()
        record.evaluation = record.evaluation or self._evaluate(model, config)
        record.estimate_seconds = time.perf_counter() - start
        record.config, record.final_loss = config, losses[-1]
        record.test_accuracy = accuracy(model, self.data.x_test, self.data.y_test)
        record.weights = _weight_stats(model, config)
        return model

    def _train_learned(self, trial: optuna.Trial, proposal: Proposal,
                       record: TrialRecord) -> tuple:
        """Train ``screen_epochs``, then on to ``learned_epochs`` when the screened design is
        promising; the record keeps both fidelities (the screened design's evaluation is the
        trial's when it stops there)."""
        recipe, data = self.space.recipe, self.data
        epochs = recipe.epochs(recipe.learned_epochs, len(data.y_train))
        screen = round(recipe.screen_epochs * epochs / recipe.learned_epochs)
        trainer = LearnedTrainer(proposal.plan.arch, proposal.plan.beta, data.x_train,
                                 data.y_train, self.teacher_logits, self.space.n_classes, recipe,
                                 proposal.distillation, epochs)
        if screen:
            trainer.train(screen)
            model, config = trainer.freeze()
            config = self._built(trial, config)
            record.screened = self._evaluate(model, config)
            if not promising((record.screened.val_accuracy, record.screened.lut_equivalent),
                             proposal.earlier):
                record.epochs, record.evaluation = screen, record.screened
                return model, config, trainer.losses
        trainer.train(epochs)
        model, config = trainer.freeze()
        record.epochs = epochs
        return model, self._built(trial, config), trainer.losses

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
