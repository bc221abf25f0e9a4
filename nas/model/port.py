"""The raw input port: the fixed-point format that holds a space's raw inputs exactly."""

import math

import numpy as np


def raw_port(x_raw: np.ndarray, divisor: float) -> tuple[int, int, int] | None:
    """(sign, integer, fractional) bits that hold raw non-negative integer inputs over a
    power-of-two divisor exactly; None for other inputs."""
    shift = math.log2(divisor)
    if shift != int(shift) or not np.all(x_raw == np.rint(x_raw)) or x_raw.min() < 0:
        return None
    bits = max(1, math.ceil(math.log2(float(x_raw.max()) + 1)))
    return 0, bits - int(shift), int(shift)
