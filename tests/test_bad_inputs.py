"""Every command-line option that takes a value, and every key of a YAML space, refuses at
least one bad value with a one-line error naming it (exit code 2, no traceback). The lists are
read from the parser and from a complete space, so an option or key added without a bad case
fails here."""

import argparse
import copy
from pathlib import Path

import pytest
import yaml
from conftest import one_line_error
from test_user_spaces import make_events, write_csv, write_space

from nas.app.cli import build_parser
from nas.errors import NasError
from nas.spaces import get_space
from nas.spaces.schema import space_to_dict

#: Options whose bad values need a study with trained trials: the tests that try them.
COVERED_ELSEWHERE = {
    ("export", "--out"): ("test_hls.py", "test_export_refuses_a_non_empty_output_directory"),
    ("export", "--part"): ("test_hls.py", "test_cli_export_records_the_result_and_refuses_bad_input"),
    ("deploy", "--out"): ("test_deploy.py", "test_cli_deploy_writes_a_checked_ip_and_its_board_files"),
    ("calibrate", "--reports"): ("test_calibration.py", "test_calibrate_bad_input"),
    ("calibrate", "--table"): ("test_calibration.py", "test_calibrate_bad_input"),
    ("calibrate", "--space"): ("test_calibration.py", "test_calibrate_bad_input"),
    ("calibrate", "--rows"): ("test_public_projects.py",
                              "test_calibrate_takes_the_rows_file_in_place_of_the_table_rows"),
}


def _valued_options() -> dict[tuple[str, str], argparse.Action]:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {(name, action.option_strings[-1]): action
            for name, command in commands.choices.items() for action in command._actions
            if action.option_strings and action.nargs != 0}


def _typed_case(action: argparse.Action) -> tuple[str, str] | None:
    """A value that the option's type or choices refuse, and what the error says."""
    if action.choices:
        return ("7" if action.type is int else "no_such_choice"), "invalid choice"
    if action.type in (int, float):
        return "many", f"invalid {action.type.__name__} value: 'many'"
    return None


@pytest.fixture(scope="module")
def places(tmp_path_factory) -> dict[str, str]:
    """A folder holding an empty study of mlp_psd, an empty folder and a plain file."""
    from nas.search.settings import RunSettings
    from nas.search.study import create_or_continue

    root = tmp_path_factory.mktemp("bad_inputs")
    create_or_continue(RunSettings(space=get_space("mlp_psd"), trials=1, workdir=root / "w"))
    (root / "empty").mkdir()
    (root / "a_file").write_text("not a folder")
    return {"study": str(root / "w"), "empty": str(root / "empty"), "file": str(root / "a_file")}


def _semantic_cases(places: dict[str, str]) -> dict[tuple[str, str], tuple[list[str], str]]:
    """Bad values of the options that take any text: the command line and the error."""
    study = ["--space", "mlp_psd", "--workdir", places["study"]]
    file = places["file"]
    cases = {
        ("run", "--part"): (["--space", "mlp_psd", "--part", "xc9vu13p"], "--part 'xc9vu13p' is unknown"),
        ("run", "--calibration"): (["--space", "mlp_psd", "--calibration", f"{file}/c.json"],
                                   "cannot read calibration file"),
        ("spaces", "--show"): (["--show", "no_such_space"], "--space 'no_such_space' is unknown"),
        ("report", "--out"): ([*study, "--out", f"{file}/r.html"], "cannot be written"),
        ("synth", "--trials"): ([*study, "--trials", "3,x"], "--trials 3,x is not a list"),
        ("synth", "--scheduler"): ([*study, "--scheduler", "no address"], "is not an address"),
        ("calibrate", "--from-study"): (["--from-study", places["empty"]], "is not a study folder"),
        ("calibrate", "--workdir"): (["--generate", "6", "--workdir", file], "is not writable"),
        ("calibrate", "--out"): (["--generate", "6", "--out", f"{file}/o.json"], "is not writable"),
        ("estimate", "--project"): (["--project", f"{file}/p"], "is not a directory"),
        ("estimate", "--calibration"): (["--project", places["empty"], "--calibration",
                                         f"{file}/c.json"], "cannot read calibration file"),
    }
    cases[("deploy", "--board")] = ([*study, "--trial", "1", "--board", "pynq-z9", "--out",
                                     f"{file}/p"], "--board 'pynq-z9' is unknown")
    for command in ("run", "worker", "show", "report", "synth", "export", "deploy", "dashboard"):
        extra = {"export": ["--trial", "1", "--out", f"{file}/p"],
                 "deploy": ["--trial", "1", "--board", "pynq-z1", "--out", f"{file}/p"]
                 }.get(command, [])
        cases[(command, "--space")] = (["--space", "no_such_space", *extra],
                                       "--space 'no_such_space' is unknown")
        cases[(command, "--storage")] = (["--space", "mlp_psd", "--storage", "nosuchdb://h/x",
                                          *extra], "--storage 'nosuchdb://h/x' cannot be opened")
        if command in ("run", "worker"):
            cases[(command, "--log-file")] = (["--space", "mlp_psd", "--log-file", f"{file}/x.log"],
                                              "--log-file '" + file + "/x.log' cannot be written")
        missing = "is not writable" if command == "run" else "no study for space 'mlp_psd'"
        cases[(command, "--workdir")] = (["--space", "mlp_psd", "--workdir", file, *extra], missing)
    return cases


def test_every_option_with_a_value_refuses_a_bad_one(places, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a default workdir or output goes here, if one is ever made
    semantic = _semantic_cases(places)
    tried, options = 0, _valued_options()
    for (command, option), action in options.items():
        typed = _typed_case(action)
        if typed:
            argv, expected = [command, option, typed[0]], typed[1]
        elif (command, option) in semantic:
            args, expected = semantic[command, option]
            argv = [command, *args]
        else:
            module, test = COVERED_ELSEWHERE[command, option]  # KeyError: a new, untried option
            assert f"def {test}(" in (Path(__file__).parent / module).read_text()
            continue
        assert expected in one_line_error(argv, capsys), argv
        tried += 1
    assert tried == len(options) - len(COVERED_ELSEWHERE)  # no stale entry there
    assert not list(tmp_path.iterdir())  # nothing written


def _leaves(values: dict, prefix: tuple = ()):
    for key, value in values.items():
        if isinstance(value, dict):
            yield from _leaves(value, (*prefix, key))
        else:
            yield (*prefix, key), value


def _wrong_type(value):
    if isinstance(value, bool | int | float):
        return "many"
    return "a text" if isinstance(value, list) else [1, 2]


def test_every_yaml_key_refuses_a_value_of_the_wrong_type(tmp_path):
    write_csv(tmp_path / "events.csv", *make_events(60))
    complete = space_to_dict(get_space(str(write_space(tmp_path, {"file": "events.csv"}))))
    keys = list(_leaves(complete))
    for path, value in keys:
        values = copy.deepcopy(complete)
        section = values
        for key in path[:-1]:
            section = section[key]
        section[path[-1]] = _wrong_type(value)
        (tmp_path / "bad.yaml").write_text(yaml.safe_dump(values))
        with pytest.raises(NasError) as error:
            get_space(str(tmp_path / "bad.yaml"))
        assert path[-1] in str(error.value) and "\n" not in str(error.value), path
    assert len(keys) >= 35
