"""The input stage of a student: the port format of each input (what the firmware receives)
and its conditioning, derived from a space's declared format and its training split.

Formats are da4ml's ``(k, i, f)``: a sign bit, integer bits, fractional bits. Conditioning
centres and scales each input exactly in fixed point: ``(x - offset) * 2**shift``, the offset
a multiple of the input's least significant bit (a constant adder), the scale a power of two
(wiring).
"""

import math

import numpy as np

from nas.errors import DataError
from nas.model.config import InputStage, StudentConfig
from nas.spaces.formats import SIGNIFICANT_BITS, InputFormat
from nas.spaces.space import Space


def raw_port(x_raw: np.ndarray, divisor: float) -> tuple[int, int, int] | None:
    """(sign, integer, fractional) bits that hold raw non-negative integer inputs over a
    power-of-two divisor exactly; None for other inputs."""
    shift = math.log2(divisor)
    if shift != int(shift) or not np.all(x_raw == np.rint(x_raw)) or x_raw.min() < 0:
        return None
    bits = max(1, math.ceil(math.log2(float(x_raw.max()) + 1)))
    return 0, bits - int(shift), int(shift)


def _integer_width(raw: np.ndarray) -> InputFormat:
    signed = bool(raw.min() < 0)
    magnitude = max(float(raw.max()) + 1, float(-raw.min()) if signed else 0.0, 1.0)
    return InputFormat("int", signed, math.ceil(math.log2(magnitude)) + int(signed))


def _feature_format(column: np.ndarray) -> tuple[int, int, int]:
    """A fixed-point format for one input: ``SIGNIFICANT_BITS`` over its training range."""
    signed = int(column.min() < 0)
    largest = float(np.abs(column).max())
    integer = math.floor(math.log2(largest)) + 1 if largest > 0 else 0
    return signed, integer, SIGNIFICANT_BITS - integer


def port_formats(space: Space, x_train: np.ndarray) -> tuple[tuple[int, int, int], ...]:
    """Each input's port format for ``space``; a ``DataError`` when the data do not fit an
    integer format the space declares."""
    declared = InputFormat.parse(space.input_format)
    divisor = space.input_divisor
    shift = math.log2(divisor)
    raw = x_train.astype(np.float64) * divisor
    integral = bool(np.all(raw == np.rint(raw)))
    if declared.kind == "auto" and integral and shift == int(shift):
        declared = _integer_width(raw)
    if declared.kind == "int":
        if shift != int(shift):
            raise DataError(f"space '{space.name}': an integer port needs a power-of-two input "
                            f"divisor, not {divisor:g}: change input.divisor")
        if not integral:
            raise DataError(f"space '{space.name}': the inputs are not integers, as the format "
                            f"{space.input_format} says: declare fixed<W,I> or auto")
        fmt = declared.kif(int(shift))
        low, high = (-(2.0 ** (declared.width - 1)), 2.0 ** (declared.width - 1) - 1) \
            if declared.signed else (0.0, 2.0**declared.width - 1)
        if raw.min() < low or raw.max() > high:
            raise DataError(f"space '{space.name}': inputs span {raw.min():g}..{raw.max():g}, "
                            f"beyond {space.input_format}: declare a wider format")
        return (fmt,) * x_train.shape[1]
    if declared.kind == "fixed":
        return (declared.kif(),) * x_train.shape[1]
    return tuple(_feature_format(x_train[:, j]) for j in range(x_train.shape[1]))


def to_port(x: np.ndarray, formats: tuple[tuple[int, int, int], ...]) -> np.ndarray:
    """``x`` as the firmware receives it: each input rounded half to even to its format's
    grid and saturated to its range (float32, exact up to 24 bits)."""
    k, i, f = (np.array(column, dtype=np.float64) for column in zip(*formats, strict=True))
    scale = 2.0**f
    low = np.where(k > 0, -(2.0**i), 0.0)
    high = 2.0**i - 2.0**-f
    return np.clip(np.round(x.astype(np.float64) * scale) / scale, low, high).astype(np.float32)


def input_stage(space: Space, x_train: np.ndarray) -> InputStage:
    """The port formats and, when the space standardizes, the offset (the mean on the input's
    grid) and power-of-two scale (nearest to one over the standard deviation) of each input."""
    formats = port_formats(space, x_train)
    if space.input_condition == "none":
        return InputStage(formats)
    x = to_port(x_train, formats).astype(np.float64)
    lsb = np.array([2.0**-f for _, _, f in formats])
    offsets = np.round(x.mean(axis=0) / lsb) * lsb
    spread = x.std(axis=0)
    shifts = np.where(spread > 0, -np.round(np.log2(np.where(spread > 0, spread, 1.0))), 0)
    return InputStage(formats, tuple(float(o) for o in offsets), tuple(int(s) for s in shifts))


def stage_of(config: StudentConfig, x: np.ndarray, divisor: float) -> InputStage:
    """The input stage of ``config``; for a configuration made before stages were recorded,
    the integer port that holds ``x * divisor`` (raw non-negative integers over a power of
    two)."""
    if config.inputs is not None:
        return config.inputs
    port = raw_port(x * divisor, divisor)
    if port is None:
        raise DataError("the open flow needs raw inputs that are non-negative integers and an "
                        "input divisor that is a power of two: change the space's input.divisor")
    return InputStage((port,) * x.shape[1])


def port_values(x: np.ndarray, stage: InputStage) -> np.ndarray:
    """The integers on the port's wires for inputs ``x``: each value over its LSB."""
    return np.rint(x * 2.0 ** np.array([f for _, _, f in stage.port], dtype=np.float64))
