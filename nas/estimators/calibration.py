"""Calibration files: the fitted coefficients of a flow's estimators, with their evidence.

A calibration is one JSON file (schema ``nas-calibration/1``) for one flow and the part
families of its data: the tool versions of the synthesis that produced its data, per
estimator the feature definitions, the coefficients of each quantity and the error on
designs not used in the fit, and a summary and SHA-256 of the data it was fitted on. Rows
that name their group (a repository of designs) are evaluated group by group: each group is
predicted by a fit on all the others (leave-one-group-out), and the coefficients stored are
fitted on every row. Other rows: a fifth of the data, drawn by a fixed seed, is held out and
the rest fitted. The project ships one calibration per flow in ``estimators/calibrations``;
the search uses the flow's default unless given another file.
"""

import datetime
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from importlib.resources import files
from pathlib import Path

import numpy as np

from nas.errors import DataError, InvalidValue
from nas.estimators.architecture import ArchitectureEstimator
from nas.estimators.base import QUANTITIES, ResourceEstimate, ResourceEstimator
from nas.estimators.design import DesignSummary
from nas.estimators.vendor.design import VendorDesign
from nas.estimators.vendor.estimator import VendorEstimator

SCHEMA = "nas-calibration/1"


@dataclass(frozen=True)
class FlowSpec:
    """A flow's part family, its architecture-level estimator (before training: rejection
    and prior) and its value-aware one (after training: the trial's objectives)."""

    part_family: str
    prior: str
    value: str

    @property
    def estimators(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.prior, self.value)))


FLOWS = {"open": FlowSpec("xc7", prior="architecture", value="trace"),
         "vitis": FlowSpec("xc7+ultrascale", prior="vendor_hls", value="vendor_hls")}
HELD_OUT_FRACTION = 0.2
#: Fewest groups for leave-one-group-out; with fewer, each design is left out on its own.
MIN_GROUPS = 3
#: The evaluation that leaves each group out in turn (its label begins with this).
GROUP_EVALUATION = "leave-one-group-out"


def _trace(coefficients: dict | None, clock_mhz: float) -> ResourceEstimator:
    from nas.estimators.trace import TraceEstimator  # imports da4ml: only when asked for

    return TraceEstimator(coefficients)


def _summary(row: dict) -> DesignSummary:
    return DesignSummary.from_dict(row["design"])


#: Per estimator name: how to make it from coefficients (None: its uncalibrated prior) at a
#: clock, and its design from a calibration data row.
ESTIMATORS: dict[str, tuple[Callable[[dict | None, float], ResourceEstimator],
                            Callable[[dict], object]]] = {
    "architecture": (lambda co, clock: ArchitectureEstimator(clock, co), _summary),
    "trace": (_trace, lambda row: row["trace"]),
    "vendor_hls": (lambda co, clock: VendorEstimator(co),
                   lambda row: VendorDesign.from_dict(row["design"])),
}


def estimate_matrix(estimates: Sequence[ResourceEstimate]) -> np.ndarray:
    return np.array([[float(getattr(e, q)) for q in QUANTITIES] for e in estimates])


def error_table(estimates: Sequence[ResourceEstimate] | np.ndarray, measured: np.ndarray) -> dict:
    """Per quantity that is not always zero: mean, median and worst absolute percentage error
    (of ``max(measured, 1)``), the symmetric mean absolute percentage error (``smape``:
    ``|estimate - report|`` over their mean, 0 where both are 0: the measure of the wa-hls4ml
    paper, defined where reports are zero), R^2, and the fraction predicted exactly (after
    rounding).
    ``estimates`` may be a matrix with the columns of ``QUANTITIES``, like ``measured``."""
    predicted = np.asarray(estimates if isinstance(estimates, np.ndarray)
                           else estimate_matrix(estimates), dtype=float)
    table = {}
    for column, quantity in enumerate(QUANTITIES):
        truth = np.asarray(measured[:, column], dtype=float)
        if not np.any(truth):
            continue
        guess = predicted[:, column]
        relative = np.abs(guess - truth) / np.maximum(np.abs(truth), 1.0)
        spread = np.sum((truth - truth.mean()) ** 2)
        mean_size = (np.abs(guess) + np.abs(truth)) / 2
        symmetric = np.where(mean_size > 0, np.abs(guess - truth) / np.maximum(mean_size, 1e-12),
                             0.0)
        table[quantity] = {
            "mape": float(100 * relative.mean()), "median_ape": float(100 * np.median(relative)),
            "worst_ape": float(100 * relative.max()), "smape": float(100 * symmetric.mean()),
            "r2": float(1 - np.sum((truth - guess) ** 2) / spread) if spread else 1.0,
            "exact_fraction": float(np.mean(np.rint(guess) == np.rint(truth))),
            "n": int(len(truth)),
        }
    return table


def mean_over_groups(estimates: np.ndarray, measured: np.ndarray, groups: Sequence
                     ) -> dict[str, float]:
    """Per quantity, the mean of each group's MAPE (``error_table`` of its designs): every
    group (a repository) weighs the same, as in the fit (``group_weights``), however many
    designs it holds; a group whose reports of a quantity are all zero is left out of it."""
    groups = np.asarray(groups, dtype=object)
    tables = [error_table(estimates[groups == name], measured[groups == name])
              for name in sorted(set(groups))]
    return {q: float(np.mean([t[q]["mape"] for t in tables if q in t]))
            for q in QUANTITIES if any(q in t for t in tables)}


def held_out_split(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices to fit on and the held-out fifth (at least one of each)."""
    if n < 2:
        raise ValueError(f"calibration needs at least 2 designs, got {n}")
    order = np.random.default_rng(seed).permutation(n)
    n_held = min(n - 1, max(1, round(HELD_OUT_FRACTION * n)))
    return np.sort(order[n_held:]), np.sort(order[:n_held])


def measured_matrix(rows: Sequence[dict]) -> np.ndarray:
    return np.array([[float(row["measured"].get(q, 0.0)) for q in QUANTITIES] for row in rows])


def data_hash(rows: Sequence[dict]) -> str:
    text = json.dumps([{k: row[k] for k in ("design", "trace", "measured") if k in row}
                       for row in rows], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Calibration:
    flow: str
    part_family: str
    clock_mhz: float
    tool_versions: dict
    data: dict
    estimators: dict = field(default_factory=dict)
    created: str = ""
    schema: str = SCHEMA

    def estimator(self, name: str, clock_mhz: float | None = None) -> ResourceEstimator:
        """Estimator ``name`` with this calibration's coefficients."""
        if name not in self.estimators:
            raise DataError(f"the {self.flow} calibration has no '{name}' estimator: it holds "
                            f"{', '.join(self.estimators)}")
        make, _ = ESTIMATORS[name]
        coefficients = {q: m["coefficients"] for q, m in self.estimators[name]["models"].items()}
        return make(coefficients, clock_mhz or self.clock_mhz)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1) + "\n")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path, flow: str | None = None) -> "Calibration":
        """Read and check a calibration file; a one-line ``DataError`` for anything wrong."""
        try:
            values = json.loads(Path(path).read_text())
        except OSError as error:
            raise DataError(f"cannot read calibration file {path}: {error.strerror}") from None
        except json.JSONDecodeError as error:
            raise DataError(f"calibration file {path} is not JSON ({error.msg}, line "
                            f"{error.lineno}): give a file written by 'nas calibrate'") from None
        if not isinstance(values, dict) or values.get("schema") != SCHEMA:
            found = values.get("schema") if isinstance(values, dict) else type(values).__name__
            raise DataError(f"calibration file {path} has schema {found!r}, expected "
                            f"'{SCHEMA}': write it again with 'nas calibrate'")
        missing = [k for k in ("flow", "part_family", "clock_mhz", "tool_versions", "data",
                               "estimators") if k not in values]
        if missing:
            raise DataError(f"calibration file {path} lacks {', '.join(missing)}: write it "
                            f"again with 'nas calibrate'")
        if flow is not None and values["flow"] != flow:
            raise DataError(f"calibration file {path} is for the {values['flow']!r} flow, not "
                            f"{flow!r}: give a calibration of the {flow} flow")
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise DataError(f"calibration file {path} has unknown keys {', '.join(sorted(unknown))}"
                            f": write it again with 'nas calibrate'")
        calibration = cls(**values)
        calibration._check_estimators(path)
        return calibration

    def _check_estimators(self, path: Path) -> None:
        for name, entry in self.estimators.items():
            if name not in ESTIMATORS or not isinstance(entry, dict) or "models" not in entry:
                raise DataError(f"calibration file {path}: unknown or malformed estimator "
                                f"{name!r} (known: {', '.join(ESTIMATORS)})")
            stale = self._stale_models(name, entry["models"])
            if stale:
                raise DataError(f"calibration file {path}: {stale}: write it again with 'nas "
                                f"calibrate' (rows of studies and generated designs are traced "
                                f"again from their stored weights)")
            try:
                self.estimator(name)
            except (KeyError, TypeError, ValueError) as error:
                raise DataError(f"calibration file {path}: estimator {name!r} is malformed "
                                f"({error})") from None

    def stale_models(self) -> str | None:
        """What models of this calibration use features this version no longer computes (a
        file or a study made by an older version), or None."""
        return next(filter(None, (self._stale_models(name, entry["models"])
                                  for name, entry in self.estimators.items())), None)

    def _stale_models(self, name: str, models: object) -> str | None:
        wanted = ESTIMATORS[name][0](None, self.clock_mhz).quantity_features
        for quantity, model in (models.items() if isinstance(models, dict) else ()):
            used = model.get("features", []) if isinstance(model, dict) else []
            if list(used) != list(wanted.get(quantity, ())):
                return (f"its {name} model of {quantity} uses the features "
                        f"{', '.join(map(str, used)) or 'none'}, this version computes "
                        f"{', '.join(wanted.get(quantity, ())) or 'none'}")
        return None


def evaluation_folds(rows: Sequence[dict], seed: int = 0) -> tuple[str, list[np.ndarray]]:
    """How the rows are evaluated and the indices each fold holds out: one fold per group
    (leave-one-group-out) when the rows name at least ``MIN_GROUPS`` groups, one per design
    when they name fewer, else the held-out fifth."""
    groups = [row.get("group") for row in rows]
    if all(groups):
        names = sorted(set(groups))
        if len(names) >= MIN_GROUPS:
            return (f"{GROUP_EVALUATION} over {len(names)} groups",
                    [np.flatnonzero([g == name for g in groups]) for name in names])
        return "leave-one-design-out", [np.array([i]) for i in range(len(rows))]
    _, held = held_out_split(len(rows), seed)
    return "held-out fifth", [held]


def group_weights(rows: Sequence[dict]) -> np.ndarray:
    """Per row, one over the number of rows of its group: every group (a repository) weighs
    the same in a fit, however many designs it holds; 1 for rows without a group."""
    groups = [row.get("group") for row in rows]
    counts = {g: groups.count(g) for g in set(groups)}
    return np.array([1.0 / counts[g] if g else 1.0 for g in groups])


def fold_estimators(name: str, rows: Sequence[dict], folds: Sequence[np.ndarray],
                    clock_mhz: float = 200.0) -> list[ResourceEstimator]:
    """Per fold, estimator ``name`` fitted on the rows outside it (``group_weights``)."""
    make, design_of = ESTIMATORS[name]
    designs, measured = [design_of(row) for row in rows], measured_matrix(rows)
    weights = group_weights(rows)
    fitted = []
    for fold in folds:
        rest = np.setdiff1d(np.arange(len(rows)), fold)
        fitted.append(make(None, clock_mhz).fit([designs[i] for i in rest], measured[rest],
                                                weights[rest]))
    return fitted


def cross_predict(name: str, rows: Sequence[dict], folds: Sequence[np.ndarray],
                  clock_mhz: float = 200.0) -> np.ndarray:
    """Estimates (columns of ``QUANTITIES``) of the rows of each fold by estimator ``name``
    fitted on the rows outside it (``fold_estimators``); rows in no fold are NaN."""
    design_of = ESTIMATORS[name][1]
    predicted = np.full((len(rows), len(QUANTITIES)), np.nan)
    for fold, estimator in zip(folds, fold_estimators(name, rows, folds, clock_mhz),
                               strict=True):
        predicted[fold] = estimate_matrix(estimator.predict([design_of(rows[i]) for i in fold]))
    return predicted


def fit_estimators(flow: str, rows: Sequence[dict], clock_mhz: float, tool_versions: dict,
                   data_summary: dict, seed: int = 0, part_family: str | None = None
                   ) -> Calibration:
    """Fit each estimator of ``flow`` and measure it on designs left out of the fit
    (``evaluation_folds``); the stored coefficients are fitted on every row that was not
    held out for good (all rows, unless the evaluation is the held-out fifth)."""
    spec = FLOWS[flow]
    method, folds = evaluation_folds(rows, seed)
    held_for_good = folds[0] if method == "held-out fifth" else np.array([], dtype=int)
    fit_index = np.setdiff1d(np.arange(len(rows)), held_for_good)
    evaluated = np.concatenate(folds)
    measured = measured_matrix(rows)
    calibration = Calibration(
        flow=flow, part_family=part_family or spec.part_family, clock_mhz=clock_mhz,
        tool_versions=tool_versions,
        data={"n_designs": len(rows), "n_fit": len(fit_index), "n_held_out": len(evaluated),
              "evaluation": method, "held_out_seed": seed, "sha256": data_hash(rows),
              **data_summary},
        created=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"))
    for name in spec.estimators:
        make, design_of = ESTIMATORS[name]
        designs = [design_of(row) for row in rows]
        estimator = make(None, clock_mhz)
        estimator.fit([designs[i] for i in fit_index], measured[fit_index],
                      group_weights(rows)[fit_index])
        start = time.perf_counter()
        estimator.predict(designs)
        seconds = (time.perf_counter() - start) / len(rows)
        predicted = (estimate_matrix(estimator.predict([designs[i] for i in held_for_good]))
                     if method == "held-out fifth" else
                     cross_predict(name, rows, folds, clock_mhz)[evaluated])
        # Making the design's view (the trace, for the value-aware estimator) is part of the cost.
        view = float(np.mean([row.get("seconds", {}).get(f"{name}_features", 0.0)
                              for row in rows]))
        calibration.estimators[name] = {
            "features": dict(estimator.feature_definitions), "models": estimator.models(),
            "held_out_error": _held_out_error(rows, evaluated, predicted, measured, method),
            "seconds_per_design": seconds + view}
    return calibration


def _held_out_error(rows: Sequence[dict], evaluated: np.ndarray, predicted: np.ndarray,
                    measured: np.ndarray, method: str) -> dict:
    """``error_table`` of the designs left out, with, where groups were left out one at a
    time, each quantity's ``group_mape`` (``mean_over_groups``): the error to expect on a new
    group's designs, which a table dominated by one large group does not tell."""
    table = error_table(predicted, measured[evaluated])
    if method.startswith(GROUP_EVALUATION):
        groups = [rows[i].get("group") for i in evaluated]
        for quantity, mape in mean_over_groups(predicted, measured[evaluated], groups).items():
            table[quantity].update(group_mape=mape, groups=len(set(groups)))
    return table


#: The quantities whose expected error an estimate is shown with.
EXPECTED_QUANTITIES = ("lut", "ff", "dsp", "latency_cycles")


def expected_error(held_out: dict) -> dict[str, float]:
    """Per quantity of an estimator's ``held_out_error``, the error (%) to expect of its
    estimates: the mean of the groups' MAPE where the calibration left one group out at a time
    (what a new group's designs can expect), else the MAPE over the designs left out."""
    return {quantity: round(float(held_out[quantity].get("group_mape",
                                                         held_out[quantity]["mape"])), 1)
            for quantity in EXPECTED_QUANTITIES if quantity in held_out}


def default_calibration(flow: str) -> Calibration:
    """The calibration the project ships for ``flow``."""
    if flow not in FLOWS:
        raise InvalidValue("flow", f"'{flow}'", f"use one of {', '.join(FLOWS)}", problem="is unknown")
    path = files("nas.estimators") / "calibrations" / f"{flow}.json"
    return Calibration.load(Path(str(path)), flow)


def load_calibration(flow: str, path: Path | None = None) -> Calibration:
    """``path`` if given (checked to be of ``flow``), else the shipped default."""
    return Calibration.load(path, flow) if path else default_calibration(flow)
