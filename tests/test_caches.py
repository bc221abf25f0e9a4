"""Caches and study identities follow everything they depend on: every field of a YAML space,
edited, gives a new data cache, teacher cache or study identity wherever it can change them."""

import copy
import dataclasses

import pytest

from nas.errors import NasError, StudyError
from nas.model.data import data_tag
from nas.model.teacher import teacher_tag
from nas.search.settings import RunSettings
from nas.search.study import create_or_continue
from nas.spaces import get_space
from nas.spaces.schema import space_from_dict, space_to_dict

#: Sections whose edits change the data (and so the teacher); edits of these training keys
#: change the teacher too.
DATA_SECTIONS = ("data", "input", "classes")
TEACHER_TRAINING = ("batch_size", "min_steps")
#: What changes nothing a study computes (the accuracy floor is applied when a front is shown).
NOT_COMPUTED = (("name",), ("description",), ("target", "min_accuracy"))


def _leaves(values, path=()):
    if isinstance(values, dict):
        for key, value in values.items():
            yield from _leaves(value, (*path, key))
    else:
        yield path, values


def _edited(value):
    """Another valid-looking value of the same kind."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value * 1.5 if value else 0.5
    if isinstance(value, list):
        return [_edited(value[0]), *value[1:]] if value else [0.1, 0.2]
    return {"uint8": "uint10", "none": "standardize", "learned": "searched", "mlp": "cnn",
            "xc7a35t": "xc7a100t", "xc7z020": "xc7a35t", "wcd_pulses": "clyc_pulses"}.get(value, f"{value}x")


def _edits(name: str):
    """(path, edited space) for every leaf of ``name``'s YAML form that still parses."""
    base = space_to_dict(get_space(name))
    for path, value in _leaves(base):
        values = copy.deepcopy(base)
        section = values
        for key in path[:-1]:
            section = section[key]
        section[path[-1]] = _edited(value)
        try:
            yield path, space_from_dict(values, "edited", ".")
        except NasError:
            continue


@pytest.mark.parametrize("name", ["mlp_psd", "cnn_digits"])
def test_every_edited_field_gives_new_caches_and_a_new_study_identity(name, tmp_path):
    space = get_space(name)
    before = RunSettings(space=space, trials=1).identity()
    edits = list(_edits(name))
    assert len(edits) >= 35  # the property is checked on most fields, not a handful
    for path, edited in edits:
        identity = RunSettings(space=edited, trials=1).identity()
        assert (identity == before) == (path in NOT_COMPUTED), path
        if path[0] in DATA_SECTIONS:
            assert data_tag(edited) != data_tag(space), path
        if path[0] in DATA_SECTIONS or path[0] == "teacher" or path[-1] in TEACHER_TRAINING:
            assert teacher_tag(edited) != teacher_tag(space), path
        else:
            assert teacher_tag(edited) == teacher_tag(space), path  # reused where it may be


def test_a_data_file_edited_in_place_gives_new_caches(tmp_path):
    data = tmp_path / "events.csv"
    data.write_text("a,b,label\n1,2,0\n3,4,1\n")
    values = {"name": "mine", "data": {"file": "events.csv"}, "input": {"n_inputs": 2},
              "classes": ["x", "y"]}
    space = space_from_dict(values, "mine.yaml", tmp_path)
    before = (data_tag(space), teacher_tag(space), RunSettings(space=space, trials=1).identity())
    data.write_text("a,b,label\n1,2,0\n3,5,1\n")
    after = (data_tag(space), teacher_tag(space), RunSettings(space=space, trials=1).identity())
    assert all(old != new for old, new in zip(before, after, strict=True))


def test_a_changed_space_under_its_old_name_is_refused_in_one_line(tmp_path):
    space = get_space("mlp_psd")
    create_or_continue(RunSettings(space=space, trials=1, workdir=tmp_path))
    wider = dataclasses.replace(space, student=dataclasses.replace(space.student, width=(4, 96)))
    with pytest.raises(StudyError, match=r"not the one the study .* \(student changed\): restore"):
        create_or_continue(RunSettings(space=wider, trials=1, workdir=tmp_path))
    create_or_continue(RunSettings(space=space, trials=1, workdir=tmp_path))  # the same: continues
