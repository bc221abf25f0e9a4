"""nas: hardware-aware neural architecture search for FPGA classifiers (QKeras, Optuna,
hls4ml, da4ml). Start with: nas run --space mlp_psd --quick"""

import argparse
import logging
import os
import sys
import warnings
from pathlib import Path

from nas import stop
from nas.app.commands import COMMANDS, DEFAULT_TRIALS, QUICK_TRIALS
from nas.app.logs import route_logs, unroute_logs
from nas.app.render import err_console
from nas.errors import DataWarning, InvalidValue, NasError, is_disk_full
from nas.hls.board.axis_packing import MODES
from nas.model.config import IO_TYPES, PARALLEL_VALUES
from nas.search.memory import MemoryLimitExceeded
from nas.search.settings import DEVICES
from nas.search.storage import STORAGE_VARIABLE
from nas.spaces.boards import BOARDS
from nas.spaces.space import PRECISIONS


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the problem and where help is."""

    def error(self, message: str):
        err_console.print(f"nas: error: {message} (see '{self.prog} --help')", highlight=False)
        raise SystemExit(2)


def _add_location(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--space", required=True,
                        help="space name (see 'nas spaces') or a YAML space file")
    parser.add_argument("--workdir", type=Path, default=Path("studies"),
                        help="home of studies (default: studies/)")
    parser.add_argument("--storage", default=os.environ.get(STORAGE_VARIABLE),
                        help=f"Optuna storage URL (default: ${STORAGE_VARIABLE} if set, else "
                             f"SQLite in the workdir; put a URL with a password in "
                             f"${STORAGE_VARIABLE}, not on the command line)")


def _add_run_output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", choices=DEVICES,
                        help="what trains: auto (the GPU for CNN students when one is visible, "
                             "else the CPU; see README), cpu or gpu")
    parser.add_argument("--log-file", type=Path, help="append a line per stage, trial and "
                        "synthesized design to this file (printed on stdout when it is not a "
                        "terminal)")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="nas", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    run = commands.add_parser("run", help="train the teacher and search students")
    _add_location(run)
    run.add_argument("--trials", type=int, help=f"complete trials wanted (default "
                     f"{DEFAULT_TRIALS}, {QUICK_TRIALS} with --quick)")
    run.add_argument("--timeout", type=float, help="stop searching after this many seconds")
    run.add_argument("--memory-limit", type=float, metavar="GB",
                     help="a trial that makes the process pass this much resident memory "
                          "fails, and the search goes on (default: 80%% of this machine's memory or "
                          "cgroup limit)")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--quick", action="store_true", help="a small run (about two minutes)")
    run.add_argument("--sampler", default="tpe", choices=("tpe", "nsgaii", "random"),
                     help="Optuna sampler (default: multivariate TPE)")
    run.add_argument("--no-synth", action="store_true", help="skip synthesis of the front")
    run.add_argument("--part", help="target FPGA part (default: the space's, xc7a35t)")
    run.add_argument("--clock-mhz", type=float, help="target clock (default: the space's)")
    run.add_argument("--workers", type=int, default=1,
                     help="local worker processes sharing the study (default 1)")
    run.add_argument("--flow", default="open", choices=("open", "vitis"),
                     help="what the estimates predict: open (da4ml + yosys, the default) or "
                          "vitis (vendor HLS; also searches hls4ml's strategy and reuse "
                          "factor)")
    run.add_argument("--precision", choices=PRECISIONS,
                     help="bit widths learned per weight in training, or searched per layer "
                          "(default: the space's, learned)")
    run.add_argument("--objectives", type=int, choices=(2, 3),
                     help="2: accuracy and LUT-equivalents, latency a constraint; 3: latency "
                          "too (default: the space's, 2)")
    run.add_argument("--max-latency-cycles", type=int,
                     help="designs with more cycles are infeasible (default: the space's; 0: "
                          "no limit)")
    run.add_argument("--calibration", type=Path,
                     help="calibration file from 'nas calibrate' (default: the flow's shipped one)")
    _add_run_output(run)

    worker = commands.add_parser("worker", help="join an existing study from any machine")
    _add_location(worker)
    worker.add_argument("--trials", type=int, default=1,
                        help="complete trials this worker adds (default 1)")
    worker.add_argument("--index", type=int, default=0,
                        help="worker number: reseeds its sampler (default 0)")
    worker.add_argument("--sampler", default="tpe", choices=("tpe", "nsgaii", "random"),
                        help="Optuna sampler (default: multivariate TPE)")
    worker.add_argument("--timeout", type=float, help="stop searching after this many seconds")
    worker.add_argument("--memory-limit", type=float, metavar="GB",
                        help="as for 'nas run' (default: 80%% of this machine's memory or cgroup limit)")
    _add_run_output(worker)

    spaces = commands.add_parser("spaces", help="list the search spaces and parts")
    spaces.add_argument("--show", metavar="NAME",
                        help="print a space (built-in or YAML file) in the YAML form")

    show = commands.add_parser("show", help="print the Pareto front of a study")
    _add_location(show)
    show.add_argument("--json", action="store_true", help="print JSON instead of a table")
    show.add_argument("--min-accuracy", type=float, help="lowest validation accuracy shown "
                      "(default: the space's floor, else the teacher's validation accuracy - 0.02)")
    show.add_argument("--max-lut", type=float, help="most LUT-equivalents (estimate)")
    show.add_argument("--max-latency-cycles", type=int, help="most latency cycles (estimate)")

    report = commands.add_parser("report", help="write the study's HTML report")
    _add_location(report)
    report.add_argument("--out", type=Path, help="HTML file (default <workdir>/<space>/report.html)")

    synth = commands.add_parser("synth", help="synthesize designs with the open flow")
    _add_location(synth)
    which = synth.add_mutually_exclusive_group()
    which.add_argument("--front", action="store_true", help="the Pareto front (the default)")
    which.add_argument("--trials", help="trial numbers, comma-separated (e.g. 3,7,12)")
    synth.add_argument("--jobs", type=int, default=2, help="parallel processes (default 2)")
    synth.add_argument("--timeout", type=float, default=600.0,
                       help="seconds per design before it is killed (default 600)")
    synth.add_argument("--scheduler", help="Dask scheduler address (tcp://host:8786) to fan "
                       "out over; its workers need the workdir at the same path")

    export = commands.add_parser("export", help="write a trial as a bit-exact hls4ml project")
    _add_location(export)
    export.add_argument("--trial", type=int, required=True, help="trial number (see 'nas show')")
    export.add_argument("--out", type=Path, required=True, help="project directory to write")
    export.add_argument("--backend", default="Vivado", choices=("Vivado", "Vitis"))
    export.add_argument("--part", help="target part (default: the study's)")
    export.add_argument("--clock-mhz", type=float, help="target clock (default: the study's)")
    export.add_argument("--strategy", choices=("Latency", "Resource", "distributed_arithmetic"),
                        help="hls4ml strategy of the dense layers (default: the trial's, "
                             "Latency unless a vendor-flow search chose Resource)")
    export.add_argument("--io-type", choices=IO_TYPES,
                        help="hls4ml interface (default: io_parallel, or io_stream for a student "
                             f"with a layer of more than {PARALLEL_VALUES} values)")
    export.add_argument("--force", action="store_true", help="replace a non-empty --out")
    export.add_argument("--build", action="store_true",
                        help="run C and logic synthesis when vendor tools are on PATH")

    deploy = commands.add_parser("deploy", help="write a trial as an AXI4-Stream IP for a board, "
                                 "simulated bit-exact, with its Vivado project and driver")
    _add_location(deploy)
    deploy.add_argument("--trial", type=int, required=True, help="trial number (see 'nas show')")
    deploy.add_argument("--board", required=True,
                        help=f"target board: {', '.join(BOARDS)} (artix7: the IP only)")
    deploy.add_argument("--out", type=Path, required=True, help="folder to write")
    deploy.add_argument("--mode", default="packed", choices=MODES,
                        help="input stream: packed (one event per beat and clock, the default) "
                             "or word (one sample per 32-bit beat)")
    deploy.add_argument("--no-argmax", dest="argmax", action="store_false",
                        help="send the scores only; the driver takes their argmax (saves the "
                             "IP's comparison tree, about 10-20 LUTs per class)")
    deploy.add_argument("--cost", action="store_true",
                        help="also measure the wrapper's LUTs and FFs with yosys")
    deploy.add_argument("--force", action="store_true", help="replace a non-empty --out")

    calibrate = commands.add_parser("calibrate", help="fit a flow's estimators to synthesis "
                                    "results and write a calibration file")
    calibrate.add_argument("--flow", default="open", choices=("open", "vitis"),
                           help="open: da4ml + yosys on xc7 (default); vitis: vendor HLS")
    calibrate.add_argument("--generate", type=int, metavar="N",
                           help="open flow: sample, train and synthesize N designs (resumable)")
    calibrate.add_argument("--space", nargs="+", metavar="SPACE",
                           help="open flow: the spaces whose students --generate samples, N "
                                "designs of each (default mlp_psd; cnn_psd or cnn_digits "
                                "sample conv students)")
    calibrate.add_argument("--from-study", type=Path, nargs="+", default=[], metavar="DIR",
                           help="open flow: the designs these studies synthesized "
                                "(study folders <workdir>/<space>)")
    calibrate.add_argument("--jobs", type=int, default=2, help="parallel processes (default 2)")
    calibrate.add_argument("--timeout", type=float, default=900.0,
                           help="seconds of yosys per design (default 900)")
    calibrate.add_argument("--reports", type=Path, nargs="+", default=[], metavar="DIR",
                           help="vitis flow: hls4ml project directories (or folders above them)")
    calibrate.add_argument("--table", type=Path, nargs="+", default=[], metavar="CSV",
                           help="vitis flow: result tables in the wa-hls4ml-search layout")
    calibrate.add_argument("--rows", type=Path, nargs="+", default=[], metavar="JSON",
                           help="vitis flow: calibration rows of project folders read elsewhere "
                                "(benchmarks/public_projects.py); each replaces the table row "
                                "of its report")
    calibrate.add_argument("--workdir", type=Path, default=Path("studies"),
                           help="home of generated designs: <workdir>/calibration/ (default "
                                "studies/)")
    calibrate.add_argument("--out", type=Path,
                           help="calibration file (default <workdir>/calibration/<flow>.json)")
    calibrate.add_argument("--seed", type=int, default=0)
    calibrate.add_argument("--mix-families", action="store_true",
                           help="vitis flow: fit reports of 7-series and UltraScale parts "
                                "together (refused by default)")

    estimate = commands.add_parser("estimate", help="estimate existing hls4ml projects (vendor "
                                   "HLS) beside their own reports")
    estimate.add_argument("--flow", default="vitis", choices=("vitis",),
                          help="vitis: vendor HLS (the only flow with project folders)")
    estimate.add_argument("--project", type=Path, required=True, metavar="DIR",
                          help="an hls4ml project folder, or a folder above several")
    estimate.add_argument("--json", action="store_true", help="print JSON instead of a table")
    estimate.add_argument("--calibration", type=Path,
                          help="calibration file from 'nas calibrate' (default: the shipped one)")

    dashboard = commands.add_parser("dashboard", help="open the study in optuna-dashboard")
    _add_location(dashboard)
    dashboard.add_argument("--port", type=int, default=8080)
    return parser


def flag(setting: str) -> str:
    """The option a setting is given with (``clock_mhz`` -> ``--clock-mhz``)."""
    return "--" + setting.replace("_", "-") if setting in _SETTINGS_WITH_FLAGS else setting


#: Settings that library errors name and that the command line takes as options.
_SETTINGS_WITH_FLAGS = {"space", "trials", "timeout", "seed", "sampler", "part", "clock_mhz",
                        "workers", "storage", "workdir", "flow", "calibration", "jobs", "out",
                        "force", "trial", "backend", "strategy", "port", "generate", "reports",
                        "project", "precision", "objectives", "max_latency_cycles",
                        "min_accuracy", "from_study", "memory_limit", "board", "device",
                        "log_file"}


def message(error: NasError) -> str:
    """The one line the user reads: library wording, with flags for the settings it names."""
    return error.worded(flag) if isinstance(error, InvalidValue) else str(error)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings about the user's data, on one line each; others as Python prints them."""
    if issubclass(category, DataWarning):
        err_console.print(f"nas: warning: {message}", highlight=False, soft_wrap=True)
    else:
        _python_warning(message, category, filename, lineno, file, line)


_python_warning = warnings.showwarning


def _unraisable(unraisable) -> None:
    """A stop (Ctrl-C, SIGTERM) or the memory limit's exception that lands in a finalizer or a
    weakref callback (garbage collection runs them at any instruction) cannot leave it: Python
    prints "Exception ignored" with a traceback and goes on. The memory limit still ends its
    trial (its block checks its own flag), so that report is dropped; a stop is delivered
    again a moment later, by another thread (from this one it would land in this hook, and be
    swallowed again), so that it is not lost."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        stop.redeliver()
    elif not isinstance(unraisable.exc_value, MemoryLimitExceeded):
        sys.__unraisablehook__(unraisable)


class _NoStopTraceback(logging.Filter):
    """Optuna logs a failed trial with its traceback. A trial stopped by Ctrl-C or SIGTERM (a
    stop the user asked for), by a full disk (which stops the run with its own message) or by
    the memory limit is not a bug to debug, so its record keeps its one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and (issubclass(record.exc_info[0], (KeyboardInterrupt,
                                                                MemoryLimitExceeded))
                                or is_disk_full(record.exc_info[1])):
            record.exc_info, record.exc_text = None, None
        return True


#: One instance, so that calling ``main`` again (tests do) adds no second filter.
_STOP_FILTER = _NoStopTraceback()


def main(argv: list[str] | None = None) -> int:
    warnings.showwarning = _show_warning
    for handler in logging.getLogger("optuna").handlers:
        handler.addFilter(_STOP_FILTER)
    stop.install(on_forced=lambda line: err_console.print(f"nas: {line}", highlight=False,
                                                         soft_wrap=True))
    sys.unraisablehook = _unraisable
    args = build_parser().parse_args(argv)
    handlers = []
    try:
        handlers = route_logs(getattr(args, "log_file", None))
        return COMMANDS[args.command](args)
    except NasError as error:
        err_console.print(f"nas: error: {message(error)}", highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        err_console.print("nas: interrupted: what was finished is kept; run the same command "
                          "again to continue")
        return stop.STOPPED
    finally:
        unroute_logs(handlers)
        stop.finished()


if __name__ == "__main__":
    sys.exit(main())
