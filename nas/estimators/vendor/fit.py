"""The robust fit of the vendor estimator's coefficients: a Huber loss on relative errors,
solved by ``scipy.optimize.least_squares``."""

from collections.abc import Sequence

import numpy as np
from scipy.optimize import least_squares

#: How far one relative residual counts fully before the fit treats it as an outlier
#: (in natural-log units: 0.3 is about 35 %).
HUBER_DELTA = 0.3
#: Pull towards the prior: a coefficient at twice its prior costs as much as one design
#: missed by this much (log units).
PRIOR_PULL = 0.1
#: Reports below one (a design without DSPs) count as one.
FLOOR = 1.0


def fit_log_huber(matrix: np.ndarray, measured: np.ndarray, prior: Sequence[float],
                  sample_weight: np.ndarray | None = None,
                  offset: np.ndarray | None = None) -> np.ndarray:
    """Non-negative coefficients minimizing the Huber loss of the (``sample_weight``-scaled)
    ``log(predicted / measured)`` plus a pull of each towards its prior, where ``predicted``
    is ``matrix @ coefficients + offset`` (the part of the model that is not fitted).

    A relative error is what matters across designs of 1k to 100k LUTs; its logarithm is
    symmetric (a design predicted 3x too high counts as one predicted 3x too low), and the
    Huber loss keeps a design whose recorded facts are incomplete from dragging every
    coefficient. A coefficient whose prior is 0 is not pulled (the data alone decide it).
    """
    matrix = np.asarray(matrix, dtype=float)
    prior = np.asarray(prior, dtype=float)
    target = np.maximum(np.asarray(measured, dtype=float), FLOOR)
    n = len(target)
    weight = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    scale = np.sqrt(weight * n / np.sum(weight))
    offset = np.zeros(n) if offset is None else np.asarray(offset, dtype=float)
    anchored = np.flatnonzero(prior > 0)
    pull = np.zeros((len(anchored), len(prior)))
    pull[np.arange(len(anchored)), anchored] = PRIOR_PULL / prior[anchored]

    def residuals(coefficients: np.ndarray) -> np.ndarray:
        predicted = np.maximum(matrix @ coefficients + offset, FLOOR)
        return np.concatenate([scale * np.log(predicted / target),
                               pull @ coefficients - PRIOR_PULL])

    def jacobian(coefficients: np.ndarray) -> np.ndarray:
        raw = matrix @ coefficients + offset
        slope = np.where(raw > FLOOR, scale / np.maximum(raw, FLOOR), 0.0)
        return np.vstack([matrix * slope[:, None], pull])

    solution = least_squares(residuals, np.maximum(prior, 0.0), jac=jacobian,
                             bounds=(0.0, np.inf), loss="huber", f_scale=HUBER_DELTA,
                             method="trf", max_nfev=200)
    return solution.x
