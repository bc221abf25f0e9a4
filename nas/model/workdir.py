"""Layout of one study's folder: ``<workdir>/<space>/`` holds storage, data, teacher, artifacts."""

import os
from dataclasses import dataclass
from pathlib import Path

from nas.errors import InvalidValue


@dataclass(frozen=True)
class StudyPaths:
    workdir: Path
    space: str

    @property
    def root(self) -> Path:
        return self.workdir / self.space

    @property
    def default_storage(self) -> str:
        return f"sqlite:///{(self.root / 'study.db').resolve()}"

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    def data(self, seed: int, tag: str) -> Path:
        return self.root / f"data_seed{seed}_{tag}.npz"

    def teacher(self, seed: int, tag: str) -> Path:
        return self.root / f"teacher_seed{seed}_{tag}.h5"

    def check_writable(self) -> None:
        """``InvalidValue`` unless the study folder exists or can be made, and can be written."""
        check_writable(self.root, "workdir", self.workdir)

    def create(self) -> Path | None:
        """Make the study folder; return the outermost folder this made (None: it existed)."""
        missing = [p for p in (self.root, *self.root.parents) if not p.exists()]
        created = missing[-1] if missing else None
        try:
            self.artifacts.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InvalidValue("workdir", f"'{self.workdir}'", "pick a writable folder",
                               problem=f"cannot hold the study folder ({error.strerror})") from None
        return created


def write_atomically(path: Path, write) -> None:
    """Call ``write(tmp_path)`` then rename, so that a cache file is never half-written."""
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    write(tmp)
    os.replace(tmp, path)


def check_writable(folder: Path, name: str, given: Path) -> None:
    """``InvalidValue`` for setting ``name`` (given as ``given``) unless ``folder`` exists or can
    be made, and can be written."""
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing is None or not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise InvalidValue(name, f"'{given}'", "pick a writable folder", problem="is not writable")
