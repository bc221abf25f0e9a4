"""Canonical signed digit (CSD) counts: the adders a constant multiplication costs in logic.

A multiplication by a constant integer ``w`` built from shifts and adds needs one term per
nonzero digit of ``w`` in canonical signed digit form (the non-adjacent form), the form with the
fewest nonzero digits. Distributed-arithmetic flows such as da4ml start from these terms.
"""

from functools import cache

import numpy as np


def csd_digits(values: np.ndarray) -> np.ndarray:
    """Number of nonzero CSD digits of each integer in ``values`` (0 for 0)."""
    n = np.abs(np.asarray(values, dtype=np.int64))
    digits = np.zeros(n.shape, dtype=np.int64)
    while np.any(n):
        odd = (n & 1).astype(bool)
        # A digit of +1 or -1: -1 where the two low bits are 11 (n mod 4 == 3).
        signed_digit = np.where(odd, 2 - (n & 3), 0)
        digits += odd
        n = (n - signed_digit) >> 1
    return digits


def trailing_zeros(value: int) -> int:
    """Trailing zero bits of an integer (shifts, free in logic); 0 for 0."""
    value = abs(int(value))
    return (value & -value).bit_length() - 1 if value else 0


@cache
def mean_csd_digits(bits: int) -> float:
    """Mean CSD digit count of the nonzero mantissas of a signed ``bits``-bit weight."""
    mantissas = np.arange(-(2 ** (bits - 1)), 2 ** (bits - 1))
    mantissas = mantissas[mantissas != 0]
    return float(csd_digits(mantissas).mean())
