"""Check the HGQ2 peer's Verilog with the project's own tools: simulate each checkpoint's RTL in
Verilator on x_test (bit for bit against the HGQ2 logits saved by train_hgq2.py), then run the
project's yosys ``synth_xilinx`` flow on it; writes ``synth.json`` beside each ``design.json``.

Runs in the project's venv (it imports ``nas.hls``), not in ``.venv-hgq2``::

    .venv/bin/python benchmarks/peers/hgq2/check_rtl.py --data data.npz out/hgq2_16 [out/...]
"""

import argparse
import json
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
from da4ml.codegen import RTLModel
from da4ml.types import Pipeline

from nas.hls.open_flow import verilator_environment
from nas.hls.yosys import synthesize, yosys_version

TOP = "student"


def simulate(verilog_dir: Path, x: np.ndarray) -> np.ndarray:
    """Verilator-compile the design and run it on ``x``: da4ml writes the sources again from
    the saved pipeline (the same text) and compiles them with its binder."""
    pipeline = Pipeline.load(str(verilog_dir / "model" / "pipeline.json"))
    rtl = RTLModel(pipeline, TOP, verilog_dir, flavor="verilog")
    rtl.compile(nproc=1, openmp=False)
    return np.asarray(rtl.predict(x.astype(np.float64)), dtype=np.float64)


def check(ckpt: Path, x_test: np.ndarray, yosys: str) -> dict:
    verilog_dir = ckpt / "verilog"
    expected = np.load(ckpt / "test_logits.npy")
    metadata = json.loads((verilog_dir / "metadata.json").read_text())

    start = time.perf_counter()
    got = simulate(verilog_dir, x_test).reshape(expected.shape)
    sim_seconds = time.perf_counter() - start

    start = time.perf_counter()
    source = verilog_dir / "src"
    files = sorted(str(p.relative_to(source)) for p in source.rglob("*.v")
                   if not p.name.endswith("_wrapper.v"))
    counts = synthesize(source, files, TOP)
    synth_seconds = time.perf_counter() - start

    result = {
        "lut": counts["lut"], "ff": counts["ff"], "carry4": counts["carry4"], "dsp": counts["dsp"],
        "latency_cycles": int(metadata["latency"]),
        "rtl_exact_fraction": float(np.mean(np.all(expected == got, axis=1))),
        "rtl_argmax_agreement": float(np.mean(expected.argmax(1) == got.argmax(1))),
        "n_test": len(expected), "cells": counts["cells"],
        "flow": "yosys synth_xilinx -family xc7 -flatten -noiopad (logic synthesis, no place and route)",
        "versions": {"yosys": yosys, "verilator": version("verilator"), "da4ml": version("da4ml")},
        "seconds": {"verilator": sim_seconds, "yosys": synth_seconds},
    }
    (ckpt / "synth.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="the npz given to train_hgq2.py")
    parser.add_argument("runs", type=Path, nargs="+", help="train_hgq2.py --out folders")
    args = parser.parse_args(argv)
    with np.load(args.data) as npz:
        x_test = npz["x_test"]
    verilator_environment()
    yosys = yosys_version()
    print("run | ckpt | val acc | test acc | EBOPs | da4ml cost | LUT | FF | CARRY4 | latency | RTL exact")
    for run in args.runs:
        for ckpt in sorted(run.glob("ckpt_*"), key=lambda p: int(p.name.split("_")[1])):
            design = json.loads((ckpt / "design.json").read_text())
            synth = check(ckpt, x_test, yosys)
            row = [run.name, ckpt.name, f"{design['val_accuracy']:.4f}", f"{design['test_accuracy']:.4f}",
                   f"{design['ebops']:,}", f"{design['da4ml_cost']:,.0f}", f"{synth['lut']:,}",
                   f"{synth['ff']:,}", str(synth["carry4"]), str(synth["latency_cycles"]),
                   f"{synth['rtl_exact_fraction']:.4f}"]
            print(" | ".join(row), flush=True)


if __name__ == "__main__":
    main()
