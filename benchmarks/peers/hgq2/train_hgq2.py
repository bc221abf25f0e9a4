# ruff: noqa: E402  (the Keras backend is chosen before keras is imported)
"""HGQ2 peer: train an MLP, or a CNN (``--conv``: QConv1D/QConv2D + ReLU layers, flatten, the
dense layers), with learned per-weight/per-activation bit widths and an EBOPs penalty, keep
HGQ2's Pareto front of (val accuracy up, EBOPs down) checkpoints, scan every one of them after
``trace_minmax`` on train+val (which fixes the activations' integer bits and so changes both
accuracy and EBOPs), and convert the non-dominated ones at or above the accuracy floor to
pipelined Verilog with da4ml.

What follows HGQ2's own API and documentation: ``QDense``/``QConv1D``/``QConv2D`` with the
EBOPs penalty, ``kbi``
weights with SAT_SYM and ``kif`` activations with WRAP fixed by ``trace_minmax``, the
``BetaScheduler``/``PieceWiseSchedule``/``FreeEBOPs``/``ParetoFront`` callbacks, conversion by
``trace_model`` and ``RTLModel``. What is ours (the recipe an independent reproduction used on
this task, issue 29): the trainable per-input quantizer initialised at the ADC's format
(unsigned, SAT, round to nearest; fractional bits down to -4, integer bits down to -2), beta
held at 1e-7 for the first tenth of the epochs then a log ramp, batch 512, Adam 3e-3 with
cosine decay restarts every eighth of the run (m_mul 0.95, alpha 0.05).

Runs in ``.venv-hgq2`` (see setup.sh), never in the project's own venv. Example::

    .venv-hgq2/bin/python benchmarks/peers/hgq2/train_hgq2.py --data data.npz --hidden 16 \
        --beta-max 1e-4 --epochs 600 --seed 0 --clock-mhz 200 --out out/hgq2_16
    .venv-hgq2/bin/python benchmarks/peers/hgq2/train_hgq2.py --data digits.npz \
        --input-shape 8,8,1 --conv 8,3,2 --hidden 16 --input-kif 0,1,4 ... --out out/cnn
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse
import json
import math
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import keras
import numpy as np
from da4ml.codegen import RTLModel
from da4ml.converter import trace_model
from da4ml.trace import comb_trace
from hgq.config import LayerConfigScope, QuantizerConfig, QuantizerConfigScope
from hgq.constraints import MinMax
from hgq.layers import QConv1D, QConv2D, QDense
from hgq.utils import trace_minmax
from hgq.utils.sugar import BetaScheduler, FreeEBOPs, ParetoFront, PieceWiseSchedule

TOP = "student"
BATCH = 512
LEARNING_RATE = 3e-3
BETA_START = 1e-7
WARMUP_FRACTION = 0.1
#: cosine decay with warm restarts: this many cycles over the run, each restart's peak this
#: fraction of the last, down to this fraction of the peak
RESTART_CYCLES = 8
RESTART_DECAY = 0.95
LR_FLOOR = 0.05
#: how far the input quantizer may drop integer and fractional bits below the ADC's
INPUT_MIN_INTEGER, INPUT_MIN_FRACTION = -2, -4
CKPT_NAME = re.compile(r"epoch=(\d+)_val_accuracy=([0-9.eE+-]+)_ebops=([0-9.eE+-]+)\.keras$")


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    epoch: int
    val_accuracy: float
    ebops: float


@dataclass(frozen=True)
class Conv:
    """One convolution of a CNN student: filters, kernel width and stride (the same along every
    spatial axis), 'valid' padding, ReLU, as our CNN students."""

    filters: int
    kernel: int
    stride: int


def _input_quantizer(input_kif: tuple[int, int, int]) -> QuantizerConfig:
    """The trainable per-input quantizer, starting at the port's format, never wider."""
    k, i, f = input_kif
    return QuantizerConfig("kif", "datalane", k0=k, i0=i, f0=f, overflow_mode="SAT",
                           round_mode="RND", ic=MinMax(INPUT_MIN_INTEGER, i),
                           fc=MinMax(INPUT_MIN_FRACTION, f), homogeneous_axis=(0,))


def build_model(n_inputs: int, hidden: list[int], n_classes: int,
                input_kif: tuple[int, int, int], convs: tuple[Conv, ...] = (),
                input_shape: tuple[int, ...] | None = None) -> keras.Model:
    """[Reshape to ``input_shape`` -> QConv1D/QConv2D(+ReLU) per conv -> Flatten ->]
    QDense(+ReLU) layers -> QDense logits; the first weighted layer's input quantizer is the
    trainable per-input one. The port stays flat (``n_inputs`` wires), as ours."""
    iq = _input_quantizer(input_kif)
    with (QuantizerConfigScope(q_type="kbi", place=("weight", "bias"), overflow_mode="SAT_SYM"),
          QuantizerConfigScope(q_type="kif", place="datalane", overflow_mode="WRAP"),
          LayerConfigScope(enable_ebops=True, beta0=BETA_START)):
        inputs = keras.Input((n_inputs,), name="x")
        h = inputs
        if convs:
            conv_layer = QConv1D if len(input_shape) == 2 else QConv2D
            h = keras.layers.Reshape(input_shape, name="shape")(h)
            for index, conv in enumerate(convs):
                h = conv_layer(conv.filters, conv.kernel, strides=conv.stride, activation="relu",
                               name=f"conv_{index}", iq_conf=iq if index == 0 else None)(h)
            h = keras.layers.Flatten(name="flatten")(h)
        first = not convs
        for index, width in enumerate(hidden):
            h = QDense(width, activation="relu", name=f"dense_{index}",
                       iq_conf=iq if first and index == 0 else None)(h)
        logits = QDense(n_classes, name="logits", iq_conf=iq if first and not hidden else None)(h)
    return keras.Model(inputs, logits, name=TOP)


def beta_schedule(epochs: int, beta_max: float) -> PieceWiseSchedule:
    """beta held at BETA_START for the first WARMUP_FRACTION of the epochs, then log ramp."""
    warm = max(1, round(WARMUP_FRACTION * epochs))
    return PieceWiseSchedule([(0, BETA_START, "constant"), (warm, BETA_START, "log"),
                              (max(warm + 1, epochs - 1), beta_max, "constant")])


class Progress(keras.callbacks.Callback):
    def __init__(self, epochs: int, every: int) -> None:
        super().__init__()
        self.epochs, self.every, self.start = epochs, every, time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        if (epoch + 1) % self.every == 0 or epoch + 1 == self.epochs:
            print(f"epoch {epoch + 1}/{self.epochs}: loss {logs.get('loss', 0):.4f} "
                  f"val_acc {logs.get('val_accuracy', 0):.4f} ebops {logs.get('ebops', 0):,.0f} "
                  f"beta {logs.get('beta', 0):.2e} ({time.perf_counter() - self.start:.0f} s)", flush=True)


def trainer(model: keras.Model, data: dict[str, np.ndarray], beta_max: float, epochs: int,
            pareto_dir: Path) -> Callable[[int, int], dict[str, float]]:
    """Compile ``model`` for a run of ``epochs`` and return ``fit(start, stop)``, which trains
    epochs ``start..stop-1`` of it and returns the last epoch's logs: the learning rate, beta
    and the Pareto front span the whole run however it is cut (a run screened after some
    epochs goes on where it stopped)."""
    steps = math.ceil(len(data["x_train"]) / BATCH)
    lr = keras.optimizers.schedules.CosineDecayRestarts(
        LEARNING_RATE, first_decay_steps=steps * max(1, epochs // RESTART_CYCLES), t_mul=1.0,
        m_mul=RESTART_DECAY, alpha=LR_FLOOR)
    model.compile(optimizer=keras.optimizers.Adam(lr),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    callbacks = [BetaScheduler(beta_schedule(epochs, beta_max)), FreeEBOPs(),
                 ParetoFront(pareto_dir, ["val_accuracy", "ebops"], [1, -1]),
                 Progress(epochs, max(1, epochs // 10))]

    def fit(start: int, stop: int) -> dict[str, float]:
        history = model.fit(data["x_train"], data["y_train"], batch_size=BATCH, epochs=stop,
                            initial_epoch=start, shuffle=True, callbacks=callbacks, verbose=0,
                            validation_data=(data["x_val"], data["y_val"]))
        return {name: float(values[-1]) for name, values in history.history.items()}

    return fit


def pareto_checkpoints(pareto_dir: Path) -> list[Checkpoint]:
    found = []
    for path in pareto_dir.glob("*.keras"):
        match = CKPT_NAME.search(path.name)
        if match:
            found.append(Checkpoint(path, int(match[1]), float(match[2]), float(match[3])))
    return sorted(found, key=lambda c: c.ebops)


def scanned(ckpt: Checkpoint, data: dict[str, np.ndarray]) -> tuple[float, float]:
    """The checkpoint's validation accuracy and EBOPs after ``trace_minmax`` on train+val, as
    it would be built (the training-time figures are before it)."""
    model = keras.models.load_model(ckpt.path, compile=False)
    ebops = trace_minmax(model, np.concatenate([data["x_train"], data["x_val"]]), batch_size=4096)
    return float(np.mean(logits(model, data["x_val"]).argmax(1) == data["y_val"])), float(ebops)


def worth_building(points: list[tuple[Checkpoint, float, float]],
                   min_val_accuracy: float) -> list[Checkpoint]:
    """Of the scanned ``points`` (checkpoint, validation accuracy, EBOPs), those at or above
    ``min_val_accuracy`` that no other one beats on both, by EBOPs."""
    eligible = [(c, acc, ebops) for c, acc, ebops in points if acc >= min_val_accuracy]
    return sorted((c for c, acc, ebops in eligible
                   if not any(a >= acc and e <= ebops and (a, e) != (acc, ebops)
                              for _, a, e in eligible)), key=lambda c: c.ebops)


def logits(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """The model's outputs in inference mode, as float64 (one call: no tf.function retracing)."""
    return np.asarray(keras.ops.convert_to_numpy(model(x, training=False)), dtype=np.float64)


def exact_fraction(expected: np.ndarray, got: np.ndarray) -> float:
    """Fraction of samples whose every output is bit-for-bit equal."""
    return float(np.mean(np.all(expected == got.reshape(expected.shape), axis=1)))


def convert(ckpt: Checkpoint, data: dict[str, np.ndarray], args: argparse.Namespace, out: Path) -> dict:
    """Reload, fix the WRAP integer bits on train+val, write Verilog, check the trace bit for bit."""
    model = keras.models.load_model(ckpt.path, compile=False)
    calibration = np.concatenate([data["x_train"], data["x_val"]])
    ebops = trace_minmax(model, calibration, batch_size=4096)
    val_logits = logits(model, data["x_val"])
    test_logits = logits(model, data["x_test"])

    inputs, outputs = trace_model(model, inputs_kif=args.input_kif)
    comb = comb_trace(inputs, outputs)
    trace_logits = comb.predict(data["x_test"].astype(np.float64))

    if out.exists():
        shutil.rmtree(out)
    clock_ns = 1000.0 / args.clock_mhz
    RTLModel(comb, TOP, out / "verilog", flavor="verilog", latency_cutoff=clock_ns, clock_period=clock_ns,
             print_latency=False).write()
    metadata = json.loads((out / "verilog" / "metadata.json").read_text())
    np.save(out / "test_logits.npy", test_logits)
    design = {
        "checkpoint": ckpt.path.name, "epoch": ckpt.epoch + 1,
        "val_accuracy": float(np.mean(val_logits.argmax(1) == data["y_val"])),
        "test_accuracy": float(np.mean(test_logits.argmax(1) == data["y_test"])),
        "ebops": ebops, "ebops_training": ckpt.ebops, "val_accuracy_training": ckpt.val_accuracy,
        "latency_cycles": int(metadata["latency"]), "da4ml_cost": float(metadata["cost"]),
        "trace_exact_fraction": exact_fraction(test_logits, trace_logits), "n_test": len(test_logits),
        "hidden": args.hidden, "conv": [list(vars(c).values()) for c in args.conv],
        "input_shape": args.input_shape, "beta_max": args.beta_max, "epochs": args.epochs, "seed": args.seed,
        "clock_mhz": args.clock_mhz, "input_kif": list(args.input_kif),
        "versions": {name: version(name) for name in ("hgq2", "keras", "tensorflow", "da4ml")},
    }
    (out / "design.json").write_text(json.dumps(design, indent=2) + "\n")
    return design


def convert_front(pareto_dir: Path, data: dict[str, np.ndarray],
                  args: argparse.Namespace) -> tuple[list[tuple[float, float]], int]:
    """Scan every checkpoint of the run's Pareto front after ``trace_minmax``, convert those
    worth building into ``args.out/ckpt_<k>``; the (validation accuracy, EBOPs) of every one
    scanned, and how many were converted."""
    front = pareto_checkpoints(pareto_dir)
    points = [(ckpt, *scanned(ckpt, data)) for ckpt in front]
    chosen = worth_building(points, args.min_val_accuracy)
    print(f"Pareto front: {len(front)} checkpoints, converting the {len(chosen)} non-dominated "
          f"ones at >= {args.min_val_accuracy:g} validation accuracy after trace_minmax", flush=True)
    for old in args.out.glob("ckpt_*"):
        shutil.rmtree(old)
    for k, ckpt in enumerate(chosen):
        design = convert(ckpt, data, args, args.out / f"ckpt_{k}")
        print(f"ckpt_{k}: epoch {design['epoch']} val {design['val_accuracy']:.4f} "
              f"test {design['test_accuracy']:.4f} ebops {design['ebops']:,} "
              f"cost {design['da4ml_cost']:,.0f} latency {design['latency_cycles']} "
              f"trace exact {design['trace_exact_fraction']:.4f}", flush=True)
    return [(acc, ebops) for _, acc, ebops in points], len(chosen)


def load_data(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as npz:
        data = {key: npz[key] for key in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")}
    for key in ("x_train", "x_val", "x_test"):
        data[key] = data[key].astype(np.float32)
    return data


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(","))


def _conv(text: str) -> Conv:
    values = _ints(text)
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"{text!r}: a convolution is FILTERS,KERNEL,STRIDE")
    return Conv(*values)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="npz with x/y_train, x/y_val, x/y_test")
    parser.add_argument("--hidden", type=int, action="append", default=[],
                        help="hidden layer width; repeat for more layers")
    parser.add_argument("--conv", action="append", default=[], type=_conv,
                        help="a convolution FILTERS,KERNEL,STRIDE before the dense layers; "
                             "repeat for more (needs --input-shape)")
    parser.add_argument("--input-shape", type=_ints, default=None,
                        help="the image the flat port is reshaped to for the convolutions, "
                             "e.g. 8,8,1 (Conv2D) or 30,1 (Conv1D)")
    parser.add_argument("--beta-max", type=float, default=1e-4)
    parser.add_argument("--epochs", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clock-mhz", type=float, default=200.0)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--input-kif", default="0,4,4", type=_ints,
                        help="(k,i,f) of the raw input port, e.g. 0,4,4 for 8-bit ADC counts / 16")
    parser.add_argument("--min-val-accuracy", type=float, default=0.0,
                        help="convert only checkpoints at or above this validation accuracy")
    args = parser.parse_args(argv)
    if len(args.input_kif) != 3:
        parser.error("--input-kif takes three integers k,i,f")
    if args.conv and (args.input_shape is None or len(args.input_shape) not in (2, 3)):
        parser.error("--conv needs --input-shape of 2 (Conv1D) or 3 (Conv2D) integers")
    return args


def new_run(args: argparse.Namespace, data: dict[str, np.ndarray]
            ) -> tuple[Callable[[int, int], dict[str, float]], Path]:
    """The run ``args`` ask for, seeded, its model built and its Pareto folder emptied: its
    ``fit(start, stop)`` (see ``trainer``) and that folder."""
    keras.utils.set_random_seed(args.seed)
    n_classes = int(max(data["y_train"].max(), data["y_val"].max(), data["y_test"].max())) + 1
    args.out.mkdir(parents=True, exist_ok=True)
    pareto_dir = args.out / "pareto"
    if pareto_dir.exists():
        shutil.rmtree(pareto_dir)
    model = build_model(data["x_train"].shape[1], args.hidden, n_classes, args.input_kif,
                        tuple(args.conv), args.input_shape)
    convs = [f"c{c.filters}k{c.kernel}s{c.stride}" for c in args.conv]
    arch = "-".join(str(n) for n in (data["x_train"].shape[1], *convs, *args.hidden, n_classes))
    print(f"HGQ2 {arch}, beta_max {args.beta_max:g}, {args.epochs} epochs, seed {args.seed}", flush=True)
    return trainer(model, data, args.beta_max, args.epochs, pareto_dir), pareto_dir


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    start = time.perf_counter()
    data = load_data(args.data)
    fit, pareto_dir = new_run(args, data)
    fit(0, args.epochs)
    train_seconds = time.perf_counter() - start

    points, converted = convert_front(pareto_dir, data, args)
    total = time.perf_counter() - start
    (args.out / "run.json").write_text(json.dumps(
        {"train_seconds": train_seconds, "total_seconds": total, "pareto_size": len(points),
         "converted": converted}, indent=2) + "\n")
    print(f"total {total:.1f} s (training {train_seconds:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
