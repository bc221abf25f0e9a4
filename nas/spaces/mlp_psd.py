"""``mlp_psd``: 4-class pulse-shape discrimination of water-Cherenkov detector pulses."""

from nas.spaces.space import DataSpec, Space, StudentRanges, TrainingRecipe
from nas.spaces.wcd_pulses import CLASS_NAMES, WCDParameters

_PARAMS = WCDParameters()

SPACE = Space(
    name="mlp_psd",
    description=(
        "WCD pulse-shape discrimination: 30 samples of an 8-bit ADC, 4 classes "
        "(electromagnetic, muon, multi-particle, saturated), simulated pulses"
    ),
    n_inputs=_PARAMS.n_samples,
    class_names=CLASS_NAMES,
    data=DataSpec(simulator="wcd_pulses", n_events=20_000),
    input_divisor=16.0,
    input_format="uint8",
    input_condition="none",
    student=StudentRanges(),
    recipe=TrainingRecipe(min_steps=0),
)
