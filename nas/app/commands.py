"""The ``nas`` commands. Each turns its arguments into objects once (the space, the study and
its settings) and hands them to the library; the modules that import TensorFlow are imported
inside the commands that train or trace, so that listing spaces or a mistyped option answers
at once."""

import argparse
import json
import re
from dataclasses import replace
from pathlib import Path

import optuna
from rich.progress import TextColumn

from nas import stop
from nas.app.api import DEFAULT_TRIALS as DEFAULT_TRIALS  # the CLI's help and benchmarks read them
from nas.app.api import QUICK_TRIALS as QUICK_TRIALS
from nas.app.api import open_study, run_settings
from nas.app.dashboard import serve
from nas.app.render import (
    console,
    err_console,
    print_front,
    print_spaces,
    print_synthesis,
    progress_bar,
)
from nas.errors import InvalidValue, NasError
from nas.model.workdir import check_writable
from nas.search.front import Limits, accuracy_floor, trial_counts
from nas.search.records import artifact_store, results
from nas.search.settings import RunSettings
from nas.search.storage import open_existing, shown_url
from nas.spaces import PARTS, SPACES, get_space
from nas.spaces.schema import to_yaml


def _in_range(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise InvalidValue(name, value, f"use {low:g}..{high:g}")


def _open_study(args: argparse.Namespace) -> tuple[optuna.Study, RunSettings]:
    return open_existing(get_space(args.space), args.workdir, args.storage)


def cmd_spaces(args: argparse.Namespace) -> int:
    if args.show:
        print(to_yaml(get_space(args.show)), end="")
        return 0
    print_spaces(SPACES.values(), PARTS.values())
    return 0


def _run_settings(args: argparse.Namespace) -> RunSettings:
    settings = run_settings(get_space(args.space), args.trials, quick=args.quick,
                            workdir=args.workdir, storage=args.storage, seed=args.seed,
                            timeout=args.timeout, memory_limit=args.memory_limit,
                            sampler=args.sampler, flow=args.flow, calibration=args.calibration,
                            precision=args.precision, objectives=args.objectives,
                            part=args.part, clock_mhz=args.clock_mhz,
                            max_latency_cycles=args.max_latency_cycles, device=args.device)
    _in_range("workers", args.workers, 1, 64)
    return settings


def cmd_run(args: argparse.Namespace) -> int:
    from nas.app.report import publish_report
    from nas.app.workers import run_workers
    from nas.search.study import create_or_continue, run_search

    settings = _run_settings(args)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = create_or_continue(settings)
    progress = progress_bar(TextColumn("{task.fields[counts]}"))
    task = progress.add_task("preparing", total=settings.trials, counts="")

    def on_stage(stage: str) -> None:
        progress.update(task, description=stage)

    def on_trial(study: optuna.Study) -> None:
        counts = trial_counts(study)
        progress.update(task, completed=min(counts["complete"], settings.trials),
                        counts=f"rejected {counts['rejected']}, failed {counts['failed']}")

    try:
        with progress:
            if args.workers == 1:
                run_search(settings, study, on_stage=on_stage, on_trial=on_trial)
            else:
                run_workers(settings, args.space, args.workers, study, on_stage, on_trial)
            on_trial(study)
    except KeyboardInterrupt:
        err_console.print("interrupted: completed trials are kept; run the same command again "
                          "to continue the study")
        return stop.STOPPED
    failed = trial_counts(study)["failed"]
    if failed:
        console.print(f"{failed} trials failed: their reasons are in the user attribute "
                      f"fail_reason ('nas show --json' counts them)")
    space = settings.space
    print_front(study, space, Limits(min_accuracy=accuracy_floor(study, space)))
    console.print(f"report: {publish_report(study, space, settings.paths)}", highlight=False)
    if args.no_synth:
        console.print("synthesis of the front: skipped (--no-synth)")
    elif args.flow != "open":
        console.print(f"synthesis of the front: skipped (the {args.flow} flow needs vendor tools: "
                      f"'nas export --build' runs them)")
    else:
        synthesize_and_show(study, settings, front=True)
        publish_report(study, space, settings.paths)
    location = f"--workdir {args.workdir}" + (f" --storage '{shown_url(args.storage)}'"
                                              if args.storage else "")
    console.print(f"dashboard: nas dashboard --space {args.space} {location}", highlight=False)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from nas.search.study import run_search

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    _in_range("trials", args.trials, 1, float("inf"))
    study, settings = _open_study(args)
    settings = replace(settings, sampler=args.sampler, timeout=args.timeout,
                       memory_limit=args.memory_limit, device=args.device)
    settings.validate()
    before = trial_counts(study)["complete"]
    run_search(settings, study, quota=args.trials, worker_index=args.index)
    after = trial_counts(study)["complete"]
    console.print(f"worker {args.index}: study {settings.space.name} has {after} complete trials "
                  f"({after - before} added while this worker ran)")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    study, settings = _open_study(args)
    floor = accuracy_floor(study, settings.space) if args.min_accuracy is None else args.min_accuracy
    _in_range("min_accuracy", floor, 0.0, 1.0)
    limits = Limits(floor, args.max_lut, args.max_latency_cycles)
    print_front(study, settings.space, limits, as_json=args.json)
    synthesized = sorted(results(study, "synth"))
    if synthesized and not args.json:
        print_synthesis(study, settings.space, synthesized)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    study = open_study(args.space, args.workdir, args.storage)
    out = args.out or study.settings.paths.root / "report.html"
    try:
        study.report(out)
    except OSError as error:
        raise InvalidValue("out", f"'{out}'", "pick another file",
                           problem=f"cannot be written ({error.strerror})") from None
    console.print(f"report: {out}", highlight=False)
    return 0


def synthesize_and_show(study: optuna.Study, settings: RunSettings, front: bool,
                        trials: list[int] | None = None, jobs: int = 2, timeout: float = 600.0,
                        scheduler: str | None = None) -> None:
    from nas.app.synth import select_front, synthesize_trials

    numbers = select_front(study, settings.space) if front else trials
    if not numbers:
        console.print("synthesis: no design of the useful front to synthesize")
        return
    progress = progress_bar(elapsed=False)
    with progress:
        task = progress.add_task("open-flow synthesis", total=len(numbers))
        synthesize_trials(study, settings, numbers, jobs, timeout,
                          on_done=lambda number, record: progress.advance(task),
                          scheduler=scheduler)
    print_synthesis(study, settings.space, numbers)


def _trial_numbers(text: str) -> list[int]:
    try:
        return [int(t) for t in text.split(",")]
    except ValueError:
        raise InvalidValue("trials", text, "give trial numbers like 3,7,12",
                           problem="is not a list of numbers") from None


def cmd_synth(args: argparse.Namespace) -> int:
    from nas.app.export import finished_trial

    _in_range("jobs", args.jobs, 1, 64)
    if args.timeout <= 0:
        raise InvalidValue("timeout", args.timeout, "use seconds > 0")
    if args.scheduler and not re.fullmatch(r"([a-z]+://)?[^\s/:]+:\d+", args.scheduler):
        raise InvalidValue("scheduler", f"'{args.scheduler}'", "give a Dask scheduler's address "
                           "like tcp://host:8786", problem="is not an address")
    study, settings = _open_study(args)
    trials = _trial_numbers(args.trials) if args.trials else None
    for number in trials or []:
        finished_trial(study, number)
    synthesize_and_show(study, settings, front=trials is None, trials=trials, jobs=args.jobs,
                        timeout=args.timeout, scheduler=args.scheduler)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from nas.app.export import VENDOR_TOOLS, vendor_tools

    study = open_study(args.space, args.workdir, args.storage)
    result = study.export(args.trial, args.out, backend=args.backend, part=args.part,
                          clock_mhz=args.clock_mhz, strategy=args.strategy, force=args.force,
                          build=args.build, io_type=args.io_type)
    console.print(f"wrote {result.out}: {result.backend} {result.strategy} {result.io_type}, "
                  f"{result.part} at "
                  f"{result.clock_mhz:g} MHz; C simulation equals QKeras on "
                  f"{100 * result.exact_fraction:.2f}% of {result.n_samples} test samples "
                  f"(argmax {100 * result.argmax_fraction:.2f}%); RTL with test vectors in "
                  f"{result.out}/rtl", highlight=False)
    if args.build and not vendor_tools():
        console.print(f"vendor flow skipped: none of {', '.join(VENDOR_TOOLS)} is on PATH "
                      f"(the project is written; build it where the tools are)")
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    from nas.app.deploy import deploy_trial

    study, settings = _open_study(args)
    result = deploy_trial(study, settings, args.trial, args.board, args.out, args.mode,
                          args.force, args.cost, args.argmax)
    stream = result.record["stream"]
    full, stalled = stream["full_rate"], stream["backpressure"]
    console.print(f"wrote {result.out} for {result.board} ({result.part}, "
                  f"{result.clock_mhz:g} MHz): the AXI-Stream IP equals the QKeras student on "
                  f"all {full['events']} test events, ready ({full['events_per_cycle']:.2f} "
                  f"events/cycle, latency {full['latency_max']} cycles, "
                  f"+{stream['added_latency']} for the wrapper) and under random gaps and "
                  f"backpressure ({stalled['events_per_cycle']:.2f} events/cycle); run "
                  f"build.sh where Vivado is", highlight=False)
    if result.record["cost"]:
        console.print(f"wrapper cost (yosys): {result.record['cost']['wrapper']}", highlight=False)
    return 0


def _check_calibrate_sources(args: argparse.Namespace) -> None:
    """The open flow generates its designs or reads studies' synthesized ones; the vitis flow
    reads reports and tables."""
    if args.flow == "open":
        if args.reports or args.table or args.rows or args.mix_families:
            raise NasError("--reports, --table, --rows and --mix-families calibrate the vendor "
                           "flow: add --flow vitis")
        if args.generate is None and not args.from_study:
            raise NasError("the open flow is calibrated on generated designs or on the designs "
                           "studies synthesized: give --generate N or --from-study DIR")
        if args.generate is not None:
            _in_range("generate", args.generate, 5, float("inf"))
        if args.space is not None and args.generate is None:
            raise NasError("--space chooses the students --generate samples: add --generate N")
    else:
        if args.generate is not None or args.from_study or args.space is not None:
            raise NasError("--generate, --space and --from-study calibrate the open flow: use --flow "
                           "open, or give --reports/--table for the vitis flow")
        if not (args.reports or args.table):
            raise NasError("the vitis flow is calibrated from hls4ml projects or result tables: "
                           "give --reports DIR or --table CSV")


def _study_in(folder: Path) -> tuple[optuna.Study, RunSettings]:
    """The study in a study folder ``<workdir>/<space>`` of a built-in space."""
    if folder.name not in SPACES:
        raise InvalidValue("from_study", f"'{folder}'", f"give a study folder <workdir>/<space> "
                           f"of a built-in space ({', '.join(SPACES)})",
                           problem="is not a study folder")
    return open_existing(get_space(folder.name), folder.parent, None)


def cmd_calibrate(args: argparse.Namespace) -> int:
    from nas.app.calibrate import GeneratedDesigns, calibrate

    _check_calibrate_sources(args)
    _in_range("jobs", args.jobs, 1, 64)
    if args.timeout <= 0:
        raise InvalidValue("timeout", args.timeout, "use seconds > 0")
    home = args.workdir / "calibration"
    check_writable(home, "workdir", args.workdir)
    out = args.out or home / f"{args.flow}.json"
    if out.is_dir():
        raise InvalidValue("out", out, f"give a file name such as {out}/open.json",
                           problem="is a directory")
    check_writable(out.parent, "out", out)
    studies = [_study_in(folder) for folder in args.from_study]
    spaces = [get_space(name) for name in dict.fromkeys(args.space or ["mlp_psd"])]
    # mlp_psd's designs keep the folder they had before other spaces could be sampled.
    generated = [GeneratedDesigns(
        home / f"{args.flow}_designs{'' if s.name == 'mlp_psd' else '_' + s.name}", s,
        args.generate) for s in spaces] if args.generate else []
    try:
        calibrate(args.flow, out, console, generated=generated,
                  jobs=args.jobs, timeout=args.timeout, reports=args.reports, tables=args.table,
                  row_files=args.rows, seed=args.seed, studies=studies,
                  mix_families=args.mix_families)
    except KeyboardInterrupt:
        err_console.print("interrupted: the designs synthesized so far are kept; run the same "
                          "command again to continue")
        return stop.STOPPED
    console.print(f"wrote {out}; search with it: nas run --space NAME --flow {args.flow} "
                  f"--calibration {out}", highlight=False)
    return 0


def cmd_estimate(args: argparse.Namespace) -> int:
    from nas.app.estimate import estimate_projects, print_estimates
    from nas.estimators.calibration import load_calibration

    calibration = load_calibration(args.flow, args.calibration)
    entries = estimate_projects(args.project, calibration)
    if args.json:  # one project: its object; a folder above projects: a list
        one = (args.project / "hls4ml_config.yml").is_file()
        print(json.dumps(entries[0] if one else entries, indent=1))
    else:
        print_estimates(entries, calibration)
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    import optuna_dashboard

    _in_range("port", args.port, 1, 65535)
    _study, settings = _open_study(args)
    app = optuna_dashboard.wsgi(settings.storage_url, artifact_store=artifact_store(settings.paths))
    console.print(f"optuna-dashboard on http://127.0.0.1:{args.port} (Ctrl-C stops it)")
    serve(app, args.port)
    return 0


COMMANDS = {"run": cmd_run, "worker": cmd_worker, "spaces": cmd_spaces, "show": cmd_show,
            "report": cmd_report, "synth": cmd_synth, "export": cmd_export,
            "deploy": cmd_deploy,
            "calibrate": cmd_calibrate, "estimate": cmd_estimate, "dashboard": cmd_dashboard}
