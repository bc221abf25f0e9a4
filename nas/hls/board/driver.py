"""The board's driver of a deployed student (PYNQ): raw events in, classes and scores out,
through the AXI DMA of the overlay that ``build.sh`` made.

``pynq`` is imported when a ``Classifier`` is opened, so this module imports anywhere.
The IP sets ``TLAST`` on a result when its event's last beat carried it, and the DMA sets it
on the last beat of each MM2S transfer, so a batch goes out in one MM2S transfer and its
results come back in one S2MM transfer (a batch of one event gets a transfer of its own).
"""

from pathlib import Path

import numpy as np

from .axis_packing import StreamLayout, pack_events, port_integers, scores_of, unpack_results

BITSTREAM = "nas_ip.bit"
LAYOUT = "layout.json"


class Classifier:
    """The overlay in ``folder`` (``nas_ip.bit``, ``nas_ip.hwh``, ``layout.json``)."""

    def __init__(self, folder: str | Path = ".", batch: int = 256, dma: str = "dma"):
        from pynq import Overlay, allocate

        folder = Path(folder)
        self.layout = StreamLayout.from_json((folder / LAYOUT).read_text())
        self.overlay = Overlay(str(folder / BITSTREAM))
        self.dma = getattr(self.overlay, dma)
        self.batch = batch
        self._allocate = allocate

    def classify(self, events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Class indices and scores (the student's outputs) of ``events`` (one raw event per
        row, as the ADC gives them)."""
        values = port_integers(np.atleast_2d(events), self.layout)
        words = [self._stream(values[start:start + self.batch])
                 for start in range(0, len(values), self.batch)]
        scores, classes = unpack_results(np.concatenate(words), self.layout)
        return classes, scores_of(scores, self.layout)

    def _stream(self, values: np.ndarray) -> np.ndarray:
        """One batch: its words out in one transfer, its results back in one (the receive
        started first, so the IP never waits for it)."""
        words = pack_events(values, self.layout)
        sent = self._allocate(shape=words.shape, dtype=np.uint32)
        received = self._allocate(shape=(len(values) * self.layout.out_bits // 32,),
                                  dtype=np.uint32)
        sent[:] = words
        self.dma.recvchannel.transfer(received)
        self.dma.sendchannel.transfer(sent)
        self.dma.sendchannel.wait()
        self.dma.recvchannel.wait()
        results = np.array(received)
        sent.freebuffer()
        received.freebuffer()
        return results
