"""What one ``nas run`` asks for, validated before anything is written."""

from dataclasses import dataclass
from pathlib import Path

from nas.errors import UserError
from nas.estimators.calibration import FLOWS, Calibration, load_calibration
from nas.search.workdir import StudyPaths
from nas.spaces.sources import read_file
from nas.spaces.space import Space


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
            raise UserError(f"--trials {self.trials} is out of range: use 1 or more")
        if self.timeout is not None and self.timeout <= 0:
            raise UserError(f"--timeout {self.timeout} is out of range: use seconds > 0")
        if self.seed < 0:
            raise UserError(f"--seed {self.seed} is out of range: use 0 or more")
        if self.flow not in FLOWS:
            raise UserError(f"--flow {self.flow} is unknown: use one of {', '.join(FLOWS)}")
        self.load_calibration()
        if self.space.data.file:  # read and checked now, so that a bad file writes nothing
            read_file(self.space.data, self.space.n_inputs, self.space.n_classes)
        self.paths.check_writable()
