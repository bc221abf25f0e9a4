"""Spaces as YAML: the schema a user writes (``nas run --space my_space.yaml``) and the form
``nas spaces --show NAME`` prints, so that a built-in space can be copied and edited.

    name: my_space
    description: what the task is
    data: {file: events.csv, label: label, split: null, n_events: 20000}
    input: {n_inputs: 30, divisor: 16.0, format: uint8, condition: none}
                                     # CNN students: shape: [30, 1] or [8, 8, 1]
    classes: [electromagnetic, muon, multi-particle, saturated]
    teacher: {hidden: [64, 32], epochs: 40, learning_rate: 0.001}
    training: {student_epochs: 30, learned_epochs: 300, screen_epochs: 90, batch_size: 256,
               learning_rate: 0.01, alpha: 0.1, temperature: 2.0}
    student: {max_hidden_layers: 3, width: [4, 64], weight_bits: [2, 12], ...,
              precision: learned, beta: [1.0e-06, 0.0003], alpha: [], temperature: []}
    objectives: [val_accuracy, lut_equivalent]        # or add latency_cycles
    target: {part: xc7a35t, clock_mhz: 200.0, max_latency_cycles: 0, min_accuracy: 0.0}

Every key but ``name``, ``data``, ``input`` and ``classes`` may be left out (defaults as
above). A relative ``data.file`` is read from the YAML file's folder.
"""

import dataclasses
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import yaml

from nas.errors import DataError, InvalidValue
from nas.spaces.sources import cache_tag
from nas.spaces.space import OBJECTIVE_SETS, DataSpec, Space, StudentRanges, TrainingRecipe

#: The teacher's keys, each with a value of its type (hidden: a list of any length).
TEACHER_KEYS = {"hidden": (), "epochs": 0, "learning_rate": 1.0}
TARGET_KEYS = {"part": "", "clock_mhz": 200.0, "max_latency_cycles": 0, "min_accuracy": 0.0}
SECTIONS = ("name", "description", "data", "input", "classes", "teacher", "training",
            "student", "objectives", "target")
REQUIRED = ("name", "data", "input", "classes")


def space_to_dict(space: Space) -> dict[str, Any]:
    recipe = space.recipe
    data = {k: v for k, v in dataclasses.asdict(space.data).items() if v is not None}
    return {
        "name": space.name,
        "description": space.description,
        "data": data,
        "input": {"n_inputs": space.n_inputs, "divisor": space.input_divisor,
                  "format": space.input_format, "condition": space.input_condition,
                  **({"shape": list(space.input_shape)} if space.input_shape else {})},
        "classes": list(space.class_names),
        "teacher": {"hidden": list(recipe.teacher_hidden), "epochs": recipe.teacher_epochs,
                    "learning_rate": recipe.teacher_learning_rate},
        "training": {k: getattr(recipe, k) for k in _training_keys()},
        "student": {k: list(v) if isinstance(v, tuple) else v
                    for k, v in dataclasses.asdict(space.student).items()},
        "objectives": list(space.objectives),
        "target": {"part": space.part_name, "clock_mhz": space.clock_mhz,
                   "max_latency_cycles": space.max_latency_cycles,
                   "min_accuracy": space.min_accuracy},
    }


#: What a space's name says, what its description and accuracy floor (applied when a front is
#: shown) change: nothing a study of it computes.
_NOT_COMPUTED = ("name", "description")


def digest(values: Any) -> str:
    """A short, stable digest of JSON-able ``values``."""
    text = json.dumps(values, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def space_digests(space: Space) -> dict[str, str]:
    """A digest of each section of ``space`` as its YAML holds it (a data file by its content,
    not its path), except what changes nothing a study computes: studies and caches made for
    another version of the space are told apart by these."""
    values = space_to_dict(space)
    if space.data.file:
        values["data"] = {**values["data"], "file": cache_tag(space.data)}
    values["target"] = {k: v for k, v in values["target"].items() if k != "min_accuracy"}
    return {key: digest(value) for key, value in values.items() if key not in _NOT_COMPUTED}


def to_yaml(space: Space) -> str:
    return yaml.safe_dump(space_to_dict(space), sort_keys=False, default_flow_style=None,
                          width=100)


def _training_keys() -> list[str]:
    return [f.name for f in dataclasses.fields(TrainingRecipe) if not f.name.startswith("teacher")]


class _Reader:
    """Reads one YAML file's sections, with errors that name the file and the key."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, key: str, problem: str, fix: str) -> DataError:
        return DataError(f"{self.source}: {key} {problem}: {fix}")

    def section(self, values: dict, key: str, allowed: list[str]) -> dict:
        section = values.get(key, {})
        if not isinstance(section, dict):
            raise self.fail(key, f"is a {type(section).__name__}", "give a mapping of keys")
        unknown = sorted(set(section) - set(allowed))
        if unknown:
            raise self.fail(f"{key}.{unknown[0]}", "is an unknown key",
                            f"use one of {', '.join(allowed)}")
        return section

    def typed(self, key: str, value: Any, default: Any) -> Any:
        """``value`` checked against the type of ``default`` (tuples from YAML lists)."""
        expected = str if default is None else type(default)
        if expected is tuple:
            if not isinstance(value, list) or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
                raise self.fail(key, f"is {value!r}", "give a list of numbers, like [2, 12]")
            if len(default) == 2 and len(value) != 2:
                raise self.fail(key, f"has {len(value)} values", "give [low, high]")
            return tuple(value)
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not isinstance(value, expected) or isinstance(value, bool):
            raise self.fail(key, f"is {value!r} ({type(value).__name__})",
                            f"give a {expected.__name__}")
        return value

    def dataclass_from(self, values: dict, key: str, cls, renames: dict | None = None):
        """Build ``cls`` from section ``key``; ``renames`` maps YAML keys to field names."""
        renames = renames or {}
        defaults = cls()
        fields = {renames.get(f.name, f.name): f.name for f in dataclasses.fields(cls)}
        section = self.section(values, key, list(fields))
        return dataclasses.replace(defaults, **{
            fields[k]: self.typed(f"{key}.{k}", v, getattr(defaults, fields[k]))
            for k, v in section.items()})


def space_from_dict(values: Any, source: str, base_dir: Path) -> Space:
    reader = _Reader(source)
    if not isinstance(values, dict):
        raise DataError(f"{source}: is not a YAML mapping: start from 'nas spaces --show mlp_psd'")
    unknown = sorted(set(values) - set(SECTIONS))
    if unknown:
        raise reader.fail(unknown[0], "is an unknown key", f"use one of {', '.join(SECTIONS)}")
    missing = [key for key in REQUIRED if key not in values]
    if missing:
        raise reader.fail(missing[0], "is missing", "every space needs name, data, input, classes")
    name = reader.typed("name", values["name"], "")
    if not name.replace("_", "").replace("-", "").isalnum():
        raise reader.fail("name", f"'{name}' is not a plain name", "use letters, digits, _ and -")
    data = reader.dataclass_from(values, "data", DataSpec)
    data = dataclasses.replace(data, simulator=data.simulator or None, dataset=data.dataset or None)
    if data.file:
        data = dataclasses.replace(data, file=str((base_dir / data.file).resolve()))
    inputs = reader.section(values, "input", ["n_inputs", "shape", "divisor", "format",
                                              "condition"])
    shape = reader.typed("input.shape", inputs.get("shape", []), ())
    if any(n != int(n) for n in shape):
        raise reader.fail("input.shape", f"is {list(shape)}", "give whole numbers, like [8, 8, 1]")
    shape = tuple(int(n) for n in shape)
    if "n_inputs" not in inputs and not shape:
        raise reader.fail("input.n_inputs", "is missing", "give n_inputs (or the shape of "
                          "image or waveform inputs)")
    n_inputs = reader.typed("input.n_inputs", inputs.get("n_inputs", math.prod(shape)), 0)
    divisor = reader.typed("input.divisor", inputs.get("divisor", 1.0), 1.0)
    port = {key: reader.typed(f"input.{key}", inputs[key], "")
            for key in ("format", "condition") if key in inputs}
    classes = values["classes"]
    if not isinstance(classes, list) or len(classes) < 2:
        raise reader.fail("classes", f"is {classes!r}", "give a list of at least 2 class names")
    teacher = reader.section(values, "teacher", list(TEACHER_KEYS))
    recipe = reader.dataclass_from(values, "training", TrainingRecipe)
    recipe = dataclasses.replace(recipe, **{
        f"teacher_{key}": reader.typed(f"teacher.{key}", teacher[key], TEACHER_KEYS[key])
        for key in TEACHER_KEYS if key in teacher})
    student = reader.dataclass_from(values, "student", StudentRanges)
    objectives = values.get("objectives", list(OBJECTIVE_SETS[0]))
    if not isinstance(objectives, list) or tuple(objectives) not in OBJECTIVE_SETS:
        raise reader.fail("objectives", f"is {objectives!r}", "this version searches "
                          f"{list(OBJECTIVE_SETS[0])} or {list(OBJECTIVE_SETS[1])}")
    target = reader.section(values, "target", list(TARGET_KEYS))
    goals = {key: reader.typed(f"target.{key}", target[key], TARGET_KEYS[key])
             for key in ("max_latency_cycles", "min_accuracy") if key in target}
    where = {key: reader.typed(f"target.{key}", target[key], TARGET_KEYS[key])
             for key in ("part", "clock_mhz") if key in target}
    space = Space(name=name, description=reader.typed("description", values.get("description", ""), ""),
                  n_inputs=n_inputs, class_names=tuple(str(c) for c in classes), data=data,
                  input_divisor=divisor, input_shape=shape, student=student, recipe=recipe,
                  **{f"input_{key}": value for key, value in port.items()},
                  objectives=tuple(objectives), **goals)
    try:
        return space.with_target(where.get("part"), where.get("clock_mhz"))
    except InvalidValue as error:
        keys = {key: f"target.{key}" for key in TARGET_KEYS} | {"input shape": "input.shape",
                                                                 "precision": "student.precision"}
        raise DataError(f"{source}: {error.worded(lambda name: keys.get(name, name))}") from None


def load_space_file(path: Path) -> Space:
    """A user space from its YAML file, validated (``DataError`` naming the file otherwise)."""
    if not path.is_file():
        raise DataError(f"space file '{path}' does not exist: give the path of a YAML space "
                        f"(start from 'nas spaces --show mlp_psd')")
    try:
        values = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        first = str(error).splitlines()[0]
        raise DataError(f"{path}: is not valid YAML ({first}): fix the file") from None
    return space_from_dict(values, str(path), path.parent)
