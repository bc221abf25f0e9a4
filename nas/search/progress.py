"""What a search says as it goes, through Python's ``logging`` under the ``nas`` logger: one
line per stage, per finished trial and (``nas.app.synth``) per synthesized design. Nothing is
shown unless someone routes the logger: the CLI does (to stdout off a terminal, to
``--log-file``), an API user may (``logging.basicConfig(level="INFO")``)."""

import logging
from collections.abc import Callable

import optuna
from optuna.trial import FrozenTrial, TrialState

from nas.search.front import accuracy_floor, is_feasible
from nas.spaces.space import Space

LOGGER = logging.getLogger("nas")
#: The line that says which device trains: the CLI shows it on a terminal too.
DEVICE_LOGGER = logging.getLogger("nas.device")
_log = logging.getLogger("nas.search")


def logged_stages(on_stage: Callable[[str], None]) -> Callable[[str], None]:
    """``on_stage``, each stage also logged as it starts."""

    def stage(name: str) -> None:
        _log.info("stage: %s", name)
        on_stage(name)

    return stage


def smallest_useful(study: optuna.Study, space: Space) -> FrozenTrial | None:
    """The feasible complete trial with the fewest LUT-equivalents at the useful floor."""
    floor = accuracy_floor(study, space)
    useful = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
              if is_feasible(t) and t.user_attrs.get("val_accuracy", 0.0) >= floor]
    return min(useful, key=lambda t: (t.user_attrs["est_lut_equivalent"],
                                      -t.user_attrs["val_accuracy"]), default=None)


def trial_line(study: optuna.Study, trial: FrozenTrial, space: Space) -> str:
    """``trial 12 complete: val acc 0.9731, LUT-eq 1,234, 41.2 s; best at val acc >= 0.9700:
    trial 9, LUT-eq 980``."""
    attrs = trial.user_attrs
    state = {TrialState.PRUNED: "rejected"}.get(trial.state, trial.state.name.lower())
    parts = [f"trial {trial.number} {state}:"]
    if "val_accuracy" in attrs:
        parts.append(f"val acc {attrs['val_accuracy']:.4f},")
    if "est_lut_equivalent" in attrs:
        parts.append(f"LUT-eq {attrs['est_lut_equivalent']:,.0f},")
    reason = attrs.get("rejected_reason") or attrs.get("fail_reason")
    if reason and trial.state != TrialState.COMPLETE:
        parts.append(f"({reason}),")
    seconds = trial.duration.total_seconds() if trial.duration else 0.0
    parts.append(f"{seconds:.1f} s;")
    floor, best = accuracy_floor(study, space), smallest_useful(study, space)
    parts.append(f"best at val acc >= {floor:.4f}: " + (
        f"trial {best.number}, LUT-eq {best.user_attrs['est_lut_equivalent']:,.0f}" if best
        else "none yet"))
    return " ".join(parts)


def log_trial(study: optuna.Study, trial: FrozenTrial, space: Space) -> None:
    if _log.isEnabledFor(logging.INFO):
        _log.info("%s", trial_line(study, trial, space))
