"""What a trial proposes: a student of searched precision (every layer's bits chosen by the
sampler) or the plan of a learned-precision student (architecture and penalty strength; the
bits are learned in training), and the distillation it is trained with."""

from dataclasses import dataclass, replace

import optuna

from nas.model.config import STRATEGIES, ConvLayer, InputStage, StudentConfig
from nas.model.learned import LearnedArchitecture
from nas.model.student import Distillation
from nas.spaces.space import Space, StudentRanges

SPARSITY_STEP = 0.05
#: Reuse factors the vendor flow searches: each halves (roughly) the multipliers of the one
#: before and adds cycles to the latency and the interval.
REUSE_FACTORS = (1, 2, 4, 8, 16)
#: What the estimator before training assumes of a learned student's bits (the penalty
#: decides them in training): enough to reject architectures that cannot fit the part even
#: with the few bits a strong penalty leaves.
NOMINAL_WEIGHT_BITS, NOMINAL_ACT_BITS, NOMINAL_SPARSITY = 4, 5, 0.5


def _widths(trial: optuna.trial.BaseTrial, ranges: StudentRanges, least: int = 1) -> list[int]:
    """Hidden widths, ``least`` to the space's most layers (0 after convolutions)."""
    n_hidden = trial.suggest_int("n_hidden", least, ranges.max_hidden_layers)
    return [trial.suggest_int(f"width_{i + 1}", *ranges.width, log=True) for i in range(n_hidden)]


def _input_format(trial: optuna.trial.BaseTrial, ranges: StudentRanges,
                  stage: InputStage | None) -> tuple[int, int]:
    """Input quantizer bits and integer bits (which cannot reach the total, less the sign)."""
    bits = trial.suggest_int("input_bits", *ranges.input_bits)
    signed = int(stage is not None and stage.signed)
    return bits, min(trial.suggest_int("input_int_bits", *ranges.input_int_bits), bits - signed)


def _conv_layers(trial: optuna.trial.BaseTrial, ranges: StudentRanges,
                 input_shape: tuple[int, ...]) -> list[ConvLayer]:
    """A CNN student's convolutions; a kernel wider than what is left of the input, or a
    pool wider than the convolution's positions, is narrowed to fit (the sampler learns
    either way). A space without pooling asks for none (its studies keep their parameters)."""
    shape, convs = input_shape, []
    for i in range(trial.suggest_int("conv_layers", *ranges.conv_layers)):
        kernel = min(trial.suggest_int(f"kernel_c{i + 1}", *ranges.kernel), min(shape[:-1]))
        conv = ConvLayer(trial.suggest_int(f"filters_c{i + 1}", *ranges.filters, log=True),
                         kernel, trial.suggest_int(f"stride_c{i + 1}", *ranges.stride))
        if ranges.pool[1] > 1:
            pool = trial.suggest_int(f"pool_c{i + 1}", *ranges.pool)
            conv = replace(conv, pool=min(pool, min(conv.conv_shape(shape)[:-1])))
        shape = conv.output_shape(shape)
        convs.append(conv)
    return convs


def sample_student(trial: optuna.trial.BaseTrial, ranges: StudentRanges,
                   stage: InputStage | None = None, input_shape: tuple[int, ...] = ()
                   ) -> StudentConfig:
    """The searched-precision student a trial proposes within the space's ranges, its inputs
    arriving as ``stage`` says (a CNN student's in ``input_shape``)."""
    convs = _conv_layers(trial, ranges, input_shape) if ranges.family == "cnn" else []
    n_hidden = trial.suggest_int("n_hidden", 0 if convs else 1, ranges.max_hidden_layers)
    hidden = [str(i + 1) for i in range(n_hidden)]
    widths, w_bits, w_int, a_bits, a_int = [], [], [], [], []
    for tag in [*(f"c{i + 1}" for i in range(len(convs))), *hidden, "out"]:
        if tag in hidden:
            widths.append(trial.suggest_int(f"width_{tag}", *ranges.width, log=True))
        w_bits.append(trial.suggest_int(f"weight_bits_{tag}", *ranges.weight_bits))
        w_int.append(trial.suggest_int(f"weight_int_bits_{tag}", *ranges.weight_int_bits))
        if tag != "out":
            a_bits.append(trial.suggest_int(f"act_bits_{tag}", *ranges.act_bits))
            a_int.append(trial.suggest_int(f"act_int_bits_{tag}", *ranges.act_int_bits))
    input_bits, input_int_bits = _input_format(trial, ranges, stage)
    sparsity = trial.suggest_float("sparsity", *ranges.sparsity, step=SPARSITY_STEP)
    # Integer bits cannot reach the total: clip rather than reject, the sampler learns either way.
    w_int = [min(i, b - 1) for i, b in zip(w_int, w_bits, strict=True)]
    a_int = [min(i, b) for i, b in zip(a_int, a_bits, strict=True)]
    return StudentConfig(tuple(widths), tuple(w_bits), tuple(w_int), tuple(a_bits),
                         tuple(a_int), input_bits, input_int_bits, round(sparsity, 4), stage,
                         convs=tuple(convs), input_shape=input_shape if convs else ())


@dataclass(frozen=True)
class LearnedPlan:
    """A learned-precision student before training: its architecture and the strength of the
    resource penalty."""

    arch: LearnedArchitecture
    beta: float

    def nominal_config(self) -> StudentConfig:
        """The student the estimator before training assumes (``NOMINAL_*`` bits)."""
        arch = self.arch
        n_layers = len(arch.convs) + len(arch.widths) + 1
        return StudentConfig(arch.widths, (NOMINAL_WEIGHT_BITS,) * n_layers, (0,) * n_layers,
                             (NOMINAL_ACT_BITS,) * (n_layers - 1), (2,) * (n_layers - 1),
                             arch.input_bits, arch.input_int_bits, NOMINAL_SPARSITY, arch.inputs,
                             convs=arch.convs, input_shape=arch.input_shape)


#: Where a learned-precision search starts (hidden widths, penalty strength, whether the input
#: keeps the space's widest format): the shapes of HGQ's recipes, a wide first layer pruned by
#: the penalty, which multivariate TPE would not otherwise keep trying once narrow students
#: look best in its first trials; the last one aims at the accurate end of the front.
STARTING_PLANS = (((16,), 1e-4, False), ((32,), 3e-5, False), ((32, 16), 3e-5, False),
                  ((48,), 1e-5, True))


def starting_plans(ranges: StudentRanges) -> list[dict]:
    """``STARTING_PLANS`` as trial parameters within ``ranges`` (widths and penalty clipped,
    plans deeper than the space allows left out); the sampler chooses the input format of a
    plan that does not keep the widest."""
    def clipped(value, bounds):
        return min(max(value, bounds[0]), bounds[1])

    def widest_input(keep: bool) -> dict:
        return ({"input_bits": ranges.input_bits[1], "input_int_bits": ranges.input_int_bits[1]}
                if keep else {})

    return [{"n_hidden": len(widths), "beta": clipped(beta, ranges.beta),
             **{f"width_{i + 1}": clipped(w, ranges.width) for i, w in enumerate(widths)},
             **widest_input(keep)}
            for widths, beta, keep in STARTING_PLANS if len(widths) <= ranges.max_hidden_layers]


def sample_learned(trial: optuna.trial.BaseTrial, ranges: StudentRanges,
                   stage: InputStage | None = None, input_shape: tuple[int, ...] = ()
                   ) -> LearnedPlan:
    """The learned-precision plan a trial proposes: a CNN student's convolutions (over
    ``input_shape``), depth, widths, input format, penalty."""
    convs = _conv_layers(trial, ranges, input_shape) if ranges.family == "cnn" else []
    widths = _widths(trial, ranges, 0 if convs else 1)
    input_bits, input_int_bits = _input_format(trial, ranges, stage)
    beta = trial.suggest_float("beta", *ranges.beta, log=True)
    return LearnedPlan(LearnedArchitecture(tuple(widths), input_bits, input_int_bits, stage,
                                           tuple(convs), input_shape if convs else ()), beta)


def _value(trial: optuna.trial.BaseTrial, name: str, bounds: tuple[float, ...],
           default: float) -> float:
    """``default`` without bounds, the one value of equal bounds, else a searched value."""
    if not bounds:
        return default
    return trial.suggest_float(name, *bounds) if bounds[0] < bounds[1] else bounds[0]


def sample_distillation(trial: optuna.trial.BaseTrial, space: Space) -> Distillation:
    """The recipe's distillation, or values searched within the space's ranges."""
    ranges, recipe = space.student, space.recipe
    return Distillation(_value(trial, "alpha", ranges.alpha, recipe.alpha),
                        _value(trial, "temperature", ranges.temperature, recipe.temperature))


def sample_directives(trial: optuna.trial.BaseTrial, config: StudentConfig) -> StudentConfig:
    """``config`` built as the trial proposes: hls4ml's strategy and reuse factor (the vendor
    flow's search dimensions, so its front trades LUTs and DSPs against latency)."""
    return replace(config, strategy=trial.suggest_categorical("strategy", STRATEGIES),
                   reuse_factor=trial.suggest_categorical("reuse_factor", REUSE_FACTORS))
