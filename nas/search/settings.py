"""What one ``nas run`` asks for, validated before anything is written."""

from dataclasses import dataclass
from pathlib import Path

from nas.errors import InvalidValue
from nas.estimators.calibration import FLOWS, Calibration, load_calibration
from nas.model.workdir import StudyPaths
from nas.spaces.sources import read_file
from nas.spaces.space import Space

#: Objective names, as the dashboard shows them, and their directions.
OBJECTIVES = ("val_accuracy", "lut_equivalent", "latency_cycles")
DIRECTIONS = ("maximize", "minimize", "minimize")


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

    @property
    def paths(self) -> StudyPaths:
        return StudyPaths(self.workdir, self.space.name)

    @property
    def storage_url(self) -> str:
        return self.storage or self.paths.default_storage

    def identity(self) -> dict:
        """What must stay the same for a study to be continued."""
        return {"seed": self.seed, "quick": self.quick, "part": self.space.part_name,
                "clock_mhz": self.space.clock_mhz, "flow": self.flow}

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
        if self.flow not in FLOWS:
            raise InvalidValue("flow", self.flow, f"use one of {', '.join(FLOWS)}", problem="is unknown")
        self.load_calibration()
        if self.space.data.file:  # read and checked now, so that a bad file writes nothing
            read_file(self.space.data, self.space.n_inputs, self.space.n_classes)
        self.paths.check_writable()
