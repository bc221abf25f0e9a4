"""``nas export``: a trial of a study to a bit-exact hls4ml project and RTL (CLI or notebook:
``export_trial(study, settings, trial, out)`` with the study and settings that
``nas.search.storage.open_existing`` returns)."""

import shutil
import tempfile
from pathlib import Path

import optuna
from optuna.trial import TrialState

from nas.errors import BitExactnessError, InvalidValue
from nas.hls.export import ExportResult, check_output_dir, write_project
from nas.hls.open_flow import run_open_flow
from nas.hls.reports import parse_project
from nas.model.data import load_data
from nas.search.objective import load_student
from nas.search.records import artifact_store, attach_folder, record_result
from nas.search.settings import RunSettings
from nas.spaces.parts import get_part

VENDOR_TOOLS = ("vivado_hls", "vitis_hls", "vitis-run", "vivado")


def finished_trial(study: optuna.Study, number: int) -> optuna.trial.FrozenTrial:
    """The complete trial ``number`` with stored weights, or ``InvalidValue`` saying why not."""
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    if number not in trials:
        raise InvalidValue("trial", number, "pick one that 'nas show' lists",
                           problem=f"is not in study '{study.study_name}'")
    trial = trials[number]
    if trial.state != TrialState.COMPLETE:
        reason = trial.user_attrs.get("rejected_reason") or trial.user_attrs.get("fail_reason", "")
        raise InvalidValue("trial", number, "pick a complete trial",
                           problem=f"is {trial.state.name.lower()}{f' ({reason})' if reason else ''}")
    if "weights_artifact_id" not in trial.user_attrs:
        raise InvalidValue("trial", number, "pick another trial", problem="has no stored weights")
    return trial


def vendor_tools() -> list[str]:
    return [tool for tool in VENDOR_TOOLS if shutil.which(tool)]


def export_trial(study: optuna.Study, settings: RunSettings, trial: int, out: str | Path,
                 backend: str = "Vivado", part: str | None = None, clock_mhz: float | None = None,
                 strategy: str | None = None, force: bool = False, build: bool = False,
                 io_type: str | None = None) -> ExportResult:
    """Write trial ``trial`` of ``study`` as an hls4ml project in ``out``, check its C
    simulation against the QKeras student on the whole test set (``io_type``: hls4ml's
    interface, by default io_parallel unless the student's layers are too large for it), add
    the open flow's RTL (Verilog, VHDL, test vectors, yosys stats; Verilator-checked) in
    ``out/rtl``, record the result in the study (``hls:trial_<n>``), and with ``build`` run
    the vendor flow when its tools exist. Nothing is left in ``out`` unless every check passes."""
    frozen = finished_trial(study, trial)
    target = settings.space.with_target(part, clock_mhz)
    store = artifact_store(settings.paths)
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
        rtl = run_open_flow(model, config, data.x_test, divisor, Path(staging) / "rtl",
                            part.full_name, target.clock_mhz)
        if not rtl.bit_exact:
            raise BitExactnessError(
                f"the RTL equals the QKeras student on only {100 * rtl.rtl_exact_fraction:.2f}"
                f"% of the test set: nothing was written")
        result = write_project(model, config, data.x_test, divisor, out, part, target.clock_mhz,
                               backend, strategy, force, estimate, io_type)
        shutil.move(str(Path(staging) / "rtl"), str(out / "rtl"))
    record = {**result.to_dict(), "vendor_build": "not requested",
              "rtl": {**rtl.to_dict(), "rtl_dir": str(out / "rtl")},
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
