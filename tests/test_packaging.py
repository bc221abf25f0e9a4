"""The project installs as a wheel and as an editable install, with one import package ``nas``."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import REPO

pytestmark = pytest.mark.slow


def test_editable_install_is_the_nas_folder():
    probe = subprocess.run([sys.executable, "-c", "import nas.search, nas.spaces; "
                            "print(nas.search.__file__); print(nas.spaces.__file__)"],
                           capture_output=True, text=True, cwd="/", check=True)
    assert [Path(line) for line in probe.stdout.split()] == [
        REPO / "nas" / "search" / "__init__.py", REPO / "nas" / "spaces" / "__init__.py"]


def test_wheel_installs_and_runs(tmp_path):
    # Build from a copy of the tracked files: setuptools writes build/ beside the sources.
    source = tmp_path / "source"
    tracked = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                             cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    for name in tracked:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path / "dist"), str(source)], check=True,
                   capture_output=True)
    wheel = next((tmp_path / "dist").glob("nas_fpga-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "nas/app/cli.py" in names and "nas/spaces/wcd_pulses.py" in names
    assert {"nas/estimators/calibrations/open.json",
            "nas/estimators/calibrations/vitis.json"} <= set(names)
    assert not any(name.startswith(("tests/", "nas/tests/")) for name in names)
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(site), str(wheel)], check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(site)}
    probe = subprocess.run([sys.executable, "-c", "import nas, nas.app.cli; print(nas.__file__)"
                            "; from nas.estimators.calibration import default_calibration as d"
                            "; d('open'); d('vitis')"],
                           capture_output=True, text=True, env=env, cwd=tmp_path, check=True)
    assert Path(probe.stdout.strip()).is_relative_to(site)
    listed = subprocess.run([sys.executable, "-m", "nas", "spaces"], capture_output=True,
                            text=True, env=env, cwd=tmp_path)
    assert listed.returncode == 0 and "mlp_psd" in listed.stdout
    assert (site / "bin" / "nas").exists()
