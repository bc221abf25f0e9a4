"""The estimator interface (scikit-learn's fit/predict shape) and what an estimate holds."""

import abc
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nas.estimators.design import DesignSummary
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


class ResourceEstimator(abc.ABC):
    """Predicts LUT, FF, DSP, BRAM and latency cycles of designs for one flow and part family.

    ``fit`` calibrates the estimator on synthesized designs (``measured`` rows hold the
    quantities of ``QUANTITIES``); ``predict`` returns one estimate per design.
    """

    flow: str
    part_family: str

    @abc.abstractmethod
    def fit(self, designs: Sequence[DesignSummary], measured: np.ndarray) -> "ResourceEstimator":
        ...

    @abc.abstractmethod
    def predict(self, designs: Sequence[DesignSummary]) -> list[ResourceEstimate]:
        ...

    def predict_one(self, design: DesignSummary) -> ResourceEstimate:
        return self.predict([design])[0]
