# ruff: noqa: E402  (the Keras backend is chosen before keras is imported)
"""HGQ2 as the trainer inside another search loop (issue 29, item 6): one process, started
once, that trains the runs a parent search sends it, screened the way the parent screens its
own trials.

Requests are JSON lines on stdin: ``{"argv": [train_hgq2.py arguments], "screen_epochs": N}``
trains the run's first N epochs (its learning-rate and beta schedules span all of its epochs)
and answers ``{"screened": {"val_accuracy": .., "ebops": ..}}``; the next request,
``{"go_on": true|false}``, trains the rest of the run or not; then the run's Pareto front is
scanned and converted as ``train_hgq2.py`` does, answered by ``{"done": {"points": [[val
accuracy, EBOPs], ...], "converted": k, "epochs": e}}``. Answers are the stdout lines that
start with ``ANSWER``; every other line is the training's progress. End of input ends it.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json
import sys

import keras
from train_hgq2 import convert_front, load_data, new_run, parse_args

ANSWER = "@hgq2 "


def _answer(payload: dict) -> None:
    print(ANSWER + json.dumps(payload), flush=True)


def _request() -> dict | None:
    line = sys.stdin.readline()
    return json.loads(line) if line.strip() else None


def run_trial(request: dict, data_files: dict) -> None:
    """One screened run (see the module's docstring); ``data_files`` caches the data read."""
    args = parse_args(request["argv"])
    if args.data not in data_files:
        data_files[args.data] = load_data(args.data)
    data = data_files[args.data]
    keras.backend.clear_session()
    fit, pareto_dir = new_run(args, data)
    screen_epochs = min(request["screen_epochs"], args.epochs)
    logs = fit(0, screen_epochs)
    _answer({"screened": {"val_accuracy": logs["val_accuracy"], "ebops": logs["ebops"]}})
    decision = _request()
    if decision is None:
        return
    epochs = screen_epochs
    if decision["go_on"] and screen_epochs < args.epochs:
        fit(screen_epochs, args.epochs)
        epochs = args.epochs
    points, converted = convert_front(pareto_dir, data, args)
    _answer({"done": {"points": points, "converted": converted, "epochs": epochs}})


def main() -> None:
    data_files: dict = {}
    while (request := _request()) is not None:
        run_trial(request, data_files)


if __name__ == "__main__":
    main()
