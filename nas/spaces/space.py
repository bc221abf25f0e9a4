"""What a search space is: data, teacher, student ranges, training recipe and target."""

import math
from dataclasses import dataclass, field, replace

from nas.errors import DataError, InvalidValue
from nas.spaces.formats import CONDITIONS, InputFormat
from nas.spaces.parts import Part, get_part

IntRange = tuple[int, int]
#: How a student's bit widths are chosen: searched per layer by Optuna, or learned per weight
#: by gradient (``nas.model.learned``).
PRECISIONS = ("learned", "searched")
#: Student families: dense layers only, or convolutions and a dense head.
FAMILIES = ("mlp", "cnn")
#: The search's objectives: accuracy and LUT-equivalents, and optionally latency (otherwise
#: latency is a constraint, ``Space.max_latency_cycles``).
OBJECTIVE_SETS = (("val_accuracy", "lut_equivalent"),
                  ("val_accuracy", "lut_equivalent", "latency_cycles"))

#: Largest fixed-point width the student may use anywhere (QKeras and hls4ml handle more,
#: but nothing this small needs it and the estimator is only meant for this range).
MAX_BITS = 16


def _check_range(name: str, bounds: tuple, low: float, high: float) -> None:
    lo, hi = bounds
    if not (low <= lo <= hi <= high):
        raise InvalidValue(f"student range {name}", list(bounds),
                           f"use low <= high within [{low}, {high}]")


@dataclass(frozen=True)
class StudentRanges:
    """Search ranges of the student: 1..max_hidden_layers QDense layers and their precisions.

    Family "cnn" puts ``conv_layers`` convolutions (``filters`` each, a ``kernel`` wide
    window moved by ``stride``, its activations max-pooled over ``pool``-wide windows) before
    a dense head of 0..max_hidden_layers hidden layers; its inputs need a shape
    (``Space.input_shape``). Either precision applies (the built-in CNN spaces search it per
    layer).

    Bits count the sign for weights; ``*_int_bits`` are integer bits above the binary point
    (QKeras ``quantized_bits(bits, integer)``). With ``precision`` "learned", the weight and
    activation bits and the sparsity are learned in training (their ranges are not used) and
    ``beta``, the strength of the resource penalty, is searched (log scale). ``alpha`` and
    ``temperature`` are the distillation's ranges; empty: the recipe's fixed values.
    """

    max_hidden_layers: int = 3
    width: IntRange = (4, 64)
    weight_bits: IntRange = (2, 12)
    weight_int_bits: IntRange = (0, 1)
    act_bits: IntRange = (2, 12)
    act_int_bits: IntRange = (0, 3)
    input_bits: IntRange = (3, 8)
    input_int_bits: IntRange = (2, 4)
    sparsity: tuple[float, float] = (0.0, 0.8)
    precision: str = "learned"
    beta: tuple[float, float] = (1e-6, 3e-4)
    alpha: tuple[float, ...] = ()
    temperature: tuple[float, ...] = ()
    family: str = "mlp"
    conv_layers: IntRange = (1, 2)
    filters: IntRange = (2, 16)
    kernel: IntRange = (2, 5)
    stride: IntRange = (1, 2)
    pool: IntRange = (1, 1)

    def validate(self) -> None:
        if not 1 <= self.max_hidden_layers <= 3:
            raise InvalidValue("student max_hidden_layers", self.max_hidden_layers, "use 1, 2 or 3")
        if self.family not in FAMILIES:
            raise InvalidValue("student family", f"'{self.family}'",
                               f"use one of {', '.join(FAMILIES)}", problem="is unknown")
        _check_range("conv_layers", self.conv_layers, 1, 4)
        _check_range("filters", self.filters, 1, 256)
        _check_range("kernel", self.kernel, 1, 16)
        _check_range("stride", self.stride, 1, 8)
        _check_range("pool", self.pool, 1, 8)
        _check_range("width", self.width, 1, 1024)
        _check_range("weight_bits", self.weight_bits, 2, MAX_BITS)
        _check_range("weight_int_bits", self.weight_int_bits, 0, MAX_BITS - 2)
        _check_range("act_bits", self.act_bits, 2, MAX_BITS)
        _check_range("act_int_bits", self.act_int_bits, 0, MAX_BITS - 1)
        _check_range("input_bits", self.input_bits, 1, MAX_BITS)
        _check_range("input_int_bits", self.input_int_bits, 0, MAX_BITS)
        _check_range("sparsity", self.sparsity, 0.0, 0.95)
        if self.precision not in PRECISIONS:
            raise InvalidValue("precision", f"'{self.precision}'", f"use one of {', '.join(PRECISIONS)}",
                               problem="is unknown")
        _check_range("beta", self.beta, 0.0, 1.0)
        for name in ("alpha", "temperature"):
            bounds = getattr(self, name)
            if len(bounds) not in (0, 2):
                raise InvalidValue(f"student range {name}", list(bounds), "give [] (the recipe's "
                                   "value) or [low, high]")
            if bounds:
                _check_range(name, bounds, 0.0 if name == "alpha" else 0.1,
                             1.0 if name == "alpha" else 20.0)


@dataclass(frozen=True)
class TrainingRecipe:
    """How teacher and students are trained.

    ``student_epochs`` train a student of searched precision, ``learned_epochs`` one of learned
    precision; a learned student is first trained ``screen_epochs`` (0: no screening) and
    trained on only when it looks promising (``nas.search.objective``). The float teacher
    trains at its own ``teacher_learning_rate`` (Adam's usual 1e-3: on five of the six built-in
    data sets it reached a better test accuracy, mean of 3-5 seeds, than at the students'
    1e-2, which suits quantized training). Distillation weight
    ``alpha`` (on the hard labels) and ``temperature`` are these values unless the space's
    student ranges search them. On small data sets every training runs at least ``min_steps``
    batches (more epochs than given), so that a few hundred events still train a network.
    A learned student trains 300 epochs (90 screened): a wide first layer under a strong
    penalty (where the smallest accurate designs are) needs them to settle after pruning: a
    30-16-4 student at beta 1e-4 reached 98.5 % validation accuracy at 300 epochs, 97.6 % at
    100 (mean of 3 seeds), where narrow students, which the search then preferred, gained
    nothing.
    """

    teacher_hidden: tuple[int, ...] = (64, 32)
    teacher_epochs: int = 40
    teacher_learning_rate: float = 1e-3
    student_epochs: int = 30
    learned_epochs: int = 300
    screen_epochs: int = 90
    min_steps: int = 2000
    batch_size: int = 256
    learning_rate: float = 1e-2
    alpha: float = 0.1
    temperature: float = 2.0

    def epochs(self, wanted: int, n_train: int) -> int:
        """``wanted`` epochs, or more when they make fewer than ``min_steps`` batches."""
        steps_per_epoch = max(1, math.ceil(n_train / self.batch_size))
        return max(wanted, math.ceil(self.min_steps / steps_per_epoch))


@dataclass(frozen=True)
class DataSpec:
    """Where a space's events come from: exactly one of ``simulator`` (a name in
    ``nas.spaces.sources.SIMULATORS``), ``dataset`` (a data set shipped by a package) or
    ``file`` (CSV, NPZ or HDF5).

    ``n_events``: simulators draw this many, data sets and files use at most this many.
    ``features`` and ``label`` name the arrays of an NPZ/HDF5 file (a CSV has a ``label``
    column and every other column is an input); ``split``, if given, names a column/array
    holding train/val/test (or 0/1/2) for a fixed split, otherwise events are shuffled by the
    seed and split 60/20/20.
    """

    simulator: str | None = None
    dataset: str | None = None
    file: str | None = None
    n_events: int = 20_000
    features: str = "x"
    label: str = "label"
    split: str | None = None

    def validate(self) -> None:
        sources = [name for name in ("simulator", "dataset", "file") if getattr(self, name)]
        if len(sources) != 1:
            raise DataError("data needs exactly one of simulator, dataset or file "
                            f"(got {', '.join(sources) or 'none'})")
        if self.n_events < 10:
            raise InvalidValue("data n_events", self.n_events, "use at least 10")


@dataclass(frozen=True)
class Space:
    """A named search space: its data, what the firmware receives and how inputs are scaled,
    teacher and training recipe, student ranges and target.

    ``input_format`` is the port (``nas.spaces.formats``). For integer ports the networks see
    ``raw / input_divisor`` (for an ADC: a divisor that brings the pulses of interest near 1,
    which trains far better than scaling the full ADC range to [0, 1)). ``input_condition``
    "standardize" centres and scales each input in the firmware, from the training split: an
    offset on the input's grid and a power-of-two scale (exact and nearly free in logic)."""

    name: str
    description: str
    n_inputs: int
    class_names: tuple[str, ...]
    data: DataSpec
    input_divisor: float
    input_format: str = "auto"
    input_condition: str = "standardize"
    student: StudentRanges = field(default_factory=StudentRanges)
    recipe: TrainingRecipe = field(default_factory=TrainingRecipe)
    part_name: str = "xc7a35t"
    clock_mhz: float = 200.0
    objectives: tuple[str, ...] = OBJECTIVE_SETS[0]
    #: A design with more cycles than this is infeasible (0: no limit).
    max_latency_cycles: int = 0
    #: Designs below this validation accuracy are left out of what is shown, synthesized and
    #: reported (they stay in the study); 0: the teacher's validation accuracy minus 2 points.
    min_accuracy: float = 0.0
    #: The shape of one event's inputs for a CNN student: (samples, channels) or (height,
    #: width, channels); the data hold them flat, in this order (() for MLP students).
    input_shape: tuple[int, ...] = ()

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def part(self) -> Part:
        return get_part(self.part_name)

    def with_target(self, part: str | None = None, clock_mhz: float | None = None,
                    max_latency_cycles: int | None = None) -> "Space":
        """The same space aimed at another part, clock or latency limit (validated)."""
        space = replace(
            self,
            part_name=get_part(part).name if part else self.part_name,
            clock_mhz=self.clock_mhz if clock_mhz is None else clock_mhz,
            max_latency_cycles=(self.max_latency_cycles if max_latency_cycles is None
                                else max_latency_cycles),
        )
        space.validate()
        return space

    def with_search(self, precision: str | None = None, n_objectives: int | None = None
                    ) -> "Space":
        """The same space searched with another precision mode or number of objectives."""
        student = self.student if precision is None else replace(self.student, precision=precision)
        objectives = self.objectives
        if n_objectives is not None:
            if n_objectives not in (2, 3):
                raise InvalidValue("objectives", n_objectives, "use 2 (accuracy, LUT) or 3 (and latency)")
            objectives = OBJECTIVE_SETS[n_objectives - 2]
        space = replace(self, student=student, objectives=objectives)
        space.validate()
        return space

    def quick(self) -> "Space":
        """A small version for trying the tool: fewer samples and epochs."""
        recipe = replace(self.recipe, teacher_epochs=15, student_epochs=8, learned_epochs=30,
                         screen_epochs=10)
        data = replace(self.data, n_events=min(self.data.n_events, 6000))
        return replace(self, data=data, recipe=recipe)

    def _validate_shape(self) -> None:
        shape = self.input_shape
        if shape and (len(shape) not in (2, 3) or min(shape) < 1):
            raise InvalidValue("input shape", list(shape), "give [samples, channels] or "
                               "[height, width, channels]")
        if shape and math.prod(shape) != self.n_inputs:
            raise InvalidValue("input shape", list(shape), f"give a shape of {self.n_inputs} "
                               f"inputs (n_inputs)", problem=f"holds {math.prod(shape)} inputs")
        if self.student.family == "cnn" and not shape:
            raise InvalidValue("input shape", "[]", "give input.shape for a CNN student",
                               problem="is missing")
        smallest = min(shape[:-1], default=0)
        if self.student.family == "cnn" and self.student.kernel[0] > smallest:
            raise InvalidValue("student kernel", list(self.student.kernel),
                               f"use kernels of at most {smallest}",
                               problem=f"does not fit inputs of shape {list(shape)}")

    def validate(self) -> None:
        self.student.validate()
        self.data.validate()
        self._validate_shape()
        if self.n_inputs < 1 or len(self.class_names) < 2 or self.input_divisor <= 0:
            raise DataError(f"space '{self.name}' needs n_inputs >= 1, at least 2 classes and "
                            f"a positive input divisor")
        port = InputFormat.parse(self.input_format)
        if port.kind == "fixed" and self.input_divisor != 1.0:
            raise InvalidValue("input divisor", self.input_divisor, "leave it at 1 for a "
                               "fixed-point port", problem="does not apply")
        if self.input_condition not in CONDITIONS:
            raise InvalidValue("input condition", f"'{self.input_condition}'",
                               f"use one of {', '.join(CONDITIONS)}", problem="is unknown")
        if not 10.0 <= self.clock_mhz <= 1000.0:
            raise InvalidValue("clock_mhz", self.clock_mhz, "use a clock between 10 and 1000 MHz")
        if self.objectives not in OBJECTIVE_SETS:
            raise InvalidValue("objectives", list(self.objectives),
                               f"use {list(OBJECTIVE_SETS[0])} or {list(OBJECTIVE_SETS[1])}",
                               problem="is not a set this version searches")
        if self.max_latency_cycles < 0:
            raise InvalidValue("max_latency_cycles", self.max_latency_cycles, "use 0 (no limit) or more")
        if not 0.0 <= self.min_accuracy < 1.0:
            raise InvalidValue("min_accuracy", self.min_accuracy, "use 0 (the teacher's minus 2 points) "
                               "up to below 1")
        if not 0 <= self.recipe.screen_epochs < self.recipe.learned_epochs:
            raise InvalidValue("screen_epochs", self.recipe.screen_epochs,
                               "use 0 (no screening) up to fewer than learned_epochs")
