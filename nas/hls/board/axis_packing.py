"""The AXI4-Stream layout of a deployed student, and the packing of events into the words a
DMA sends and of the words it receives back into class scores.

This file imports numpy only: ``nas deploy`` copies it verbatim beside the board's driver,
and the cocotb testbench packs and unpacks with the same functions, so the code that runs on
the board is the code simulated here.

Two input modes (``StreamLayout.mode``):

- ``word``: one input sample per 32-bit beat (as the seed's notebook sends them), two's
  complement in the low bits, sign- or zero-extended; an event is ``n_inputs`` beats and the
  IP takes one event every ``n_inputs`` clocks.
- ``packed``: a whole event in one beat, each sample in a slot as wide as the widest input,
  input ``j`` in bits ``[j * slot, (j + 1) * slot)``; ``TDATA`` is padded to a power of two of
  at least 32 bits. One event per clock.

The output is one beat per event (with ``TLAST`` where the event's last input beat had it):
score ``j`` in slot ``j``, the argmax (the first class of the largest score) in slot
``n_outputs``; slots are 32 bits in ``word`` mode and as wide as the widest score in
``packed`` mode. Without the argmax (``StreamLayout.argmax`` false: it costs a comparison
tree, about 10-20 LUTs per class) there is no such slot and ``unpack_results`` takes the
argmax of the scores in numpy, with the same rule. Beats are little-endian:
bit 0 of ``TDATA`` is bit 0 of the first byte (and 32-bit word) in the DMA's buffer.
"""

import json
from dataclasses import asdict, dataclass

import numpy as np

MODES = ("word", "packed")
WORD = 32


def _power_of_two_bits(bits: int) -> int:
    """The ``TDATA`` width holding ``bits``: a power of two, at least 32 (the AXI DMA's
    stream widths)."""
    return max(WORD, 1 << (max(bits, 1) - 1).bit_length())


@dataclass(frozen=True)
class StreamLayout:
    """Port formats ``(k, i, f)`` of the design's inputs and outputs (da4ml's minimal
    formats), its pipeline depth, the input divisor that turns raw events into the model's
    inputs, and the stream mode."""

    inputs: tuple[tuple[int, int, int], ...]
    outputs: tuple[tuple[int, int, int], ...]
    latency: int
    divisor: float
    mode: str = "packed"
    #: Whether the IP computes the argmax (else the host does, from the scores).
    argmax: bool = True

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode '{self.mode}' is unknown: use one of {', '.join(MODES)}")
        widest = max((k + i + f for k, i, f in (*self.inputs, *self.outputs)), default=0)
        if self.mode == "word" and widest > WORD:
            raise ValueError(f"a {widest}-bit port does not fit a 32-bit word: use mode 'packed'")

    @property
    def in_widths(self) -> list[int]:
        return [k + i + f for k, i, f in self.inputs]

    @property
    def out_widths(self) -> list[int]:
        return [k + i + f for k, i, f in self.outputs]

    @property
    def class_bits(self) -> int:
        return max(1, (len(self.outputs) - 1).bit_length())

    @property
    def out_slots(self) -> int:
        """Slots of an output beat: the scores, then the argmax where the IP computes it."""
        return len(self.outputs) + int(self.argmax)

    @property
    def in_slot(self) -> int:
        return WORD if self.mode == "word" else max(1, *self.in_widths)

    @property
    def per_beat(self) -> int:
        """Input samples per beat."""
        return 1 if self.mode == "word" else len(self.inputs)

    @property
    def beats(self) -> int:
        """Input beats per event."""
        return -(-len(self.inputs) // self.per_beat)

    @property
    def in_bits(self) -> int:
        """``s_axis_tdata`` width."""
        return _power_of_two_bits(self.per_beat * self.in_slot)

    @property
    def out_slot(self) -> int:
        return WORD if self.mode == "word" else \
            max(self.class_bits if self.argmax else 1, *self.out_widths)

    @property
    def out_bits(self) -> int:
        """``m_axis_tdata`` width."""
        return _power_of_two_bits(self.out_slots * self.out_slot)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "StreamLayout":
        fields = json.loads(text)
        return cls(**{**fields, "inputs": tuple(map(tuple, fields["inputs"])),
                      "outputs": tuple(map(tuple, fields["outputs"]))})


def port_integers(events: np.ndarray, layout: StreamLayout) -> np.ndarray:
    """Raw events (one per row, as the ADC gives them) as the integers on the IP's input
    wires: over the divisor, rounded half to even to each input's grid, saturated to its
    format."""
    k, i, f = (np.array(column, dtype=np.float64) for column in zip(*layout.inputs, strict=True))
    scaled = np.round(np.asarray(events, dtype=np.float64) / layout.divisor * 2.0**f)
    low, high = np.where(k > 0, -(2.0 ** (i + f)), 0.0), 2.0 ** (i + f) - 1
    return np.clip(scaled, low, high).astype(np.int64)


def _bits(values: np.ndarray, width: int) -> np.ndarray:
    """The low ``width`` bits of each integer (two's complement), least significant first."""
    return ((values[..., None] >> np.arange(width)) & 1).astype(np.uint8)


def _words(bits: np.ndarray) -> np.ndarray:
    """Rows of bits (a multiple of 32 wide) as little-endian 32-bit words, row after row."""
    return np.packbits(bits, axis=-1, bitorder="little").reshape(-1).view("<u4")


def pack_events(port_values: np.ndarray, layout: StreamLayout) -> np.ndarray:
    """The 32-bit words of the input stream of ``port_values`` (events x inputs)."""
    values = np.asarray(port_values, dtype=np.int64)
    events = len(values)
    padded = np.zeros((events, layout.beats * layout.per_beat), dtype=np.int64)
    padded[:, :values.shape[1]] = values
    beats = _bits(padded, layout.in_slot).reshape(events, layout.beats, -1)
    tdata = np.zeros((events, layout.beats, layout.in_bits), dtype=np.uint8)
    tdata[..., :beats.shape[-1]] = beats
    return _words(tdata)


def unpack_results(words: np.ndarray, layout: StreamLayout) -> tuple[np.ndarray, np.ndarray]:
    """The output stream's words as (score integers: events x outputs, class indices)."""
    raw = np.asarray(words, dtype="<u4").view(np.uint8)
    bits = np.unpackbits(raw, bitorder="little").reshape(-1, layout.out_bits).astype(np.int64)
    slots = bits[:, :layout.out_slots * layout.out_slot] \
        .reshape(len(bits), layout.out_slots, layout.out_slot)
    scores = np.zeros((len(bits), len(layout.outputs)), dtype=np.int64)
    for j, (k, i, f) in enumerate(layout.outputs):
        width = k + i + f
        value = slots[:, j, :width] @ (1 << np.arange(width, dtype=np.int64))
        scores[:, j] = value - (slots[:, j, width - 1] << width) * k if width else 0
    if not layout.argmax:  # exact: the scores are integers over their LSBs, well inside float64
        return scores, np.argmax(scores_of(scores, layout), axis=1)
    classes = slots[:, -1, :layout.class_bits] @ (1 << np.arange(layout.class_bits))
    return scores, classes


def scores_of(score_integers: np.ndarray, layout: StreamLayout) -> np.ndarray:
    """Score integers as the student's real-valued outputs (each over its LSB)."""
    fractions = np.array([f for _, _, f in layout.outputs], dtype=np.float64)
    return score_integers * 2.0**-fractions
