"""Results obtained after a trial finished (HLS export, synthesis), kept in the study.

Optuna does not let a finished trial's attributes change, so each result is a study user
attribute ``<kind>:trial_<number>`` holding a JSON record; artifacts of finished trials
(projects, RTL, logs) are study artifacts whose ids the record lists.
"""

import os
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import BinaryIO

import optuna

from nas.model.workdir import StudyPaths


class _WholeFileStore(optuna.artifacts.FileSystemArtifactStore):
    """Optuna's file store, except that an artifact appears whole or not at all: it is written
    beside its place and renamed into it, so that a full disk or a kill leaves no partial file
    under an artifact's name (and none at all when the write fails)."""

    def write(self, artifact_id: str, content_body: BinaryIO) -> None:
        final = self._get_filepath(artifact_id)
        partial = final.with_name(f".{final.name}.partial")
        try:
            with partial.open("wb") as file:
                shutil.copyfileobj(content_body, file)
            os.replace(partial, final)
        finally:
            partial.unlink(missing_ok=True)


def artifact_store(paths: StudyPaths) -> optuna.artifacts.FileSystemArtifactStore:
    """The study's artifact store: files of trials and of finished trials' results."""
    return _WholeFileStore(str(paths.artifacts))


def download_weights(trial: optuna.trial.FrozenTrial,
                     store: optuna.artifacts.FileSystemArtifactStore, path: Path) -> None:
    """The weights file of a trial (``nas.model.weights``) into ``path``."""
    optuna.artifacts.download_artifact(artifact_store=store, file_path=str(path),
                                       artifact_id=trial.user_attrs["weights_artifact_id"])


def _key(kind: str, trial_number: int) -> str:
    return f"{kind}:trial_{trial_number}"


def record_result(study: optuna.Study, kind: str, trial_number: int, record: dict) -> None:
    study.set_user_attr(_key(kind, trial_number), record)


def results(study: optuna.Study, kind: str) -> dict[int, dict]:
    """Trial number -> record of one kind (``hls``, ``synth``)."""
    prefix = f"{kind}:trial_"
    return {int(key[len(prefix):]): value for key, value in study.user_attrs.items()
            if key.startswith(prefix)}


def attach_folder(study: optuna.Study, store: optuna.artifacts.FileSystemArtifactStore,
                  folder: Path, name: str) -> str:
    """``folder`` as a ``.tar.gz`` study artifact (reachable from optuna-dashboard); its id."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / name
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(folder, arcname=folder.name)
        return optuna.artifacts.upload_artifact(artifact_store=store, file_path=str(archive),
                                                study_or_trial=study, mimetype="application/gzip")
