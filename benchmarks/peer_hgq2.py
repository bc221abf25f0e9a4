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


#: A convolution: filters, kernel width, stride (``train_hgq2.py --conv``).
Conv = tuple[int, int, int]


@dataclass(frozen=True)
class Schedule:
    """One HGQ2 training: hidden widths, the EBOPs penalty's final strength, epochs; for a CNN
    the convolutions before the hidden layers."""

    hidden: tuple[int, ...]
    beta_max: float
    epochs: int
    convs: tuple[Conv, ...] = ()

    @property
    def name(self) -> str:
        convs = "".join(f"c{f}k{k}s{s}_" for f, k, s in self.convs)
        return f"{convs}h{'x'.join(map(str, self.hidden))}_b{self.beta_max:g}_e{self.epochs}"


#: STACK.md's recipe on the shapes HGQ2 is usually shown with on this task (a reference row: not
#: at equal compute).
SCHEDULES = (Schedule((16,), 3e-5, 600), Schedule((16,), 1e-4, 600), Schedule((32, 16), 3e-5, 600))
QUICK_SCHEDULES = (Schedule((8,), 1e-4, 12),)


def sweep(shapes: tuple[tuple[int, ...], ...], betas: tuple[float, ...], epochs: int,
          convs: tuple[tuple[Conv, ...], ...] | None = None) -> tuple[Schedule, ...]:
    """Every (shape, final beta) pair in a Latin-square order: each run of ``len(shapes)`` in a
    row has every shape and every beta once, so a budget cut short still covers both ranges;
    the first pair is ``(shapes[0], betas[0])``. ``convs[k]``, when given, are the
    convolutions in front of ``shapes[k]``'s hidden layers."""
    if len(shapes) != len(betas) or (convs is not None and len(convs) != len(shapes)):
        raise ValueError("a Latin-square sweep needs as many shapes as betas")
    n = len(shapes)
    convs = convs or ((),) * n
    return tuple(Schedule(shapes[k % n], betas[(k % n + k // n) % n], epochs, convs[k % n])
                 for k in range(n * n))


#: The equal-compute peer (issue 29): HGQ2's usual hidden shapes and final betas, starting
#: from the schedule HGQ2 is shown with on this task (30-16-4 ramped to 1e-4), trained in that
#: order while its training seconds stay under the default search's.
SWEEP = sweep(((16,), (32,), (64,), (32, 16)), (1e-4, 3e-5, 3e-4, 1e-5), 600)
QUICK_SWEEP = sweep(((8,), (4,)), (1e-4, 3e-4), 12)
#: The equal-compute CNN peer, per space: QConv + ReLU layers of our CNN spaces' ranges (the
#: first shape near the design our search found on each), a dense head or none, the MLP
#: sweep's final betas divided by ten (a conv student starts with many EBOPs: about 35,000 for
#: 64-c4k3s2-8-10); ours, untuned. ``cnn_psd`` trains 300 epochs: its 12,000 events make an
#: epoch 8 times as many steps as the 1,078 digits.
CNN_SWEEPS = {
    "cnn_digits": sweep(((), (), (16,), ()), (1e-5, 3e-6, 3e-5, 1e-6), 600,
                        convs=(((8, 3, 2),), ((16, 3, 2),), ((8, 3, 1),),
                               ((4, 3, 1), (8, 3, 2)))),
    "cnn_psd": sweep(((8,), (8,), (16,), ()), (1e-5, 3e-6, 3e-5, 1e-6), 300,
                     convs=(((4, 5, 2),), ((8, 5, 2),), ((4, 3, 1),), ((4, 5, 2), (4, 3, 2)))),
}
QUICK_CNN_SWEEP = sweep(((),), (1e-6,), 12, convs=(((2, 3, 2),),))


def setup() -> None:
    """Create or update ``.venv-hgq2`` from the pinned requirements (idempotent)."""
    subprocess.run(["bash", str(PEER / "setup.sh")], check=True)


def train_arguments(schedule: Schedule, data_file: Path, port: tuple[int, int, int], seed: int,
                    clock_mhz: float, out: Path, min_accuracy: float,
                    input_shape: tuple[int, ...] | None) -> list[str]:
    """``train_hgq2.py``'s arguments for ``schedule`` on the data in ``data_file``."""
    arguments = ["--data", str(data_file), "--beta-max", str(schedule.beta_max),
                 "--epochs", str(schedule.epochs), "--seed", str(seed),
                 "--clock-mhz", str(clock_mhz), "--out", str(out),
                 "--input-kif", ",".join(map(str, port)), "--min-val-accuracy", str(min_accuracy)]
    for width in schedule.hidden:
        arguments += ["--hidden", str(width)]
    for conv in schedule.convs:
        arguments += ["--conv", ",".join(map(str, conv))]
    if schedule.convs:
        arguments += ["--input-shape", ",".join(map(str, input_shape))]
    return arguments


def _train(schedule: Schedule, data_file: Path, port: tuple[int, int, int], seed: int,
           clock_mhz: float, out: Path, min_accuracy: float,
           input_shape: tuple[int, ...] | None) -> None:
    command = [str(PYTHON), str(PEER / "train_hgq2.py"),
               *train_arguments(schedule, data_file, port, seed, clock_mhz, out, min_accuracy,
                                input_shape)]
    with (out.parent / f"{out.name}.log").open("w") as log:
        subprocess.run(command, check=True, stdout=log, stderr=subprocess.STDOUT)


def _check(ckpt: Path, x_test: np.ndarray, yosys: str) -> dict:
    """Verilator and yosys on one checkpoint's RTL (cached in its ``synth.json``)."""
    cached = ckpt / "synth.json"
    if cached.exists():
        return json.loads(cached.read_text())
    return _check_rtl_module().check(ckpt, x_test, yosys)


def _train_within(schedules: tuple[Schedule, ...], budget_seconds: float | None,
                  train) -> list[Schedule]:
    """The schedules trained, in order (runs already done are kept and counted): all of them
    without a budget; with one, each while the training seconds so far are under it (the last
    one started may end past it: the peer is never cut short of a run it began)."""
    done, seconds = [], 0.0
    for schedule in schedules:
        if budget_seconds is not None and seconds >= budget_seconds:
            break
        seconds += train(schedule)
        done.append(schedule)
    return done


def synthesized_rows(checkpoints: list[tuple[Schedule, Path]], x_test: np.ndarray, jobs: int,
                     method: str, space_name: str, seed: int) -> tuple[list[dict], dict]:
    """Verilator and yosys on each (schedule, checkpoint folder), ``jobs`` at a time: one
    design row each, and the peer's versions (none without a checkpoint)."""
    verilator_environment()
    yosys = yosys_version()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        synthesized = list(pool.map(lambda pair: _check(pair[1], x_test, yosys), checkpoints))
    rows, versions = [], {}
    for (schedule, ckpt), synth in zip(checkpoints, synthesized, strict=True):
        design = json.loads((ckpt / "design.json").read_text())
        versions = design["versions"]
        rows.append({"method": method, "space": space_name, "seed": seed,
                     "trial": f"{ckpt.parent.name}/{ckpt.name}",
                     "test_accuracy": design["test_accuracy"],
                     "val_accuracy": design["val_accuracy"], "lut": synth["lut"],
                     "ff": synth["ff"], "dsp": synth["dsp"],
                     "latency_cycles": synth["latency_cycles"],
                     "bit_exact": synth["rtl_exact_fraction"] == 1.0
                     and design["trace_exact_fraction"] == 1.0,
                     "config": {"convs": [list(c) for c in schedule.convs],
                                "hidden": list(schedule.hidden), "beta_max": schedule.beta_max,
                                "epochs": schedule.epochs, "ebops": design["ebops"]},
                     "synth_seconds": sum(synth["seconds"].values())})
    return rows, versions


def run_peer(data: DataSplits, space_name: str, seed: int, clock_mhz: float, root: Path,
             schedules: tuple[Schedule, ...], min_accuracy: float, jobs: int, *,
             method: str = "hgq2", budget_seconds: float | None = None,
             input_shape: tuple[int, ...] | None = None) -> dict:
    """Train the schedules (every one, or with ``budget_seconds`` those that fit, see
    ``_train_within``; runs already in ``root`` are kept), synthesize every checkpoint worth
    building (non-dominated after ``trace_minmax``, at ``min_accuracy`` validation accuracy or
    more); their rows, the peer's versions, the training seconds and the schedules run. A
    CNN schedule's convolutions read the flat port as an image of ``input_shape``."""
    root.mkdir(parents=True, exist_ok=True)
    data_file = root / "data.npz"
    np.savez(data_file, **data.arrays())
    port = data.stage.port[0]  # the port's format, the same for every input
    trained_now: list[float] = []  # seconds of the schedules trained by this call

    def train(schedule: Schedule) -> float:
        out = root / schedule.name
        fresh = not (out / "run.json").exists()
        if fresh:
            _train(schedule, data_file, port, seed, clock_mhz, out, min_accuracy, input_shape)
        seconds = json.loads((out / "run.json").read_text())["train_seconds"]
        if fresh:
            trained_now.append(seconds)
        return seconds

    trained = _train_within(schedules, budget_seconds, train)
    checkpoints = [(schedule, ckpt) for schedule in trained
                   for ckpt in sorted((root / schedule.name).glob("ckpt_*"))
                   if json.loads((ckpt / "design.json").read_text())["val_accuracy"] >= min_accuracy]
    rows, versions = synthesized_rows(checkpoints, data.x_test, jobs, method, space_name, seed)
    seconds = sum(json.loads((root / s.name / "run.json").read_text())["train_seconds"]
                  for s in trained)
    return {"designs": rows, "versions": versions, "train_seconds": seconds,
            "train_seconds_now": sum(trained_now), "schedules": [s.name for s in trained],
            **({"budget_seconds": budget_seconds} if budget_seconds is not None else {})}
