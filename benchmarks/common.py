"""Helpers shared by the benchmarks: machine facts and the 2-D hypervolume."""

import os
import platform
from importlib.metadata import version

import numpy as np

PACKAGES = ("tensorflow", "tf-keras", "qkeras", "tensorflow-model-optimization", "optuna", "numpy")


def machine() -> str:
    cpu = "unknown cpu"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = ", ".join(f"{name} {version(name)}" for name in PACKAGES)
    return (f"{platform.node()}: {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"
            f"; {versions}")


def hypervolume_2d(accuracy: np.ndarray, cost: np.ndarray, ref_accuracy: float,
                   ref_cost: float) -> float:
    """Area dominated by (accuracy up, cost down) points, bounded by the reference point."""
    keep = (accuracy > ref_accuracy) & (cost < ref_cost)
    points = sorted(zip(cost[keep], accuracy[keep], strict=True))
    area, best = 0.0, ref_accuracy
    for i, (c, a) in enumerate(points):
        best = max(best, a)
        next_cost = points[i + 1][0] if i + 1 < len(points) else ref_cost
        area += (next_cost - c) * (best - ref_accuracy)
    return area


def reference_recipe():
    """The published workflow's student (DESIGN.md): 30-15-4, 8-bit weights, activations and
    input, 20% sparsity, trained by distillation. Integer bits: weights 1 (range +-2),
    activations 2, input 4 of 8 (the ADC counts exactly, over the divisor 16)."""
    from nas.search.student import StudentConfig

    return StudentConfig(widths=(15,), weight_bits=(8, 8), weight_int_bits=(1, 1), act_bits=(8,),
                         act_int_bits=(2,), input_bits=8, input_int_bits=4, sparsity=0.2)
