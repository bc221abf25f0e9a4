import dataclasses

import numpy as np
import pytest

from nas.estimators import QUANTITIES, ArchitectureEstimator, DesignSummary, LayerSummary
from nas.estimators.csd import csd_digits, mean_csd_digits
from nas.estimators.design import expected_design
from nas.model.config import StudentConfig
from nas.spaces import get_part


def test_csd_digit_counts():
    values = np.array([0, 1, -1, 3, 5, 7, 11, 15, 127, -128, 85])
    # 7 = 8-1, 11 = 16-4-1, 15 = 16-1, 127 = 128-1, 85 = 64+16+4+1
    assert csd_digits(values).tolist() == [0, 1, 1, 2, 2, 2, 3, 2, 2, 1, 4]


def test_mean_csd_digits_grows_with_bits():
    means = [mean_csd_digits(bits) for bits in range(2, 13)]
    assert all(a < b for a, b in zip(means, means[1:], strict=False))
    assert means[0] == 1.0


def test_formula_by_hand():
    # 4 inputs of 8 bits, 2 outputs kept at 4 bits, 4-bit weights with 6 CSD digits in all:
    # t = 3 terms per output, accumulator 8 + 4 + ceil(log2 4) = 14 bits, 3 adder levels + ReLU
    layer = LayerSummary(n_in=4, n_out=2, input_bits=8, weight_bits=4, nonzero_weights=5,
                         csd_digits=6, output_bits=4)
    estimate = ArchitectureEstimator(clock_mhz=200).predict_one(DesignSummary((layer,)))
    assert estimate.lut == pytest.approx(0.55 * 6 * 14 + 1.0 * 2 * 4)
    assert estimate.latency_cycles == 1  # 3 levels fit in one 5 ns stage of 1.6 ns levels
    assert estimate.ff == pytest.approx(2 * 4)
    assert estimate.dsp == 0 and estimate.bram == 0
    slow = ArchitectureEstimator(clock_mhz=600).predict_one(DesignSummary((layer,)))
    assert slow.latency_cycles == 3


def _config(width: int, bits: int, sparsity: float = 0.0) -> StudentConfig:
    return StudentConfig((width,), (bits, bits), (1, 1), (8,), (2,), 8, 4, sparsity)


def test_estimate_grows_with_width_and_bits_and_shrinks_with_sparsity():
    estimator = ArchitectureEstimator()

    def lut(config):
        return estimator.predict_one(expected_design(config, 30, 4)).lut

    assert lut(_config(8, 6)) < lut(_config(16, 6)) < lut(_config(32, 6))
    assert lut(_config(16, 4)) < lut(_config(16, 8)) < lut(_config(16, 12))
    assert lut(_config(16, 8, 0.5)) < lut(_config(16, 8, 0.0))


def test_fit_recovers_known_coefficients():
    rng = np.random.default_rng(0)
    designs = [expected_design(_config(int(w), int(b), float(s)), 30, 4)
               for w, b, s in zip(rng.integers(4, 64, 12), rng.integers(2, 12, 12),
                                  rng.uniform(0, 0.8, 12), strict=True)]
    truth = ArchitectureEstimator(coefficients={"lut": (0.4, 2.0), "ff": (0.7,),
                                                "latency_cycles": (1.0,)})
    measured = np.array([[getattr(e, q) for q in QUANTITIES] for e in truth.predict(designs)])
    fitted = ArchitectureEstimator().fit(designs, measured)
    assert fitted.coefficients["lut"] == pytest.approx((0.4, 2.0), rel=1e-6)
    assert fitted.coefficients["ff"] == pytest.approx((0.7,), rel=1e-6)
    assert [e.latency_cycles for e in fitted.predict(designs)] == measured[:, 4].tolist()
    with pytest.raises(ValueError, match="shape"):
        ArchitectureEstimator().fit(designs, measured[:, :2])
    with pytest.raises(ValueError, match="lut needs 2 coefficients"):
        ArchitectureEstimator(coefficients={"lut": (1.0,), "ff": (1.0,),
                                            "latency_cycles": (1.0,)})


def test_fit_check_against_part():
    part = get_part("xc7a35t")
    huge = ArchitectureEstimator().predict_one(expected_design(
        StudentConfig((64, 64, 64), (12,) * 4, (1,) * 4, (12,) * 3, (2,) * 3, 8, 4, 0.0), 30, 4))
    reason = huge.misfit_reason(part)
    assert reason is not None and "LUT" in reason and "xc7a35t" in reason
    assert max(huge.overuse(part)) > 0
    small = ArchitectureEstimator().predict_one(expected_design(_config(4, 3), 30, 4))
    assert small.misfit_reason(part) is None and max(small.overuse(part)) <= 0
    with_dsp = dataclasses.replace(small, dsp=2)
    assert with_dsp.lut_equivalent(part) == pytest.approx(small.lut + 2 * 20_800 / 90)
