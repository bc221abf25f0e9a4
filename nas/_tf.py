"""One place that imports TensorFlow the way QKeras and tfmot need it (Keras 2, see STACK.md)."""

import os
import warnings

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# oneDNN reorders float sums: off, so that the same seed trains the same student twice.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")


def _import_quietly():
    """Import TensorFlow with file descriptor 2 closed: its C++ start-up banner (absl logging,
    CUDA probing) ignores TF_CPP_MIN_LOG_LEVEL and would bury the CLI's own output."""
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow
        import tf_keras
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return tensorflow, tf_keras


tf, keras = _import_quietly()
# Retracing notices and tf_keras's advice (HDF5 is legacy, unseeded initializers) are not the
# user's to act on; they would break the progress display.
tf.get_logger().setLevel("ERROR")
warnings.filterwarnings("ignore", category=UserWarning, module=r"tf_keras\..*")

__all__ = ["tf", "keras", "set_seed"]


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow so that a trial trains the same way twice."""
    keras.utils.set_random_seed(seed)
