"""The estimators a search scores its students with: a flow's calibrated estimators, and how
each sees a student before training (rejection) and after (the trial's objectives)."""

from collections.abc import Callable
from dataclasses import dataclass

from nas.estimators.base import ResourceEstimator
from nas.estimators.calibration import FLOWS, Calibration
from nas.estimators.design import expected_design
from nas.estimators.vendor.design import VendorDesign, student_design
from nas.estimators.vendor.estimator import VendorEstimator
from nas.estimators.vendor.extrapolation import extrapolations
from nas.model.config import StudentConfig, quantized_kernels
from nas.model.data import DataSplits
from nas.spaces.space import Space


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


def _vendor_details(design: VendorDesign, calibration: Calibration,
                    estimator: VendorEstimator) -> dict:
    """What a vendor-flow trial records beside its estimate: the interval and, when the design
    leaves the calibration's data, where (``est_extrapolated``)."""
    found = extrapolations(design, calibration.data, calibration.tool_versions.get("hls", ""))
    return {"est_interval": estimator.interval(design),
            **({"est_extrapolated": found} if found else {})}


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
            searches_directives=True,
            details=lambda design: _vendor_details(design, calibration, value))

    def traced(model, config: StudentConfig) -> dict[str, float]:
        from nas.estimators.trace import student_features

        return student_features(model, config, config.inputs, space.clock_mhz)

    return FlowEstimators(prior, lambda config: expected_design(config, *shape), value, traced)
