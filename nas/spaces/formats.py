"""What the firmware receives at its input port, as a space declares it.

``int<N>`` / ``uint<N>`` (or ``int12``, ``uint8``): raw integers of N bits, signed or
unsigned (the networks see them divided by the space's power-of-two divisor);
``fixed<W,I>`` / ``ufixed<W,I>``: fixed-point
values of W bits of which I are integer bits (the sign included in a signed type, as in
``ap_fixed``), the data rounded to that grid as the sender would; ``auto``: integers when the
data hold only integers, otherwise a fixed-point format per input that keeps
``SIGNIFICANT_BITS`` significant bits over its training range.
"""

import re
from dataclasses import dataclass

from nas.errors import InvalidValue

SIGNIFICANT_BITS = 12
#: Widest port a feature may have: QKeras computes in float32 (24-bit mantissa).
MAX_PORT_BITS = 24
CONDITIONS = ("standardize", "none")
_PATTERN = re.compile(r"^(u?)(int|fixed)(?:<(\d+)(?:,(-?\d+))?>|(\d+))$")


@dataclass(frozen=True)
class InputFormat:
    """A parsed port format: ``kind`` "auto", "int" or "fixed", signedness, widths."""

    kind: str
    signed: bool = False
    width: int = 0
    integer: int = 0

    @classmethod
    def parse(cls, text: str) -> "InputFormat":
        if text == "auto":
            return cls("auto")
        match = _PATTERN.match(text.replace(" ", ""))
        fix = "use auto, int<N>, uint<N>, fixed<W,I> or ufixed<W,I> (W at most 24)"
        if not match:
            raise InvalidValue("input format", f"'{text}'", fix, problem="is not a port format")
        unsigned, kind, width, integer, plain = match.groups()
        width = width or plain
        if (kind == "int") == (integer is not None) or not 1 <= int(width) <= MAX_PORT_BITS:
            raise InvalidValue("input format", f"'{text}'", fix, problem="is not a port format")
        return cls(kind, not unsigned, int(width), int(integer or 0))

    def kif(self, shift: int = 0) -> tuple[int, int, int]:
        """(sign bit, integer bits, fractional bits) of the port; an integer port of values
        divided by ``2**shift`` has ``shift`` fractional bits."""
        sign = int(self.signed)
        if self.kind == "int":
            return sign, self.width - sign - shift, shift
        return sign, self.integer - sign, self.width - self.integer
