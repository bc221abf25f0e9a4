"""``nas deploy``: a trial of a study as an AXI4-Stream IP for a board, checked in simulation
on the whole test set, with the Vivado project Tcl, ``build.sh``, the PYNQ driver and an
example notebook (``deploy_trial(study, settings, trial, board, out)``)."""

import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna

from nas.app.export import finished_trial
from nas.errors import InvalidValue
from nas.hls import board as board_package
from nas.hls.board.driver import BITSTREAM, LAYOUT
from nas.hls.export import check_output_dir
from nas.hls.stream_ip import build_stream_ip
from nas.hls.vivado_project import block_design_tcl, build_script, ip_only_tcl
from nas.model.data import load_data
from nas.search.objective import load_student
from nas.search.records import artifact_store
from nas.search.settings import RunSettings
from nas.spaces.boards import Board, get_board
from nas.spaces.parts import get_part


@dataclass(frozen=True)
class DeployResult:
    out: Path
    board: str
    part: str
    clock_mhz: float
    record: dict


def check_fits(frozen: optuna.trial.FrozenTrial, board: Board) -> None:
    """``InvalidValue`` when the trial's estimate exceeds the board's part."""
    part = get_part(board.part)
    needs = {"LUTs": (frozen.user_attrs["est_lut"], part.lut),
             "FFs": (frozen.user_attrs["est_ff"], part.ff),
             "DSPs": (frozen.user_attrs["est_dsp"], part.dsp)}
    over = [f"{estimate:,.0f} {name} (it has {has:,})" for name, (estimate, has) in needs.items()
            if estimate > has]
    if over:
        raise InvalidValue("board", f"'{board.name}'", "pick a smaller trial or a larger board",
                           problem=f"({board.part}) cannot hold trial {frozen.number}: the "
                                   f"estimate needs {', '.join(over)}")


def notebook(board: Board) -> str:
    """The example notebook: load the overlay, send a pulse, plot it, read its class, then
    classify the whole test set."""
    cells = [
        ("markdown", f"# The deployed student on {board.name}\nWritten by `nas deploy`: "
                     "loads the overlay, sends one event, plots it and reads its class, then "
                     "streams the test set."),
        ("code", "import numpy as np\nimport matplotlib.pyplot as plt\n"
                 "from nas_board.driver import Classifier\n\nip = Classifier('.')"),
        ("code", "events = np.load('test_events.npy')\n"
                 "expected = np.load('expected_classes.npy')\n"
                 "classes, scores = ip.classify(events[:1])\n"
                 "plt.plot(events[0], drawstyle='steps-mid')\n"
                 "plt.title(f'class {classes[0]} (expected {expected[0]})')\nplt.show()\n"
                 "scores"),
        ("code", "classes, scores = ip.classify(events)\n"
                 "print(f'{np.mean(classes == expected):.2%} of {len(events)} events as "
                 "simulated')"),
    ]
    return json.dumps({
        "cells": [{"cell_type": kind, "metadata": {}, "source": text.splitlines(keepends=True),
                   **({"outputs": [], "execution_count": None} if kind == "code" else {})}
                  for kind, text in cells],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5}, indent=1)


def _write_board_files(folder: Path, board: Board, layout_json: str, clock_mhz: float,
                       layout) -> None:
    tcl = block_design_tcl(board, layout, clock_mhz) if board.processor else \
        ip_only_tcl(board, clock_mhz)
    (folder / "project.tcl").write_text(tcl)
    script = folder / "build.sh"
    script.write_text(build_script(board))
    script.chmod(0o755)
    (folder / LAYOUT).write_text(layout_json)
    shutil.copytree(Path(board_package.__file__).parent, folder / "nas_board",
                    ignore=shutil.ignore_patterns("__pycache__"))
    if board.processor:
        (folder / "deploy.ipynb").write_text(notebook(board))


def deploy_trial(study: optuna.Study, settings: RunSettings, trial: int, board_name: str,
                 out: str | Path, mode: str = "packed", force: bool = False,
                 cost: bool = False, argmax: bool = True) -> DeployResult:
    """Write trial ``trial`` of ``study`` for ``board_name`` into ``out``; nothing is left
    there unless the IP is bit-exact on the whole test set under backpressure (``argmax``
    false: the IP sends the scores only and the driver takes their argmax)."""
    started = time.perf_counter()
    board = get_board(board_name)
    frozen = finished_trial(study, trial)
    check_fits(frozen, board)
    out = Path(out)
    check_output_dir(out, force)
    model, config = load_student(frozen, settings.space, artifact_store(settings.paths))
    data = load_data(settings.space, settings.seed, settings.paths)
    clock_mhz, divisor = settings.space.clock_mhz, settings.space.input_divisor
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.", dir=out.parent) as staging:
        folder = Path(staging) / "deploy"
        ip = build_stream_ip(model, config, data.x_test, divisor, folder / "ip" / "src",
                             board.part, clock_mhz, mode, cost, argmax)
        _write_board_files(folder, board, ip.layout.to_json(), clock_mhz, ip.layout)
        expected = model.predict(data.x_test, batch_size=4096, verbose=0)
        np.save(folder / "test_events.npy", data.x_test * divisor)
        np.save(folder / "expected_classes.npy", np.argmax(expected, axis=1))
        np.save(folder / "expected_scores.npy", expected)
        record = {"trial": trial, "board": board.name, "part": board.part,
                  "clock_mhz": clock_mhz, "layout": json.loads(ip.layout.to_json()),
                  "stream": ip.check.to_dict(), "cost": ip.cost,
                  "bitstream": BITSTREAM if board.processor else None,
                  "seconds": time.perf_counter() - started}
        (folder / "deploy.json").write_text(json.dumps(record, indent=1))
        if out.exists():
            shutil.rmtree(out)
        shutil.move(str(folder), str(out))
    return DeployResult(out, board.name, board.part, clock_mhz, record)
