"""One place that imports TensorFlow the way QKeras and tfmot need it (Keras 2, see STACK.md),
and chooses the device that trains.

The variables TensorFlow, tf_keras and tfmot read are set only while they are imported (each
reads them once, then) and put back as they were: importing ``nas`` changes no environment
variable of the user's (a notebook's, a program's that embeds ``nas``). GPUs are hidden with
``tf.config.set_visible_devices`` rather than ``CUDA_VISIBLE_DEVICES``, until ``use_device``
shows them."""

import os
import warnings

from nas.environment import temporary_environment

#: Read once, at import: Keras 2 for QKeras and tfmot; no C++ banner; oneDNN off, because it
#: reorders float sums and the same seed must train the same student twice.
_IMPORT_ENVIRONMENT = {"TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
                       "TF_ENABLE_ONEDNN_OPTS": "0"}


def _import_quietly():
    """Import TensorFlow with file descriptor 2 closed: its C++ start-up banner (absl logging,
    CUDA probing) ignores TF_CPP_MIN_LOG_LEVEL and would bury the CLI's own output. Everything
    that reads the variables reads them here: tf.keras's routing (on first use), tfmot (which
    sets TF_USE_LEGACY_KERAS itself), the oneDNN switch and the GPU probe."""
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        with temporary_environment(_IMPORT_ENVIRONMENT):
            import tensorflow
            import tensorflow_model_optimization  # noqa: F401
            import tf_keras
            from tensorflow.python.util import _pywrap_util_port

            tensorflow.keras.layers  # noqa: B018  (resolves tf.keras to tf_keras now)
            _pywrap_util_port.IsMklEnabled()
            gpus = tensorflow.config.list_physical_devices("GPU")
            tensorflow.config.set_visible_devices([], "GPU")
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return tensorflow, tf_keras, gpus


tf, keras, GPUS = _import_quietly()
# Retracing notices and tf_keras's advice (HDF5 is legacy, unseeded initializers) are not the
# user's to act on; they would break the progress display.
tf.get_logger().setLevel("ERROR")
warnings.filterwarnings("ignore", category=UserWarning, module=r"tf_keras\..*")

__all__ = ["tf", "keras", "set_seed", "use_device", "chosen_device", "GPUS"]


def chosen_device(device: str, cnn: bool) -> tuple[str, str]:
    """The device that trains for ``device`` (auto, cpu or gpu) and why. Auto picks the GPU
    only for CNN students when one is visible: the MLP students are so small that launching
    each batch's kernels on a GPU costs more than the CPU takes to compute them."""
    if device == "cpu":
        return "cpu", "asked for"
    if device == "gpu":
        return ("gpu", "asked for") if GPUS else ("cpu", "asked for a GPU, but none is visible")
    if not GPUS:
        return "cpu", "auto: no GPU is visible"
    if cnn:
        return "gpu", "auto: a CNN student and a visible GPU"
    return "cpu", "auto: MLP students train faster on the CPU"


def use_device(device: str) -> None:
    """Train on ``device`` ('cpu' or 'gpu') from now on; only before TensorFlow's first
    operation in this process (TensorFlow fixes its devices then)."""
    wanted = GPUS if device == "gpu" else []
    try:
        tf.config.set_visible_devices(wanted, "GPU")
    except RuntimeError:
        if tf.config.get_visible_devices("GPU") != wanted:
            raise RuntimeError(f"this process already trained on another device: start a new "
                               f"one to train on the {device.upper()}") from None


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow so that a trial trains the same way twice."""
    keras.utils.set_random_seed(seed)
