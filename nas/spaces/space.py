"""What a search space is: data, teacher, student ranges, training recipe and target."""

from dataclasses import dataclass, field, replace

from nas.errors import DataError, InvalidValue
from nas.spaces.parts import Part, get_part

IntRange = tuple[int, int]

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

    Bits count the sign for weights; ``*_int_bits`` are integer bits above the binary point
    (QKeras ``quantized_bits(bits, integer)``).
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

    def validate(self) -> None:
        if not 1 <= self.max_hidden_layers <= 3:
            raise InvalidValue("student max_hidden_layers", self.max_hidden_layers, "use 1, 2 or 3")
        _check_range("width", self.width, 1, 1024)
        _check_range("weight_bits", self.weight_bits, 2, MAX_BITS)
        _check_range("weight_int_bits", self.weight_int_bits, 0, MAX_BITS - 2)
        _check_range("act_bits", self.act_bits, 2, MAX_BITS)
        _check_range("act_int_bits", self.act_int_bits, 0, MAX_BITS - 1)
        _check_range("input_bits", self.input_bits, 1, MAX_BITS)
        _check_range("input_int_bits", self.input_int_bits, 0, MAX_BITS)
        _check_range("sparsity", self.sparsity, 0.0, 0.95)


@dataclass(frozen=True)
class TrainingRecipe:
    """How teacher and students are trained.

    Distillation weight ``alpha`` (on the hard labels) and ``temperature`` are fixed, not
    searched: they change no hardware cost, and searching them would spend trials on
    accuracy noise (see README, "Distillation").
    """

    teacher_hidden: tuple[int, ...] = (64, 32)
    teacher_epochs: int = 40
    student_epochs: int = 30
    batch_size: int = 256
    learning_rate: float = 1e-2
    alpha: float = 0.1
    temperature: float = 2.0


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
    """A named search space: its data, how inputs are scaled, teacher and training recipe,
    student ranges and target. The networks see ``raw / input_divisor`` (for an ADC: a divisor
    that brings the pulses of interest near 1, which trains far better than scaling the full
    ADC range to [0, 1))."""

    name: str
    description: str
    n_inputs: int
    class_names: tuple[str, ...]
    data: DataSpec
    input_divisor: float
    student: StudentRanges = field(default_factory=StudentRanges)
    recipe: TrainingRecipe = field(default_factory=TrainingRecipe)
    part_name: str = "xc7a35t"
    clock_mhz: float = 200.0

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def part(self) -> Part:
        return get_part(self.part_name)

    def with_target(self, part: str | None = None, clock_mhz: float | None = None) -> "Space":
        """The same space aimed at another part or clock (validated)."""
        space = replace(
            self,
            part_name=get_part(part).name if part else self.part_name,
            clock_mhz=self.clock_mhz if clock_mhz is None else clock_mhz,
        )
        space.validate()
        return space

    def quick(self) -> "Space":
        """A small version for trying the tool: fewer samples and epochs."""
        recipe = replace(self.recipe, teacher_epochs=15, student_epochs=8)
        data = replace(self.data, n_events=min(self.data.n_events, 6000))
        return replace(self, data=data, recipe=recipe)

    def validate(self) -> None:
        self.student.validate()
        self.data.validate()
        if self.n_inputs < 1 or len(self.class_names) < 2 or self.input_divisor <= 0:
            raise DataError(f"space '{self.name}' needs n_inputs >= 1, at least 2 classes and "
                            f"a positive input divisor")
        if not 10.0 <= self.clock_mhz <= 1000.0:
            raise InvalidValue("clock_mhz", self.clock_mhz, "use a clock between 10 and 1000 MHz")
