"""nas: hardware-aware neural architecture search for FPGA classifiers (QKeras, Optuna,
hls4ml, da4ml). Start with: nas run --space mlp_psd --quick"""

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from nas.errors import UserError

#: Tables are wide: when output is not a terminal (a file, CI), do not squeeze them to 80 columns.
console = Console(width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 200)

DEFAULT_TRIALS = 200
QUICK_TRIALS = 8


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
    parser.add_argument("--storage", help="Optuna storage URL (default: SQLite in the workdir)")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="nas", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    run = commands.add_parser("run", help="train the teacher and search students")
    _add_location(run)
    run.add_argument("--trials", type=int, help=f"complete trials wanted (default "
                     f"{DEFAULT_TRIALS}, {QUICK_TRIALS} with --quick)")
    run.add_argument("--timeout", type=float, help="stop searching after this many seconds")
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
                          "vitis (vendor HLS, Latency strategy)")
    run.add_argument("--calibration", type=Path,
                     help="calibration file from 'nas calibrate' (default: the flow's shipped one)")

    worker = commands.add_parser("worker", help="join an existing study from any machine")
    _add_location(worker)
    worker.add_argument("--trials", type=int, default=1,
                        help="complete trials this worker adds (default 1)")
    worker.add_argument("--index", type=int, default=0,
                        help="worker number: reseeds its sampler (default 0)")

    spaces = commands.add_parser("spaces", help="list the search spaces and parts")
    spaces.add_argument("--show", metavar="NAME",
                        help="print a space (built-in or YAML file) in the YAML form")

    show = commands.add_parser("show", help="print the Pareto front of a study")
    _add_location(show)
    show.add_argument("--json", action="store_true", help="print JSON instead of a table")

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
    export.add_argument("--strategy", default="Latency",
                        choices=("Latency", "distributed_arithmetic"))
    export.add_argument("--force", action="store_true", help="replace a non-empty --out")
    export.add_argument("--build", action="store_true",
                        help="run C and logic synthesis when vendor tools are on PATH")

    calibrate = commands.add_parser("calibrate", help="fit a flow's estimators to synthesis "
                                    "results and write a calibration file")
    calibrate.add_argument("--flow", default="open", choices=("open", "vitis"),
                           help="open: da4ml + yosys on xc7 (default); vitis: vendor HLS")
    calibrate.add_argument("--generate", type=int, metavar="N",
                           help="open flow: sample, train and synthesize N designs (resumable)")
    calibrate.add_argument("--jobs", type=int, default=2, help="parallel processes (default 2)")
    calibrate.add_argument("--timeout", type=float, default=900.0,
                           help="seconds of yosys per design (default 900)")
    calibrate.add_argument("--reports", type=Path, nargs="+", default=[], metavar="DIR",
                           help="vitis flow: hls4ml project directories (or folders above them)")
    calibrate.add_argument("--table", type=Path, nargs="+", default=[], metavar="CSV",
                           help="vitis flow: result tables in the wa-hls4ml-search layout")
    calibrate.add_argument("--workdir", type=Path, default=Path("studies"),
                           help="home of generated designs: <workdir>/calibration/ (default "
                                "studies/)")
    calibrate.add_argument("--out", type=Path,
                           help="calibration file (default <workdir>/calibration/<flow>.json)")
    calibrate.add_argument("--seed", type=int, default=0)

    dashboard = commands.add_parser("dashboard", help="open the study in optuna-dashboard")
    _add_location(dashboard)
    dashboard.add_argument("--port", type=int, default=8080)
    return parser


def cmd_spaces(args) -> int:
    from nas.spaces import PARTS, SPACES, get_space

    if args.show:
        from nas.spaces.schema import to_yaml

        print(to_yaml(get_space(args.show)), end="")
        return 0
    table = Table(title="Spaces")
    for column in ("name", "inputs", "classes", "part", "clock", "description"):
        table.add_column(column)
    for space in SPACES.values():
        table.add_row(space.name, str(space.n_inputs), str(space.n_classes), space.part_name,
                      f"{space.clock_mhz:g} MHz", space.description)
    console.print(table)
    parts = Table(title="Parts")
    for column in ("part", "family", "LUT", "FF", "DSP", "BRAM36"):
        parts.add_column(column)
    for part in PARTS.values():
        parts.add_row(part.name, part.family, f"{part.lut:,}", f"{part.ff:,}", f"{part.dsp:,}",
                      f"{part.bram36:,}")
    console.print(parts)
    return 0


def print_front(study, space, as_json: bool = False) -> None:
    from nas.search.front import front_rows, trial_counts

    rows = front_rows(study, space.n_inputs, space.n_classes)
    if as_json:
        from nas.search.records import results

        print(json.dumps({"space": space.name, "teacher_test_accuracy":
                          study.user_attrs.get("teacher_test_accuracy"),
                          "trials": trial_counts(study), "front": rows,
                          "synthesis": results(study, "synth")}, indent=2))
        return
    counts = trial_counts(study)
    table = Table(title=f"Pareto front of {space.name} ({space.part_name}, {space.clock_mhz:g} MHz;"
                        f" estimates, not synthesized)")
    columns = ("trial", "val acc", "test acc", "LUT", "FF", "DSP", "LUT-eq", "latency",
               "params", "nonzero", "shape", "bits (total.int)", "HLS exact")
    for column in columns:
        table.add_column(column, justify="left" if column in ("shape", "bits (total.int)")
                         else "right")
    for row in rows:
        table.add_row(str(row["trial"]), f"{row['val_accuracy']:.4f}",
                      f"{row['test_accuracy']:.4f}", f"{row['est_lut']:,.0f}",
                      f"{row['est_ff']:,.0f}", f"{row['est_dsp']:.0f}",
                      f"{row['lut_equivalent']:,.0f}", f"{row['latency_cycles']:.0f}",
                      str(row["n_params"]), str(row["nonzero_params"]), row["shape"], row["bits"],
                      "-" if row["hls_exact"] is None else f"{100 * row['hls_exact']:.1f}%")
    console.print(table)
    teacher = study.user_attrs.get("teacher_test_accuracy")
    if teacher is not None:
        console.print(f"teacher test accuracy {teacher:.4f}; trials: " +
                      ", ".join(f"{n} {name}" for name, n in counts.items()))


def cmd_run(args) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from nas.search.settings import RunSettings
    from nas.spaces import get_space

    space = get_space(args.space)
    if args.quick:
        space = space.quick()
    space = space.with_target(args.part, args.clock_mhz)
    trials = args.trials if args.trials is not None else (QUICK_TRIALS if args.quick
                                                          else DEFAULT_TRIALS)
    settings = RunSettings(space=space, trials=trials, seed=args.seed, workdir=args.workdir,
                           storage=args.storage, timeout=args.timeout, quick=args.quick,
                           sampler=args.sampler, flow=args.flow, calibration=args.calibration)
    settings.validate()
    if not 1 <= args.workers <= 64:
        raise UserError(f"--workers {args.workers} is out of range: use 1..64")
    import optuna

    from nas.search.front import trial_counts
    from nas.search.study import create_or_continue, run_search

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = create_or_continue(settings)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[counts]}"), TimeElapsedColumn(), console=console)
    task = progress.add_task("preparing", total=trials, counts="")

    def on_trial(study):
        counts = trial_counts(study)
        progress.update(task, completed=min(counts["complete"], trials),
                        counts=f"rejected {counts['rejected']}, failed {counts['failed']}")

    try:
        with progress:
            if args.workers == 1:
                study = run_search(settings, study,
                                   on_stage=lambda s: progress.update(task, description=s),
                                   on_trial=on_trial)
            else:
                run_workers(args, settings, study, on_stage=lambda s: progress.update(
                    task, description=s), on_trial=on_trial)
            on_trial(study)
    except KeyboardInterrupt:
        err_console.print("interrupted: completed trials are kept; run the same command again "
                          "to continue the study")
        return 130
    failed = trial_counts(study)["failed"]
    if failed:
        console.print(f"{failed} trials failed: their reasons are in the user attribute "
                      f"fail_reason ('nas show --json' counts them)")
    print_front(study, space)
    report = publish_report(study, space, settings.paths)
    console.print(f"report: {report}", highlight=False)
    if args.no_synth:
        console.print("synthesis of the front: skipped (--no-synth)")
    elif args.flow != "open":
        console.print(f"synthesis of the front: skipped (the {args.flow} flow needs vendor tools: "
                      f"'nas export --build' runs them)")
    else:
        synthesize_and_show(study, space, args.space, args.workdir, settings.storage_url,
                            front=True, jobs=2, timeout=600.0)
        report = publish_report(study, space, settings.paths)
    location = f"--workdir {args.workdir}" + (f" --storage '{args.storage}'" if args.storage else "")
    console.print(f"dashboard: nas dashboard --space {space.name} {location}", highlight=False)
    return 0


def run_workers(args, settings, study, on_stage, on_trial) -> None:
    """Prepare data and teacher once, then ``--workers`` processes of ``nas worker`` that share
    the study, each adding its share of the missing complete trials; logs in the study folder."""
    import subprocess
    import time

    from optuna.trial import TrialState

    from nas.search.study import count_trials, fail_dead_trials, prepare

    fail_dead_trials(study)
    prepare(settings, study, on_stage)
    missing = max(settings.trials - count_trials(study, TrialState.COMPLETE), 0)
    shares = [missing // args.workers + (i < missing % args.workers) for i in range(args.workers)]
    on_stage(f"searching ({args.workers} workers)")
    processes = []
    for index, share in enumerate(shares):
        if share == 0:
            continue
        command = [sys.executable, "-m", "nas", "worker", "--space", args.space,
                   "--workdir", str(args.workdir), "--storage", settings.storage_url,
                   "--trials", str(share), "--index", str(index + 1)]
        log = (settings.paths.root / f"worker_{index + 1}.log").open("w")
        processes.append((subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT), log))
    try:
        while any(process.poll() is None for process, _ in processes):
            on_trial(study)
            time.sleep(1.0)
    finally:
        for process, log in processes:
            if process.poll() is None:
                process.terminate()
            process.wait()
            log.close()
    bad = [i + 1 for i, (process, _) in enumerate(processes) if process.returncode != 0]
    if bad:
        raise UserError(f"workers {bad} stopped with errors: see worker_N.log in "
                        f"{settings.paths.root}")


def cmd_worker(args) -> int:
    import optuna

    from nas.search.storage import open_existing
    from nas.search.study import run_search

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if args.trials < 1:
        raise UserError(f"--trials {args.trials} is out of range: use 1 or more")
    study, settings = open_existing(args.space, args.workdir, args.storage)
    before = sum(t.state.name == "COMPLETE" for t in study.get_trials(deepcopy=False))
    run_search(settings, study, quota=args.trials, worker_index=args.index)
    after = sum(t.state.name == "COMPLETE" for t in study.get_trials(deepcopy=False))
    console.print(f"worker {args.index}: study {settings.space.name} has {after} complete trials "
                  f"({after - before} added while this worker ran)")
    return 0


def _open_study(args):
    from nas.search.storage import open_existing

    study, settings = open_existing(args.space, args.workdir, args.storage)
    return study, settings.space, settings.paths, settings.storage_url


def cmd_show(args) -> int:
    from nas.search.records import results

    study, space, _paths, _url = _open_study(args)
    print_front(study, space, as_json=args.json)
    synthesized = sorted(results(study, "synth"))
    if synthesized and not args.json:
        print_synthesis(study, space, synthesized)
    return 0


def publish_report(study, space, paths) -> Path:
    """Write the HTML report in the study folder and attach it to the study as an artifact."""
    import optuna

    from nas.search.report import write_report

    path = write_report(study, space, paths.root / "report.html")
    store = optuna.artifacts.FileSystemArtifactStore(str(paths.artifacts))
    artifact_id = optuna.artifacts.upload_artifact(artifact_store=store, file_path=str(path),
                                                   study_or_trial=study, mimetype="text/html")
    study.set_user_attr("report_artifact_id", artifact_id)
    return path


def cmd_report(args) -> int:
    from nas.search.report import write_report

    study, space, paths, _url = _open_study(args)
    out = args.out or paths.root / "report.html"
    try:
        write_report(study, space, out)
    except OSError as error:
        raise UserError(f"cannot write '{out}' ({error.strerror}): pick another --out") from None
    console.print(f"report: {out}", highlight=False)
    return 0


def synthesize_and_show(study, space, space_arg, workdir, storage_url, front: bool,
                        trials: list[int] | None = None, jobs: int = 2,
                        timeout: float = 600.0, scheduler: str | None = None) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from nas.hls.synth import select_front, synthesize_trials

    numbers = select_front(study) if front else trials
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        console=console)
    with progress:
        task = progress.add_task("open-flow synthesis", total=len(numbers))
        synthesize_trials(study, space_arg, workdir, storage_url, numbers, jobs, timeout,
                          on_done=lambda number, record: progress.advance(task),
                          scheduler=scheduler)
    print_synthesis(study, space, numbers)


def print_synthesis(study, space, numbers: list[int]) -> None:
    from nas.search.front import evidence_lines
    from nas.search.records import results

    records = results(study, "synth")
    table = Table(title=f"Open-flow synthesis ({space.part_name}, {space.clock_mhz:g} MHz; yosys "
                        f"logic synthesis, no place and route): estimate / synthesized (error)")
    for column in ("trial", "status", "LUT", "FF", "CARRY4", "DSP", "latency", "bit-exact"):
        table.add_column(column, justify="right")

    def pair(estimate, value):
        if estimate is None or value in (None, 0):
            return f"{estimate or 0:,.0f} / {value or 0:,.0f}"
        return f"{estimate:,.0f} / {value:,.0f} ({100 * (estimate - value) / value:+.0f}%)"

    for number in numbers:
        record = records.get(number)
        if record is None:
            continue
        estimate = record.get("estimate", {})
        if record.get("lut") is None:
            table.add_row(str(number), record["status"], record.get("reason", "")[:80], "", "", "",
                          "", "")
            continue
        table.add_row(str(number), record["status"], pair(estimate.get("lut"), record["lut"]),
                      pair(estimate.get("ff"), record["ff"]), str(record["carry4"]),
                      str(record["dsp"]), pair(estimate.get("latency_cycles"),
                                               record["latency_cycles"]),
                      f"{100 * record['rtl_exact_fraction']:.1f}% of {record['n_samples']}")
    console.print(table)
    for line in evidence_lines(study):
        console.print(f"estimator ({study.user_attrs.get('estimator', '?')}) {line}",
                      highlight=False)


def cmd_synth(args) -> int:
    study, space, _paths, storage_url = _open_study(args)
    trials = None
    if args.trials:
        try:
            trials = [int(t) for t in args.trials.split(",")]
        except ValueError:
            raise UserError(f"--trials {args.trials}: give trial numbers like 3,7,12") from None
        from nas.hls.api import finished_trial

        for number in trials:
            finished_trial(study, number)
    if not 1 <= args.jobs <= 64 or args.timeout <= 0:
        raise UserError("--jobs must be 1..64 and --timeout positive")
    synthesize_and_show(study, space, args.space, args.workdir, storage_url,
                        front=trials is None, trials=trials, jobs=args.jobs, timeout=args.timeout,
                        scheduler=args.scheduler)
    return 0


def cmd_export(args) -> int:
    from nas.hls.api import VENDOR_TOOLS, export

    result = export(args.space, args.trial, args.out, args.workdir, args.storage, args.backend,
                    args.part, args.clock_mhz, args.strategy, args.force, args.build)
    console.print(f"wrote {result.out}: {result.backend} {result.strategy}, {result.part} at "
                  f"{result.clock_mhz:g} MHz; C simulation equals QKeras on "
                  f"{100 * result.exact_fraction:.2f}% of {result.n_samples} test samples "
                  f"(argmax {100 * result.argmax_fraction:.2f}%); RTL with test vectors in "
                  f"{result.out}/rtl", highlight=False)
    if args.build:
        from nas.hls.api import vendor_tools

        if not vendor_tools():
            console.print(f"vendor flow skipped: none of {', '.join(VENDOR_TOOLS)} is on PATH "
                          f"(the project is written; build it where the tools are)")
    return 0


def cmd_calibrate(args) -> int:
    from nas.search.calibrate import calibrate

    if args.generate is not None and args.generate < 5:
        raise UserError(f"--generate {args.generate} is out of range: use 5 or more designs")
    if not 1 <= args.jobs <= 64 or args.timeout <= 0:
        raise UserError("--jobs must be 1..64 and --timeout positive")
    home = args.workdir / "calibration"
    out = args.out or home / f"{args.flow}.json"
    if out.is_dir():
        raise UserError(f"--out {out} is a directory: give a file name such as {out}/open.json")
    try:
        calibrate(args.flow, out, console, generate=args.generate,
                  folder=home / f"{args.flow}_designs", jobs=args.jobs, timeout=args.timeout,
                  reports=args.reports, tables=args.table, seed=args.seed)
    except KeyboardInterrupt:
        err_console.print("interrupted: the designs synthesized so far are kept; run the same "
                          "command again to continue")
        return 130
    console.print(f"wrote {out}; search with it: nas run --space NAME --flow {args.flow} "
                  f"--calibration {out}", highlight=False)
    return 0


def cmd_dashboard(args) -> int:
    import optuna_dashboard
    from optuna.artifacts import FileSystemArtifactStore

    if not 1 <= args.port <= 65535:
        raise UserError(f"--port {args.port} is out of range: use 1..65535")
    _study, _space, paths, storage_url = _open_study(args)
    console.print(f"optuna-dashboard on http://127.0.0.1:{args.port} (Ctrl-C stops it)")
    optuna_dashboard.run_server(storage_url, host="127.0.0.1", port=args.port,
                                artifact_store=FileSystemArtifactStore(str(paths.artifacts)))
    return 0


COMMANDS = {"run": cmd_run, "worker": cmd_worker, "spaces": cmd_spaces, "show": cmd_show,
            "report": cmd_report, "synth": cmd_synth, "export": cmd_export,
            "calibrate": cmd_calibrate, "dashboard": cmd_dashboard}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except UserError as error:
        err_console.print(f"nas: error: {error}", highlight=False, soft_wrap=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
