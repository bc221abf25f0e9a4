"""Resource and latency estimators, the design features they use, and their calibration."""

from nas.estimators.architecture import ArchitectureEstimator
from nas.estimators.base import QUANTITIES, ResourceEstimate, ResourceEstimator
from nas.estimators.design import DesignSummary, LayerSummary

__all__ = ["QUANTITIES", "ArchitectureEstimator", "DesignSummary", "LayerSummary",
           "ResourceEstimate", "ResourceEstimator"]
