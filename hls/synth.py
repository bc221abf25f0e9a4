"""Synthesis of study designs with the open flow, in parallel processes with a timeout each.

Each design runs in its own process (``python -m nas.hls.synth``), started from a thread pool
here or from the workers of a Dask cluster, so that a hung or crashed tool is killed and
recorded without stopping the others; results go into the study as
``synth:trial_<n>`` records (flow, part, clock, tool versions, resources, latency, the
estimate of the same design, bit-exactness, reason of failure) and the design folder
(Verilog, VHDL, yosys log and stats, test vectors) as a study artifact.
"""

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import as_completed as as_completed_local
from pathlib import Path

import optuna

from nas.errors import UserError
from nas.search.records import attach_folder, record_result, results

#: Front designs synthesized by ``nas run`` and ``nas synth --front``: beyond this many, an
#: evenly spaced selection along the LUT axis (each synthesis takes 10-60 s on 2 cores).
MAX_FRONT_DESIGNS = 12
DEFAULT_TIMEOUT_S = 600.0


def select_front(study: optuna.Study, cap: int = MAX_FRONT_DESIGNS) -> list[int]:
    from nas.search.front import pareto_front

    front = sorted(pareto_front(study), key=lambda t: t.values[1])
    if len(front) > cap:
        step = (len(front) - 1) / (cap - 1)
        front = [front[round(k * step)] for k in range(cap)]
    return [t.number for t in front]


def run_design(command: list[str], result_file: str, timeout: float) -> dict:
    """Run one synthesis process (here, or on a Dask worker); its record without estimate."""
    started = time.perf_counter()
    Path(result_file).unlink(missing_ok=True)
    try:
        process = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "reason": f"synthesis took longer than {timeout:g} s",
                "wall_seconds": time.perf_counter() - started}
    if Path(result_file).exists():
        return {**json.loads(Path(result_file).read_text()),
                "wall_seconds": time.perf_counter() - started}
    tail = " ".join(process.stderr.strip().splitlines()[-1:])[:300]
    return {"status": "failed", "reason": f"exit code {process.returncode}: {tail}",
            "wall_seconds": time.perf_counter() - started}


def synthesize_trials(study: optuna.Study, space_arg: str, workdir: Path, storage: str,
                      numbers: list[int], jobs: int = 1, timeout: float = DEFAULT_TIMEOUT_S,
                      on_done=lambda number, record: None,
                      scheduler: str | None = None) -> dict[int, dict]:
    """Synthesize trials ``numbers`` (skipping those already synthesized), ``jobs`` processes at
    a time on this machine, or on the Dask cluster at ``scheduler`` (its workers need this
    workdir at the same path and the storage URL); returns the new records. A failure or a
    timeout is recorded with its reason and stops nothing else."""
    from nas.search.storage import open_existing

    if jobs < 1 or timeout <= 0:
        raise UserError("synthesis needs --jobs >= 1 and --timeout > 0")
    _, settings = open_existing(space_arg, workdir, storage)
    done = results(study, "synth")
    pending = [n for n in numbers if done.get(n, {}).get("status") != "ok"]
    root = (settings.paths.root / "synth").resolve()
    root.mkdir(parents=True, exist_ok=True)
    store = optuna.artifacts.FileSystemArtifactStore(str(settings.paths.artifacts))
    tasks = {n: ([sys.executable, "-m", "nas.hls.synth", "--space", space_arg,
                  "--workdir", str(Path(workdir).resolve()), "--storage", settings.storage_url,
                  "--trial", str(n), "--out", str(root / f"trial_{n}"),
                  "--result", str(root / f"trial_{n}.json")], str(root / f"trial_{n}.json"))
             for n in pending}
    new: dict[int, dict] = {}

    def finish(number: int, record: dict) -> None:
        attrs = study.trials[number].user_attrs
        record["estimate"] = {"lut": attrs.get("est_lut"), "ff": attrs.get("est_ff"),
                              "latency_cycles": attrs.get("est_latency_cycles")}
        design = root / f"trial_{number}"
        if design.exists():
            record["artifact_id"] = attach_folder(study, store, design,
                                                  f"trial_{number}_rtl.tar.gz")
        record_result(study, "synth", number, record)
        new[number] = record
        on_done(number, record)

    if scheduler:
        from dask.distributed import Client, as_completed

        try:
            client = Client(scheduler, timeout=30)
        except OSError as error:
            raise UserError(f"cannot reach the Dask scheduler '{scheduler}' ({error}): give a "
                            f"running scheduler's address with --scheduler") from None
        with client:
            futures = {client.submit(run_design, command, result_file, timeout, pure=False): n
                       for n, (command, result_file) in tasks.items()}
            for future in as_completed(futures):
                finish(futures[future], future.result())
    else:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(run_design, command, result_file, timeout): n
                       for n, (command, result_file) in tasks.items()}
            for future in as_completed_local(futures):
                finish(futures[future], future.result())
    return new


def _synthesize_one(args) -> None:
    """Body of one synthesis process: the trial's student through the open flow."""
    import optuna

    from nas.hls.open_flow import run_open_flow
    from nas.search.data import load_data
    from nas.search.objective import load_student
    from nas.search.storage import open_existing
    from nas.spaces.parts import get_part

    study, settings = open_existing(args.space, Path(args.workdir), args.storage)
    trial = study.trials[args.trial]
    store = optuna.artifacts.FileSystemArtifactStore(str(settings.paths.artifacts))
    model, config = load_student(trial, settings.space, store)
    data = load_data(settings.space, settings.seed, settings.paths)
    space = settings.space
    result = run_open_flow(model, config, data.x_test, space.input_divisor, Path(args.out),
                           get_part(space.part_name).full_name, space.clock_mhz)
    record = {"status": "ok" if result.bit_exact else "not bit-exact", **result.to_dict()}
    if not result.bit_exact:
        record["reason"] = (f"RTL equals QKeras on {100 * result.rtl_exact_fraction:.2f}% of "
                            f"the test set (trace {100 * result.trace_exact_fraction:.2f}%)")
    Path(args.result).write_text(json.dumps(record))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="synthesize one trial (used by nas synth)")
    for name in ("--space", "--workdir", "--storage", "--out", "--result"):
        parser.add_argument(name, required=True)
    parser.add_argument("--trial", type=int, required=True)
    _synthesize_one(parser.parse_args(argv))


if __name__ == "__main__":
    main()
