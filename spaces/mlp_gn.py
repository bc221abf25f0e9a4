"""``mlp_gn``: gamma/neutron discrimination from the leading edge of CLYC pulses."""

from nas.spaces.clyc_pulses import CLASS_NAMES, CLYCParameters, simulate
from nas.spaces.space import Space, StudentRanges, TrainingRecipe

_PARAMS = CLYCParameters()

SPACE = Space(
    name="mlp_gn",
    description=(
        "CLYC gamma/neutron discrimination: leading edge of 35 samples at 4 GS/s, 10-bit, "
        "2 classes (28 % gamma), simulated pulses"
    ),
    n_inputs=_PARAMS.n_samples,
    class_names=CLASS_NAMES,
    make_data=simulate,
    input_divisor=64.0,
    n_events=20_000,
    student=StudentRanges(width=(2, 32), input_bits=(4, 10), input_int_bits=(2, 4)),
    recipe=TrainingRecipe(teacher_hidden=(48, 16)),
)
