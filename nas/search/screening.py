"""Screening, the search's multi-fidelity step (Optuna's multi-objective studies have no
pruners): a learned student trains ``screen_epochs`` first and goes on only when no earlier
trial's screened design was clearly better."""

import optuna
from optuna.trial import TrialState

#: A screened design trains on unless an earlier trial's screened design was this much more
#: accurate with no more LUT-equivalents, or fewer than ``SCREEN_STARTUP`` trials have been
#: screened.
SCREEN_MARGIN = 0.003
SCREEN_STARTUP = 10


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
