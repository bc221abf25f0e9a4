"""One design through the open flow in a process of its own, so that a tool that hangs or
crashes is killed (with every process it started) and recorded without stopping the others.

The caller writes a ``SynthesisJob`` (JSON) holding everything the design needs: its
configuration, the path of its weights file and of the test inputs, the target part and clock,
and where the design folder and the result go. ``run_process`` runs ``python -m nas.hls.job
JOB.json`` with the interpreter of the machine it runs on, with a timeout (locally or on a
Dask worker), and returns the record the job wrote.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from nas.model.config import StudentConfig
from nas.model.weights import load_weights


@dataclass(frozen=True)
class SynthesisJob:
    config: dict
    n_inputs: int
    n_classes: int
    weights: str
    x_test: str
    divisor: float
    part: str
    clock_mhz: float
    out: str
    result: str

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, path: Path) -> "SynthesisJob":
        return cls(**json.loads(Path(path).read_text()))


#: Process groups of the jobs running in this process's threads, so that an interrupted
#: caller can end them (they run in sessions of their own, out of reach of its signals).
_running: set[int] = set()
_lock = threading.Lock()


def kill_running() -> None:
    """Kill every job this process started that is still running, with its tools."""
    with _lock:
        for group in _running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)


def arguments(job_file: Path) -> list[str]:
    """The interpreter's arguments that run the job saved in ``job_file``."""
    return ["-m", "nas.hls.job", str(job_file)]


def run_process(job_arguments: list[str], result_file: str, timeout: float) -> dict:
    """Run one job process with this machine's interpreter (here, or on a Dask worker, whose
    Python may live elsewhere); its record. On timeout the whole process group is killed:
    Verilator and yosys children included."""
    started = time.perf_counter()
    Path(result_file).unlink(missing_ok=True)
    process = subprocess.Popen([sys.executable, *job_arguments], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    with _lock:
        _running.add(process.pid)
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return {"status": "timeout", "reason": f"synthesis took longer than {timeout:g} s",
                "wall_seconds": time.perf_counter() - started}
    finally:
        with _lock:
            _running.discard(process.pid)
    if Path(result_file).exists():
        return {**json.loads(Path(result_file).read_text()),
                "wall_seconds": time.perf_counter() - started}
    tail = " ".join(stderr.strip().splitlines()[-1:])[:300]
    return {"status": "failed", "reason": f"exit code {process.returncode}: {tail}",
            "wall_seconds": time.perf_counter() - started}


def run_job(job: SynthesisJob) -> dict:
    """Rebuild the student, run the open flow on it, write and return the record."""
    from nas.hls.open_flow import run_open_flow  # TensorFlow and da4ml: only in the job process
    from nas.model.student import build_student

    config = StudentConfig.from_dict(job.config)
    model = build_student(config, job.n_inputs, job.n_classes)
    load_weights(model, Path(job.weights))
    result = run_open_flow(model, config, np.load(job.x_test), job.divisor, Path(job.out),
                           job.part, job.clock_mhz)
    record = {"status": "ok" if result.bit_exact else "not bit-exact", **result.to_dict()}
    if not result.bit_exact:
        vhdl = result.vhdl_exact_fraction
        record["reason"] = (f"RTL equals QKeras on {100 * result.rtl_exact_fraction:.2f}% of "
                            f"the test set (trace {100 * result.trace_exact_fraction:.2f}%"
                            f"{'' if vhdl is None else f', VHDL {100 * vhdl:.2f}%'})")
    Path(job.result).write_text(json.dumps(record))
    return record


if __name__ == "__main__":
    run_job(SynthesisJob.load(Path(sys.argv[1])))
