"""User spaces from YAML files naming CSV/NPZ/HDF5 data: end to end, and every bad input."""

import json

import h5py
import numpy as np
import pytest
import yaml
from conftest import run_nas
from test_cli import assert_user_error

from nas.errors import NasError
from nas.spaces import get_space
from nas.spaces.schema import space_to_dict, to_yaml
from nas.spaces.sources import load_events, read_file
from nas.spaces.space import DataSpec

N_INPUTS, CLASSES = 6, ["low", "mid", "high"]


def make_events(n: int = 300, seed: int = 0):
    """Three classes told apart by the mean of six inputs of 0-255."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = np.clip(rng.normal(40 + 80 * y[:, None], 20, (n, N_INPUTS)), 0, 255).round()
    return x, y


def write_csv(path, x, y, extra_rows: list[str] = (), split=None):
    header = [f"s{i}" for i in range(x.shape[1])] + ["label"] + (["part"] if split is not None else [])
    lines = [",".join(header)]
    for i, (row, label) in enumerate(zip(x, y, strict=True)):
        fields = [f"{v:g}" for v in row] + [str(label)] + ([split[i]] if split is not None else [])
        lines.append(",".join(fields))
    path.write_text("\n".join(lines + list(extra_rows)) + "\n")
    return path


def write_space(folder, data: dict, **changes):
    values = {"name": "user_space", "description": "test space", "data": data,
              "input": {"n_inputs": N_INPUTS, "divisor": 64.0}, "classes": CLASSES,
              "teacher": {"hidden": [16], "epochs": 5},
              "training": {"student_epochs": 3, "batch_size": 64},
              "student": {"width": [4, 16], "max_hidden_layers": 2}, **changes}
    path = folder / "space.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


@pytest.mark.slow
def test_user_csv_space_runs_two_trials_end_to_end(tmp_path):
    x, y = make_events()
    write_csv(tmp_path / "events.csv", x, y)
    space_file = write_space(tmp_path, {"file": "events.csv"})
    workdir = tmp_path / "studies"
    result = run_nas("run", "--space", str(space_file), "--trials", "2", "--workdir", str(workdir))
    assert result.returncode == 0, result.stderr
    shown = run_nas("show", "--space", str(space_file), "--workdir", str(workdir), "--json")
    report = json.loads(shown.stdout)
    assert report["space"] == "user_space" and report["trials"]["complete"] == 2
    # nas run ends with open-flow synthesis of the front: every design bit-exact in RTL.
    assert report["synthesis"] and all(r["status"] == "ok" and r["rtl_exact_fraction"] == 1.0
                                       for r in report["synthesis"].values())
    assert (workdir / "user_space" / "study.db").exists()


def test_fixed_split_npz_and_hdf5_are_read(tmp_path):
    x, y = make_events(120)
    split = np.array(["train"] * 80 + ["val"] * 20 + ["test"] * 20)
    np.savez(tmp_path / "d.npz", x=x, label=y, part=split)
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["x"], f["label"] = x, y
    spec = DataSpec(file=str(tmp_path / "d.npz"), split="part")
    events = read_file(spec, N_INPUTS, 3)
    assert events.split.tolist() == [0] * 80 + [1] * 20 + [2] * 20
    h5 = read_file(DataSpec(file=str(tmp_path / "d.h5")), N_INPUTS, 3)
    assert np.array_equal(h5.x, x.astype(np.float32)) and np.array_equal(h5.y, y)


def test_builtin_space_round_trips_through_yaml(tmp_path):
    for name in ("mlp_psd", "mlp_gn", "digits"):
        path = tmp_path / f"{name}.yaml"
        path.write_text(to_yaml(get_space(name)))
        assert get_space(str(path)) == get_space(name)
    shown = run_nas("spaces", "--show", "mlp_psd")
    assert shown.returncode == 0 and yaml.safe_load(shown.stdout) == space_to_dict(get_space("mlp_psd"))


def _data_case(tmp_path, case: str) -> DataSpec:
    """A broken data file for each case; returns the spec that points at it."""
    x, y = make_events(60)
    csv = tmp_path / "bad.csv"
    if case == "missing":
        return DataSpec(file=str(tmp_path / "absent.csv"))
    if case == "suffix":
        (tmp_path / "bad.txt").write_text("a,b\n")
        return DataSpec(file=str(tmp_path / "bad.txt"))
    if case == "binary":
        csv.write_bytes(b"\xff\xfe\x00garbage\x81")
    elif case == "empty":
        csv.write_text("s0,s1,label\n")
    elif case == "no_label":
        write_csv(csv, x, y)
        return DataSpec(file=str(csv), label="class")
    elif case == "ragged":
        write_csv(csv, x, y, extra_rows=["1,2,3"])
    elif case == "not_number":
        write_csv(csv, x, y, extra_rows=["1,2,3,4,5,six,0"])
    elif case == "shape":
        write_csv(csv, x[:, :4], y)
    elif case == "nan":
        x[5, 2] = np.nan
        write_csv(csv, x, y)
    elif case == "inf":
        x[7, 0] = np.inf
        write_csv(csv, x, y)
    elif case == "label_range":
        y[3] = 7
        write_csv(csv, x, y)
    elif case == "label_fraction":
        write_csv(csv, x, y, extra_rows=["1,2,3,4,5,6,1.5"])
    elif case == "missing_class":
        write_csv(csv, x[y != 2], y[y != 2])
    elif case == "few":
        keep = (y != 1) | (np.cumsum(y == 1) <= 3)
        write_csv(csv, x[keep], y[keep])
    elif case == "split_value":
        write_csv(csv, x, y, split=["train"] * 59 + ["later"])
        return DataSpec(file=str(csv), split="part")
    elif case == "npz_array":
        np.savez(tmp_path / "bad.npz", inputs=x, label=y)
        return DataSpec(file=str(tmp_path / "bad.npz"))
    elif case == "npz_garbage":
        (tmp_path / "bad.npz").write_bytes(b"PK not really a zip")
        return DataSpec(file=str(tmp_path / "bad.npz"))
    elif case == "h5_labels":
        with h5py.File(tmp_path / "bad.h5", "w") as f:
            f["x"], f["label"] = x, y[:-5]
        return DataSpec(file=str(tmp_path / "bad.h5"))
    return DataSpec(file=str(csv))


DATA_CASES = {
    "missing": "does not exist", "suffix": "unknown type '.txt'", "binary": "cannot be read",
    "empty": "has no data rows", "no_label": "no label column 'class'",
    "ragged": "line 62 has 3 fields", "not_number": "not a number",
    "shape": "inputs have shape (60, 4)", "nan": "event 5 has a NaN or infinite input",
    "inf": "event 7 has a NaN or infinite input", "label_range": "labels must be integers 0..2",
    "label_fraction": "labels must be integers 0..2", "missing_class": "class 2 has no events",
    "few": "class 1 has only 3 events", "split_value": "split value 'later' is not train/val/test",
    "npz_array": "has no array 'x'", "npz_garbage": "cannot be read",
    "h5_labels": "55 labels for 60 events",
}


@pytest.mark.parametrize("case", sorted(DATA_CASES))
def test_bad_data_file_is_a_one_line_user_error(tmp_path, case):
    spec = _data_case(tmp_path, case)
    with pytest.raises(NasError) as raised:
        read_file(spec, N_INPUTS, 3)
    message = str(raised.value)
    assert DATA_CASES[case] in message and "\n" not in message
    assert message.startswith(f"data file '{spec.file}'")


@pytest.mark.parametrize("case", ["nan", "missing", "few"])
def test_bad_data_file_from_the_cli_writes_nothing(tmp_path, case):
    spec = _data_case(tmp_path, case)
    space_file = write_space(tmp_path, {"file": spec.file})
    workdir = tmp_path / "studies"
    result = run_nas("run", "--space", str(space_file), "--workdir", str(workdir))
    assert_user_error(result, DATA_CASES[case])
    assert not workdir.exists()


YAML_CASES = {
    "unknown_key": ({"colour": "red"}, "colour is an unknown key"),
    "unknown_nested": ({"student": {"widths": [4, 8]}}, "student.widths is an unknown key"),
    "wrong_type": ({"input": {"n_inputs": "six", "divisor": 64.0}}, "input.n_inputs is 'six' (str)"),
    "range_list": ({"student": {"weight_bits": 8}}, "student.weight_bits is 8"),
    "bits_range": ({"student": {"weight_bits": [1, 30]}}, "range weight_bits [1, 30] is out of range"),
    "missing_section": ({"classes": None}, "classes is"),
    "objectives": ({"objectives": ["val_accuracy"]}, "this version searches"),
    "part": ({"target": {"part": "xc2064"}}, "target.part 'xc2064' is unknown"),
    "two_sources": ({"data_extra": {"simulator": "wcd_pulses"}}, "exactly one of"),
}


@pytest.mark.parametrize("case", sorted(YAML_CASES))
def test_bad_yaml_space_is_a_one_line_user_error(tmp_path, case):
    changes, message = dict(YAML_CASES[case][0]), YAML_CASES[case][1]
    x, y = make_events(60)
    write_csv(tmp_path / "events.csv", x, y)
    data = {"file": "events.csv", **changes.pop("data_extra", {})}
    path = write_space(tmp_path, data, **changes)
    with pytest.raises(NasError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")):
        get_space(str(path))


def test_invalid_yaml_syntax_and_missing_space_file(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    with pytest.raises(NasError, match="is not valid YAML"):
        get_space(str(broken))
    with pytest.raises(NasError, match="does not exist"):
        get_space(str(tmp_path / "absent.yaml"))


def test_file_space_is_shuffled_by_seed_and_capped(tmp_path):
    x, y = make_events(200)
    write_csv(tmp_path / "events.csv", x, y)
    space = get_space(str(write_space(tmp_path, {"file": "events.csv", "n_events": 150})))
    first, again, other = (load_events(space, s) for s in (1, 1, 2))
    assert len(first.y) == 150 and np.array_equal(first.x, again.x)
    assert not np.array_equal(first.x, other.x)
