"""What one trial records: gathered while it runs, written once at its end."""

from dataclasses import dataclass, field
from typing import Any

import optuna

from nas.estimators.base import RESOURCES, ResourceEstimate
from nas.model.config import StudentConfig
from nas.spaces.space import Space


@dataclass(frozen=True)
class Evaluation:
    """A trained student as the search scores it."""

    val_accuracy: float
    estimate: ResourceEstimate
    lut_equivalent: float
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class WeightStats:
    n_weights: int
    nonzero_weights: int

    @property
    def sparsity(self) -> float:
        return 1.0 - self.nonzero_weights / self.n_weights


@dataclass
class TrialRecord:
    """Everything a trial records, under the names the study's readers use (the front, the
    report, the benchmarks), and the constraints the sampler reads. A trial fills it in as
    it runs and writes it once (``write``), after its training and outside its memory
    limit: the limit's exception never lands inside a storage write."""

    #: Before training: the estimate of the proposed design, and why it cannot fit (if so).
    prior: ResourceEstimate | None = None
    rejected_reason: str | None = None
    #: The screened design (learned precision), and the epochs the student trained.
    screened: Evaluation | None = None
    epochs: int | None = None
    #: The trained student, as the search scores it, and what only the report reads.
    config: StudentConfig | None = None
    evaluation: Evaluation | None = None
    estimate_seconds: float | None = None
    test_accuracy: float | None = None
    final_loss: float | None = None
    weights: WeightStats | None = None
    weights_artifact_id: str | None = None
    fail_reason: str | None = None

    def _trained_attrs(self, space: Space) -> dict[str, Any]:
        config, evaluation, weights = self.config, self.evaluation, self.weights
        n_params = config.n_params(space.n_inputs, space.n_classes)
        return {"config": config.to_dict(), "n_params": n_params,
                "estimate_seconds": self.estimate_seconds,
                **evaluation.estimate.as_attrs("est_"),
                "est_lut_equivalent": evaluation.lut_equivalent, **evaluation.details,
                "val_accuracy": evaluation.val_accuracy, "test_accuracy": self.test_accuracy,
                "final_loss": self.final_loss,
                "nonzero_params": weights.nonzero_weights + n_params - weights.n_weights,
                "achieved_sparsity": weights.sparsity,
                "fits_part": evaluation.estimate.misfit_reason(space.part) is None}

    def attrs(self, space: Space) -> dict[str, Any]:
        """The trial's user attributes (those it has reached)."""
        attrs: dict[str, Any] = {}
        if self.prior is not None:
            attrs |= self.prior.as_attrs("prior_")
            attrs["prior_lut_equivalent"] = self.prior.lut_equivalent(space.part)
        optional = {"rejected_reason": self.rejected_reason, "epochs": self.epochs,
                    "weights_artifact_id": self.weights_artifact_id,
                    "fail_reason": self.fail_reason}
        if self.screened is not None:
            optional |= {"screen_val_accuracy": self.screened.val_accuracy,
                         "screen_lut_equivalent": self.screened.lut_equivalent}
        if self.evaluation is not None and self.weights is not None:
            optional |= self._trained_attrs(space)
        return attrs | {key: value for key, value in optional.items() if value is not None}

    def constraints(self, space: Space) -> dict[str, float]:
        """Soft constraints the sampler reads, each <= 0 when met: overuse of each resource of
        the part, and cycles beyond the space's latency limit (when it has one); of the
        trained design, or of the proposal when it was rejected."""
        estimate = self.evaluation.estimate if self.evaluation is not None else (
            self.prior if self.rejected_reason else None)
        if estimate is None:
            return {}
        constraints = dict(zip(RESOURCES, estimate.overuse(space.part), strict=True))
        if space.max_latency_cycles:
            constraints["latency"] = estimate.latency_cycles - space.max_latency_cycles
        return constraints

    def objectives(self, space: Space) -> tuple[float, ...]:
        evaluation = self.evaluation
        values = {"val_accuracy": evaluation.val_accuracy,
                  "lut_equivalent": evaluation.lut_equivalent,
                  "latency_cycles": evaluation.estimate.latency_cycles}
        return tuple(values[name] for name in space.objectives)

    def write(self, trial: optuna.Trial, space: Space) -> None:
        for key, value in self.attrs(space).items():
            trial.set_user_attr(key, value)
        for name, value in self.constraints(space).items():
            trial.set_constraint(name, value)
