"""HGQ2 + da4ml, the benchmark's peer (high-granularity quantization: bit widths learned per
weight and per activation by gradient under an EBOPs penalty), run in its own virtual
environment (``peers/hgq2``: hgq2 replaces QKeras, so it cannot share ours) on the same data
file and splits, the input quantized as ours; its Pareto checkpoints are converted to RTL by
da4ml in that environment, then checked in Verilator and synthesized here by the same yosys
script as our designs."""

import importlib.util
import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nas.hls.open_flow import verilator_environment
from nas.hls.yosys import yosys_version
from nas.model.data import DataSplits

HERE = Path(__file__).parent
PEER = HERE / "peers" / "hgq2"
PYTHON = HERE.parent / ".venv-hgq2" / "bin" / "python"


def _check_rtl_module():
    """``peers/hgq2/check_rtl.py`` (Verilator and yosys on a checkpoint; runs in our venv)."""
    spec = importlib.util.spec_from_file_location("check_rtl", PEER / "check_rtl.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Schedule:
    """One HGQ2 training: hidden widths, the EBOPs penalty's final strength, epochs."""

    hidden: tuple[int, ...]
    beta_max: float
    epochs: int

    @property
    def name(self) -> str:
        return f"h{'x'.join(map(str, self.hidden))}_b{self.beta_max:g}_e{self.epochs}"


#: STACK.md's recipe on the shapes HGQ2 is usually shown with on this task.
SCHEDULES = (Schedule((16,), 3e-5, 600), Schedule((16,), 1e-4, 600), Schedule((32, 16), 3e-5, 600))
QUICK_SCHEDULES = (Schedule((8,), 1e-4, 12),)


def setup() -> None:
    """Create or update ``.venv-hgq2`` from the pinned requirements (idempotent)."""
    subprocess.run(["bash", str(PEER / "setup.sh")], check=True)


def _train(schedule: Schedule, data_file: Path, port: tuple[int, int, int], seed: int,
           clock_mhz: float, out: Path, min_accuracy: float) -> None:
    command = [str(PYTHON), str(PEER / "train_hgq2.py"), "--data", str(data_file),
               "--beta-max", str(schedule.beta_max), "--epochs", str(schedule.epochs),
               "--seed", str(seed), "--clock-mhz", str(clock_mhz), "--out", str(out),
               "--input-kif", ",".join(map(str, port)), "--min-val-accuracy", str(min_accuracy)]
    for width in schedule.hidden:
        command += ["--hidden", str(width)]
    with (out.parent / f"{out.name}.log").open("w") as log:
        subprocess.run(command, check=True, stdout=log, stderr=subprocess.STDOUT)


def _check(ckpt: Path, x_test: np.ndarray, yosys: str) -> dict:
    """Verilator and yosys on one checkpoint's RTL (cached in its ``synth.json``)."""
    cached = ckpt / "synth.json"
    if cached.exists():
        return json.loads(cached.read_text())
    return _check_rtl_module().check(ckpt, x_test, yosys)


def run_peer(data: DataSplits, space_name: str, seed: int, clock_mhz: float, root: Path,
             schedules: tuple[Schedule, ...], min_accuracy: float, jobs: int) -> dict:
    """Train every schedule (runs already in ``root`` are kept), synthesize every checkpoint
    worth building (non-dominated after ``trace_minmax``, at ``min_accuracy`` validation
    accuracy or more); their rows, the peer's versions, seconds."""
    root.mkdir(parents=True, exist_ok=True)
    data_file = root / "data.npz"
    np.savez(data_file, **data.arrays())
    port = data.stage.port[0]  # the ADC's format, the same for every input
    for schedule in schedules:
        out = root / schedule.name
        if not (out / "run.json").exists():
            _train(schedule, data_file, port, seed, clock_mhz, out, min_accuracy)
    checkpoints = [(schedule, ckpt) for schedule in schedules
                   for ckpt in sorted((root / schedule.name).glob("ckpt_*"))
                   if json.loads((ckpt / "design.json").read_text())["val_accuracy"] >= min_accuracy]
    verilator_environment()
    yosys = yosys_version()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        synthesized = list(pool.map(lambda pair: _check(pair[1], data.x_test, yosys), checkpoints))
    rows, versions, seconds = [], {}, 0.0
    for (schedule, ckpt), synth in zip(checkpoints, synthesized, strict=True):
        design = json.loads((ckpt / "design.json").read_text())
        versions = design["versions"]
        rows.append({"method": "hgq2", "space": space_name, "seed": seed,
                     "trial": f"{schedule.name}/{ckpt.name}",
                     "test_accuracy": design["test_accuracy"],
                     "val_accuracy": design["val_accuracy"], "lut": synth["lut"],
                     "ff": synth["ff"], "dsp": synth["dsp"],
                     "latency_cycles": synth["latency_cycles"],
                     "bit_exact": synth["rtl_exact_fraction"] == 1.0
                     and design["trace_exact_fraction"] == 1.0,
                     "config": {"hidden": list(schedule.hidden), "beta_max": schedule.beta_max,
                                "epochs": schedule.epochs, "ebops": design["ebops"]},
                     "synth_seconds": sum(synth["seconds"].values())})
    for schedule in schedules:
        seconds += json.loads((root / schedule.name / "run.json").read_text())["train_seconds"]
    return {"designs": rows, "versions": versions, "train_seconds": seconds}
