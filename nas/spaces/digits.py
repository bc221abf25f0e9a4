"""``digits``: scikit-learn's handwritten digits (real data shipped with the package)."""

import numpy as np

from nas.spaces.space import DataSpec, Space, StudentRanges, TrainingRecipe


def load_digits(seed: int, n_events: int):
    """The 1,797 8x8 images (pixel values 0-16), shuffled by ``seed``; at most ``n_events``."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    order = np.random.default_rng(seed).permutation(len(bunch.target))[:n_events]
    return bunch.data[order].astype(np.float32), bunch.target[order].astype(np.int64)


SPACE = Space(
    name="digits",
    description="handwritten digits, 8x8 pixels of 0-16, 10 classes: real data from scikit-learn",
    n_inputs=64,
    class_names=tuple(str(d) for d in range(10)),
    data=DataSpec(dataset="sklearn_digits", n_events=1797),
    input_divisor=16.0,
    input_format="uint5",
    input_condition="none",
    student=StudentRanges(width=(4, 64), input_bits=(2, 6), input_int_bits=(1, 1)),
    recipe=TrainingRecipe(teacher_hidden=(64, 32), teacher_epochs=60, student_epochs=60, min_steps=0,
                          batch_size=64),
)
