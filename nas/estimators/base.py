"""The estimator interface (scikit-learn's fit/predict shape) and what an estimate holds.

Every estimator here is linear in features of a design: it computes named features of a
design (``features``), and each quantity is a non-negative combination of some of them
(``quantity_features``), fitted by non-negative least squares. Non-negative, because each
feature counts hardware (adder bits, register bits) that can only add cost, which keeps the
estimate monotonic where the calibration data are thin.
"""

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

from nas.spaces.parts import Part

#: Quantities an estimator predicts, in this order.
QUANTITIES = ("lut", "ff", "dsp", "bram", "latency_cycles")
#: The part's resources, in the order of ``ResourceEstimate.overuse``.
RESOURCES = ("lut", "ff", "dsp", "bram36")


@dataclass(frozen=True)
class ResourceEstimate:
    lut: float
    ff: float
    dsp: float
    bram: float
    latency_cycles: int

    def lut_equivalent(self, part: Part) -> float:
        """LUTs plus each DSP counted as ``part.luts_per_dsp`` LUTs (its share of the chip)."""
        return self.lut + part.luts_per_dsp * self.dsp

    def overuse(self, part: Part) -> list[float]:
        """Per resource, ``used / available - 1``: all <= 0 means the design fits."""
        return [self.lut / part.lut - 1.0, self.ff / part.ff - 1.0,
                self.dsp / part.dsp - 1.0, self.bram / part.bram36 - 1.0]

    def misfit_reason(self, part: Part) -> str | None:
        """Why the design cannot fit ``part``, or None when it fits."""
        used = {"LUT": (self.lut, part.lut), "FF": (self.ff, part.ff),
                "DSP": (self.dsp, part.dsp), "BRAM36": (self.bram, part.bram36)}
        over = [f"estimated {name} {value:,.0f} > {limit:,} of {part.name}"
                for name, (value, limit) in used.items() if value > limit]
        return "; ".join(over) or None

    def as_attrs(self, prefix: str) -> dict[str, float]:
        return {f"{prefix}{name}": float(getattr(self, name)) for name in QUANTITIES}


def check_fit_data(designs: Sequence, measured: np.ndarray,
                   sample_weight: Sequence[float] | None) -> tuple[np.ndarray, np.ndarray]:
    """``measured`` and the weights as arrays, checked against the designs."""
    measured = np.asarray(measured, dtype=float)
    if measured.shape != (len(designs), len(QUANTITIES)) or len(designs) < 2:
        raise ValueError(f"fit needs at least 2 designs and a measured array of shape "
                         f"({len(designs)}, {len(QUANTITIES)}), got {measured.shape}")
    weight = np.ones(len(designs)) if sample_weight is None else \
        np.asarray(sample_weight, dtype=float)
    if weight.shape != (len(designs),) or np.any(weight < 0):
        raise ValueError(f"sample_weight needs {len(designs)} non-negative values")
    return measured, weight


class ResourceEstimator(abc.ABC):
    """Predicts LUT, FF, DSP, BRAM and latency cycles of designs for one flow and part family.

    Subclasses name themselves (``name``, the key of their coefficients in a calibration
    file), their flow and part family, define ``features`` and, per quantity, which features
    its linear model uses (``quantity_features``; none: the quantity is always 0). ``fit``
    calibrates the coefficients on synthesized designs (``measured`` rows hold the quantities
    of ``QUANTITIES``); ``predict`` returns one estimate per design.
    """

    name: str
    flow: str
    part_family: str
    quantity_features: Mapping[str, tuple[str, ...]]
    #: What each feature counts, written into calibration files.
    feature_definitions: Mapping[str, str]
    #: The coefficients before any calibration.
    prior: Mapping[str, Sequence[float]]

    def __init__(self, coefficients: Mapping[str, Sequence[float]] | None = None):
        coefficients = self.prior if coefficients is None else coefficients
        self.coefficients = {q: tuple(float(c) for c in coefficients.get(q, ()))
                             for q in QUANTITIES}
        for quantity in QUANTITIES:
            wanted = len(self.quantity_features.get(quantity, ()))
            if len(self.coefficients[quantity]) != wanted:
                raise ValueError(f"{self.name} estimator: {quantity} needs {wanted} "
                                f"coefficients, got {len(self.coefficients[quantity])}")

    @abc.abstractmethod
    def features(self, design) -> dict[str, float]:
        """Named feature values of one design."""

    def _matrices(self, designs: Sequence) -> dict[str, np.ndarray]:
        """Per quantity with a model, its feature matrix (each design's features made once)."""
        table = [self.features(design) for design in designs]
        return {quantity: np.array([[row[name] for name in names] for row in table],
                                   dtype=float)
                for quantity, names in self.quantity_features.items() if names}

    def fit(self, designs: Sequence, measured: np.ndarray,
            sample_weight: Sequence[float] | None = None) -> "ResourceEstimator":
        """Non-negative least-squares coefficients from measured rows (columns as
        ``QUANTITIES``), each row's squared error weighted by ``sample_weight`` (default 1)."""
        measured, weight = check_fit_data(designs, measured, sample_weight)
        root = np.sqrt(weight)[:, None]
        for quantity, matrix in self._matrices(designs).items():
            coefficients, _ = nnls(matrix * root,
                                   measured[:, QUANTITIES.index(quantity)] * root[:, 0])
            self.coefficients[quantity] = tuple(float(c) for c in coefficients)
        return self

    def _values(self, designs: Sequence) -> dict[str, np.ndarray]:
        """Per quantity, each design's unrounded estimate (0 where a quantity has no model)."""
        values = {quantity: np.zeros(len(designs)) for quantity in QUANTITIES}
        for quantity, matrix in self._matrices(designs).items():
            values[quantity] = matrix @ np.array(self.coefficients[quantity])
        return values

    def predict(self, designs: Sequence) -> list[ResourceEstimate]:
        values = self._values(designs)
        return [ResourceEstimate(lut=float(values["lut"][i]), ff=float(values["ff"][i]),
                                 dsp=float(values["dsp"][i]), bram=float(values["bram"][i]),
                                 latency_cycles=max(1, int(np.floor(
                                     values["latency_cycles"][i] + 0.5))))
                for i in range(len(designs))]

    def predict_one(self, design) -> ResourceEstimate:
        return self.predict([design])[0]

    def models(self) -> dict[str, dict]:
        """The fitted models, as a calibration file stores them."""
        return {q: {"features": list(self.quantity_features[q]),
                    "coefficients": list(self.coefficients[q])}
                for q in QUANTITIES if self.quantity_features.get(q)}
