"""Boards ``nas deploy`` targets: the FPGA part each carries and its processing system (the
Vivado IP and board file its block design uses); a bare part gets the IP only."""

from dataclasses import dataclass

from nas.errors import InvalidValue


@dataclass(frozen=True)
class Board:
    name: str
    #: The vendor tools' part name (device, package, speed grade).
    part: str
    #: Vivado's processing-system IP (``processing_system7``: Zynq-7000, ``zynq_ultra_ps_e``:
    #: Zynq UltraScale+); empty for a bare part (IP only, no block design).
    processor: str = ""
    #: Vivado's board part (its board files give the processing system its preset).
    board_part: str = ""


BOARDS: dict[str, Board] = {
    board.name: board
    for board in (
        Board("pynq-z1", "xc7z020clg400-1", "processing_system7",
              "www.digilentinc.com:pynq-z1:part0:1.0"),
        Board("zedboard", "xc7z020clg484-1", "processing_system7", "avnet.com:zedboard:part0:1.4"),
        Board("kv260", "xck26-sfvc784-2LV-c", "zynq_ultra_ps_e", "xilinx.com:kv260_som:part0:1.4"),
        Board("artix7", "xc7a35tcpg236-1"),
    )
}


def get_board(name: str) -> Board:
    """The board called ``name``; ``InvalidValue`` naming the supported boards otherwise."""
    if name.lower() not in BOARDS:
        raise InvalidValue("board", f"'{name}'", f"use one of {', '.join(BOARDS)}",
                           problem="is unknown")
    return BOARDS[name.lower()]
