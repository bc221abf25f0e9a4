"""``mlp_gn``: gamma/neutron discrimination from the leading edge of CLYC pulses."""

from nas.spaces.clyc_pulses import CLASS_NAMES, CLYCParameters
from nas.spaces.space import DataSpec, Space, StudentRanges, TrainingRecipe

_PARAMS = CLYCParameters()

SPACE = Space(
    name="mlp_gn",
    description=(
        "CLYC gamma/neutron discrimination: leading edge of 35 samples at 4 GS/s, 10-bit, "
        "2 classes (28 % gamma), simulated pulses"
    ),
    n_inputs=_PARAMS.n_samples,
    class_names=CLASS_NAMES,
    data=DataSpec(simulator="clyc_pulses", n_events=20_000),
    input_divisor=64.0,
    input_format="uint10",
    input_condition="none",
    student=StudentRanges(width=(2, 32), input_bits=(4, 10), input_int_bits=(2, 4)),
    recipe=TrainingRecipe(min_steps=0, teacher_hidden=(48, 16)),
)
