"""``nas.hls.export``: a trial of a study to a bit-exact hls4ml project (notebook or CLI)."""

import shutil
import tempfile
from pathlib import Path

import optuna
from optuna.trial import TrialState

from nas.errors import UserError
from nas.hls.open_flow import run_open_flow
from nas.hls.project import (
    BitExactnessError,
    ExportResult,
    check_output_dir,
    raw_port,
    write_project,
)
from nas.hls.reports import parse_project
from nas.search.data import load_data
from nas.search.objective import load_student
from nas.search.records import attach_folder, record_result
from nas.search.storage import open_existing
from nas.spaces.parts import get_part

VENDOR_TOOLS = ("vivado_hls", "vitis_hls", "vitis-run", "vivado")


def finished_trial(study: optuna.Study, number: int) -> optuna.trial.FrozenTrial:
    """The complete trial ``number`` with stored weights, or a UserError saying why not."""
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    if number not in trials:
        raise UserError(f"trial {number} is not in study '{study.study_name}': pick one of "
                        f"'nas show --space {study.study_name}'")
    trial = trials[number]
    if trial.state != TrialState.COMPLETE:
        reason = trial.user_attrs.get("rejected_reason") or trial.user_attrs.get("fail_reason", "")
        raise UserError(f"trial {number} is {trial.state.name.lower()}"
                        f"{f' ({reason})' if reason else ''}: export a complete trial")
    if "weights_artifact_id" not in trial.user_attrs:
        raise UserError(f"trial {number} has no stored weights: export another trial")
    return trial


def vendor_tools() -> list[str]:
    return [tool for tool in VENDOR_TOOLS if shutil.which(tool)]


def export(space: str, trial: int, out: str | Path, workdir: str | Path = "studies",
           storage: str | None = None, backend: str = "Vivado", part: str | None = None,
           clock_mhz: float | None = None, strategy: str = "Latency", force: bool = False,
           build: bool = False) -> ExportResult:
    """Write trial ``trial`` of the study of ``space`` as an hls4ml project in ``out``, check its
    C simulation against the QKeras student on the whole test set, add the open flow's RTL
    (Verilog, VHDL, test vectors, yosys stats; Verilator-checked) in ``out/rtl``, record the
    result in the study (``hls:trial_<n>``), and with ``build`` run the vendor flow when its
    tools exist. Nothing is left in ``out`` unless every check passes."""
    study, settings = open_existing(space, Path(workdir), storage)
    frozen = finished_trial(study, trial)
    target = settings.space.with_target(part, clock_mhz)
    store = optuna.artifacts.FileSystemArtifactStore(str(settings.paths.artifacts))
    model, config = load_student(frozen, settings.space, store)
    data = load_data(settings.space, settings.seed, settings.paths)
    estimate = {"LUT": frozen.user_attrs["est_lut"], "FF": frozen.user_attrs["est_ff"],
                "DSP": frozen.user_attrs["est_dsp"],
                "latency (cycles)": frozen.user_attrs["est_latency_cycles"]}
    out = Path(out)
    check_output_dir(out, force)
    divisor, part = settings.space.input_divisor, get_part(target.part_name)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.rtl.", dir=out.parent) as staging:
        rtl = None
        if raw_port(data.x_test * divisor, divisor) is not None:
            rtl = run_open_flow(model, config, data.x_test, divisor, Path(staging) / "rtl",
                                part.full_name, target.clock_mhz)
            if not rtl.bit_exact:
                raise BitExactnessError(
                    f"the RTL equals the QKeras student on only {100 * rtl.rtl_exact_fraction:.2f}"
                    f"% of the test set: nothing was written")
        result = write_project(model, config, data.x_test, divisor, out, part, target.clock_mhz,
                               backend, strategy, force, estimate)
        if rtl is not None:
            shutil.move(str(Path(staging) / "rtl"), str(out / "rtl"))
    record = {**result.to_dict(), "vendor_build": "not requested",
              "rtl": None if rtl is None else {**rtl.to_dict(), "rtl_dir": str(out / "rtl")},
              "artifact_id": attach_folder(study, store, out, f"trial_{trial}_hls_project.tar.gz")}
    if build:
        tools = vendor_tools()
        if tools:
            import hls4ml

            hls4ml.converters.link_existing_project(str(out)).build(csynth=True, vsynth=True)
            record["vendor_build"] = [r.to_dict() for r in parse_project(Path(out))]
        else:
            record["vendor_build"] = (f"skipped: none of {', '.join(VENDOR_TOOLS)} is on PATH; the "
                                      f"project is written and its C simulation checked")
    record_result(study, "hls", trial, record)
    return result
