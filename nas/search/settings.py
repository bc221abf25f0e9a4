"""What one ``nas run`` asks for, validated before anything is written."""

from dataclasses import dataclass
from pathlib import Path

from nas.errors import InvalidValue, StudyError
from nas.estimators.calibration import FLOWS, Calibration, load_calibration
from nas.model.workdir import StudyPaths
from nas.search.memory import default_limit_gb
from nas.spaces.schema import space_digests
from nas.spaces.sources import read_file
from nas.spaces.space import OBJECTIVE_SETS, Space

#: Direction of each objective (names as the dashboard shows them).
DIRECTION = {"val_accuracy": "maximize", "lut_equivalent": "minimize", "latency_cycles": "minimize"}
#: What ``--device`` takes (``nas._tf.chosen_device`` says what each trains on).
DEVICES = ("auto", "cpu", "gpu")
#: What a study made before these settings existed was searched with.
LEGACY_IDENTITY = {"precision": "searched", "objectives": list(OBJECTIVE_SETS[1]),
                   "max_latency_cycles": 0}


@dataclass(frozen=True)
class RunSettings:
    space: Space
    trials: int
    seed: int = 0
    workdir: Path = Path("studies")
    storage: str | None = None
    timeout: float | None = None
    quick: bool = False
    sampler: str = "tpe"
    flow: str = "open"
    calibration: Path | None = None
    #: GB of resident memory past which a trial fails (None: 80 % of this machine's memory).
    memory_limit: float | None = None
    #: What trains: auto, cpu or gpu (``nas._tf.chosen_device``). Not part of the study's
    #: identity: a study may be continued on another device.
    device: str = "auto"
    #: Whether a new learned-precision study starts with ``nas.search.sampling.STARTING_PLANS``.
    starting_plans: bool = True

    @property
    def paths(self) -> StudyPaths:
        return StudyPaths(self.workdir, self.space.name)

    @property
    def memory_limit_bytes(self) -> int:
        gigabytes = default_limit_gb() if self.memory_limit is None else self.memory_limit
        return int(gigabytes * 2**30)

    @property
    def storage_url(self) -> str:
        return self.storage or self.paths.default_storage

    def identity(self) -> dict:
        """What must stay the same for a study to be continued: the options, and the space
        itself (a digest per section, ``nas.spaces.schema.space_digests``)."""
        space = self.space
        return {"seed": self.seed, "quick": self.quick, "part": space.part_name,
                "clock_mhz": space.clock_mhz, "flow": self.flow,
                "precision": space.student.precision, "objectives": list(space.objectives),
                "max_latency_cycles": space.max_latency_cycles,
                "space": space_digests(space)}

    def check_continues(self, recorded: dict, where: str) -> None:
        """A ``StudyError`` unless these settings are those the study in ``where`` was made
        with (``recorded``): the same options, then the same space."""
        options = self.identity()
        options.pop("space")
        made = {key: value for key, value in recorded.items() if key != "space"}
        if made != options:
            raise StudyError(f"the study in {where} was made with {made}, not {options}: use "
                             f"the same options, or another workdir")
        self.check_space(recorded, where)

    def check_space(self, recorded: dict, where: str) -> None:
        """A ``StudyError`` when the space is not the one the study was made with (a study
        made before spaces were recorded is not checked)."""
        made = recorded.get("space")
        changed = [key for key, value in space_digests(self.space).items()
                   if made is not None and made.get(key) != value]
        if changed:
            raise StudyError(f"the space '{self.space.name}' is not the one the study in {where} "
                             f"was made with ({', '.join(changed)} changed): restore it, or give "
                             f"the edited space another name or another --workdir")

    def load_calibration(self) -> Calibration:
        """The ``--calibration`` file, checked to be of the flow, or the flow's default."""
        return load_calibration(self.flow, self.calibration)

    def validate(self) -> None:
        self.space.validate()
        if self.trials < 1:
            raise InvalidValue("trials", self.trials, "use 1 or more")
        if self.timeout is not None and self.timeout <= 0:
            raise InvalidValue("timeout", self.timeout, "use seconds > 0")
        if self.seed < 0:
            raise InvalidValue("seed", self.seed, "use 0 or more")
        if self.memory_limit is not None and self.memory_limit <= 0:
            raise InvalidValue("memory_limit", self.memory_limit, "use GB > 0")
        if self.device not in DEVICES:
            raise InvalidValue("device", f"'{self.device}'", f"use one of {', '.join(DEVICES)}",
                               problem="is unknown")
        if self.flow not in FLOWS:
            raise InvalidValue("flow", self.flow, f"use one of {', '.join(FLOWS)}", problem="is unknown")
        if self.flow == "vitis" and self.space.student.family == "cnn":
            raise InvalidValue("flow", self.flow, "use the open flow for CNN students",
                               problem="does not estimate CNN students")
        self.load_calibration()
        if self.space.data.file:  # read and checked now, so that a bad file writes nothing
            read_file(self.space.data, self.space.n_inputs, self.space.n_classes,
                      self.space.input_shape)
        self.paths.check_writable()
