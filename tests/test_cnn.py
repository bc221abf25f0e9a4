"""CNN students: Conv1D on the pulses, Conv2D on the digits, through quantized training, the da4ml
trace, Verilator and yosys, the hls4ml C simulation, a study, and YAML spaces of shaped inputs."""

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import one_line_error

from nas._tf import set_seed
from nas.estimators.design import expected_design, trained_design
from nas.hls.export import write_project
from nas.hls.open_flow import run_open_flow, trace_student
from nas.model.config import (
    ConvLayer,
    StudentConfig,
    io_type_for,
    quantized_kernels,
    weight_mantissas,
)
from nas.model.data import prepared, split
from nas.model.student import train_student
from nas.search.front import shape_text
from nas.spaces import get_part, get_space
from nas.spaces.schema import load_space_file
from nas.spaces.sources import load_events

CONV1D = StudentConfig(widths=(8,), weight_bits=(4, 5, 5), weight_int_bits=(1, 0, 1),
                       act_bits=(5, 6), act_int_bits=(2, 2), input_bits=6, input_int_bits=4,
                       sparsity=0.5, convs=(ConvLayer(4, 5, 3, pool=3),), input_shape=(30, 1))
#: Small, so that its RTL compiles and synthesizes in a minute: 16 positions of 3 filters of
#: 2x2 windows, max-pooled to 2x2 (12 and 120 weights: 25 % of each is a whole number).
CONV2D = StudentConfig(widths=(), weight_bits=(5, 5), weight_int_bits=(1, 1), act_bits=(5,),
                       act_int_bits=(2,), input_bits=4, input_int_bits=1, sparsity=0.25,
                       convs=(ConvLayer(3, 2, 2, pool=2),), input_shape=(8, 8, 1))
TWO_CONVS = StudentConfig(widths=(), weight_bits=(5, 4, 5), weight_int_bits=(1, 0, 1),
                          act_bits=(5, 5), act_int_bits=(2, 2), input_bits=4, input_int_bits=1,
                          sparsity=0.3, convs=(ConvLayer(4, 3, 1, pool=2), ConvLayer(4, 3, 2)),
                          input_shape=(8, 8, 1))


def _trained(space_name: str, config: StudentConfig, n_events: int, epochs: int):
    """``config`` trained on labels only (a one-hot teacher), and the test split."""
    space = get_space(space_name)
    space = dataclasses.replace(space, data=dataclasses.replace(space.data, n_events=n_events))
    data = prepared(space, split(load_events(space, 3), space.input_divisor))
    config = dataclasses.replace(config, inputs=data.stage)
    set_seed(3)
    teacher = np.eye(space.n_classes, dtype=np.float32)[data.y_train] * 3
    model, losses = train_student(config, data.x_train, data.y_train, teacher, space.n_classes,
                                  space.recipe, epochs=epochs)
    return model, config, data, losses


@pytest.fixture(scope="module")
def conv1d():
    return _trained("cnn_psd", CONV1D, 1500, 6)


@pytest.fixture(scope="module")
def conv2d():
    return _trained("cnn_digits", CONV2D, 1797, 25)


@pytest.mark.slow
@pytest.mark.parametrize("which", ["conv1d", "conv2d"])
def test_conv_weights_take_at_most_2_to_the_bits_levels_and_are_pruned(which, request):
    model, config, _, losses = request.getfixturevalue(which)
    kernels = quantized_kernels(model, config)
    assert kernels[0].ndim == len(config.input_shape) + 1  # a convolution's kernel
    for kernel, bits, integer in zip(kernels, config.weight_bits, config.weight_int_bits,
                                     strict=True):
        assert len(np.unique(kernel)) <= 2**bits
        mantissas = weight_mantissas(kernel, bits, integer)
        assert np.allclose(mantissas * 2.0 ** -(bits - 1 - integer), kernel)
    for name in ("conv_1", "logits"):
        assert abs(np.mean(model.get_layer(name).kernel.numpy() == 0) - config.sparsity) <= 0.03
    assert losses[-1] < 0.8 * losses[0]


@pytest.mark.slow
@pytest.mark.parametrize("which", ["conv1d", "conv2d"])
def test_trace_of_a_conv_student_equals_qkeras_on_every_test_input(which, request):
    model, config, data, _ = request.getfixturevalue(which)
    logic = trace_student(model, config, data.stage)
    expected = model.predict(data.x_test, verbose=0)
    assert np.array_equal(np.asarray(logic.predict(data.x_test.astype(np.float64))), expected)


def test_conv_geometry_counts_every_window_position():
    # 30 samples, kernel 5, stride 3: 9 positions of 4 filters, each reading 5 inputs, pooled
    # by 3 to 3 positions for the head.
    n_inputs, n_classes = 30, 4
    assert CONV1D.layer_geometry(n_inputs, n_classes) == [(5, 4, 9), (12, 8, 1), (8, 4, 1)]
    # 6x6 positions pooled to 3x3; the second convolution fits once in those
    assert TWO_CONVS.layer_geometry(64, 10) == [(9, 4, 36), (36, 4, 1), (4, 10, 1)]
    assert TWO_CONVS.n_params(64, 10) == 9 * 4 + 4 + 36 * 4 + 4 + 4 * 10 + 10
    design = expected_design(TWO_CONVS, 64, 10)
    assert design.n_weights == 9 * 4 * 36 + 36 * 4 + 4 * 10  # multiplications in logic
    assert shape_text(TWO_CONVS, 64, 10) == "8x8x1-c4k3s1p2-c4k3s2-10"
    with pytest.raises(ValueError, match="does not fit"):
        ConvLayer(4, 9, 1).output_shape((8, 8, 1))
    with pytest.raises(ValueError, match="a pool of 4 does not fit"):
        ConvLayer(4, 3, 2, pool=4).output_shape((8, 8, 1))  # 3x3 positions


def test_export_streams_a_cnn_whose_layers_hls_cannot_partition():
    mnist = dataclasses.replace(CONV2D, convs=(ConvLayer(8, 3, 1),), input_shape=(28, 28, 1))
    assert io_type_for(mnist, 784, 10) == "io_stream"  # 26 x 26 x 8 = 5,408 values
    assert io_type_for(CONV2D, 64, 10) == io_type_for(TWO_CONVS, 64, 10) == "io_parallel"


@pytest.mark.slow
def test_trained_conv_design_counts_the_weights_at_every_position(conv2d):
    model, config, _, _ = conv2d
    design = trained_design(model, config)
    kernels = quantized_kernels(model, config)
    positions = [16, 1]  # the convolution computes every position; pooling reads them
    assert design.nonzero_weights == sum(np.count_nonzero(k) * p
                                         for k, p in zip(kernels, positions, strict=True))


@pytest.mark.slow
def test_conv2d_student_is_bit_exact_in_verilator_and_synthesizes(conv2d, tmp_path):
    model, config, data, _ = conv2d
    result = run_open_flow(model, config, data.x_test, 16.0, tmp_path / "rtl",
                           "xc7z020clg400-1", 200.0)
    assert result.bit_exact and result.rtl_exact_fraction == 1.0
    assert result.n_samples == len(data.x_test) > 300
    assert result.lut > 0 and result.ff > 0 and result.dsp == 0
    assert result.latency_cycles >= 2  # the convolution and the logits


@pytest.mark.slow
@pytest.mark.parametrize("which, io_type", [("conv1d", None), ("conv2d", None),
                                            ("conv2d", "io_stream")])
def test_conv_export_c_simulation_is_bit_exact(which, io_type, request, tmp_path):
    model, config, data, _ = request.getfixturevalue(which)
    divisor = 16.0
    result = write_project(model, config, data.x_test[:200], divisor, tmp_path / "prj",
                           get_part("xc7z020"), 200.0, io_type=io_type)
    assert result.exact_fraction == 1.0 and result.argmax_fraction == 1.0
    assert result.io_type == (io_type or "io_parallel")  # small students: io_parallel
    assert f"IOType: {result.io_type}" in (tmp_path / "prj" / "hls4ml_config.yml").read_text()
    parameters = (tmp_path / "prj" / "firmware" / "parameters.h").read_text()
    assert "conv" in parameters.lower()
    assert f"convolutions [{config.convs[0].filters} filters" in \
        (tmp_path / "prj" / "README.md").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["searched", "learned"])
def test_a_3_trial_cnn_digits_study_runs_end_to_end(tmp_path, precision):
    from nas.search.front import pareto_front
    from nas.search.settings import RunSettings
    from nas.search.study import create_or_continue, run_search

    space = get_space("cnn_digits")
    recipe = dataclasses.replace(space.recipe, teacher_epochs=5, student_epochs=3,
                                 learned_epochs=6, screen_epochs=2)
    student = dataclasses.replace(space.student, filters=(2, 4), width=(4, 8), pool=(1, 2),
                                  precision=precision)
    space = dataclasses.replace(space, recipe=recipe, student=student)
    settings = RunSettings(space=space, trials=3, seed=2, workdir=tmp_path)
    study = create_or_continue(settings)
    run_search(settings, study)
    complete = [t for t in study.trials if t.values]
    assert len(complete) == 3
    for trial in complete:
        config = StudentConfig.from_dict(trial.user_attrs["config"])
        assert config.convs and config.input_shape == (8, 8, 1)
        assert 1 <= len(config.convs) <= 2 and all(2 <= c.filters <= 4 for c in config.convs)
        if trial.user_attrs["est_lut"] > 0:  # a student trained to a constant is no logic
            assert trial.user_attrs["est_latency_cycles"] >= len(config.convs) + 1
        assert trial.user_attrs["n_params"] == config.n_params(64, 10)
        assert "pool_c1" in trial.params  # a space with a pool range searches it
        # learned: the penalty is searched and the bits are learned (none searched)
        assert ("beta" in trial.params) == (precision == "learned")
        assert ("weight_bits_out" in trial.params) == (precision == "searched")
    assert any(trial.user_attrs["est_lut"] > 0 for trial in complete)
    assert pareto_front(study) and study.user_attrs["teacher_test_accuracy"] > 0.8


def _write_space(tmp_path, **changes) -> str:
    values = {"name": "images", "data": {"file": "images.npz"},
              "input": {"shape": [4, 4, 2], "divisor": 1.0},
              "classes": ["a", "b"], "student": {"family": "cnn", "precision": "searched",
                                                 "kernel": [2, 3]}}
    for key, value in changes.items():
        values[key] = value
    path = tmp_path / "images.yaml"
    path.write_text(yaml.safe_dump(values))
    return str(path)


def _write_images(tmp_path, shape) -> None:
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "images.npz", x=rng.normal(size=(100, *shape)),
             label=np.arange(100) % 2)


def test_a_yaml_image_space_reads_events_shaped_as_images(tmp_path):
    _write_images(tmp_path, (4, 4, 2))
    student = {"family": "cnn", "precision": "searched", "kernel": [2, 3], "pool": [1, 2]}
    space = load_space_file(Path(_write_space(tmp_path, student=student)))
    assert space.input_shape == (4, 4, 2) and space.n_inputs == 32
    assert space.student.pool == (1, 2)
    events = load_events(space, 0)
    assert events.x.shape == (100, 32)


@pytest.mark.parametrize("shape, changes, message", [
    ((4, 4, 3), {}, r"shape \(100, 4, 4, 3\), the space says events x 4 x 4 x 2.*channels last"),
    ((4, 4, 2), {"input": {"shape": [4, 4, 2], "n_inputs": 30}},
     "input.shape .* holds 32 inputs: give a shape of 30 inputs"),
    ((4, 4, 2), {"input": {"n_inputs": 32}}, "input.shape .* is missing: give input.shape"),
    ((4, 4, 2), {"student": {"family": "cnn", "precision": "searched", "kernel": [5, 6]}},
     "student kernel .* does not fit inputs of shape"),
    ((4, 4, 2), {"student": {"family": "rnn"}}, "student family 'rnn' is unknown"),
    ((4, 4, 2), {"student": {"family": "cnn", "precision": "searched", "pool": [2, 9]}},
     r"pool .*within \[1, 8\]"),
])
def test_bad_image_spaces_are_one_line_errors(tmp_path, capsys, shape, changes, message):
    _write_images(tmp_path, shape)
    path = _write_space(tmp_path, **changes)
    error = one_line_error(["run", "--space", path, "--workdir", str(tmp_path / "w"),
                            "--no-synth"], capsys)
    assert re.search(message, error), error


def test_vendor_flow_refuses_cnn_students(tmp_path, capsys):
    error = one_line_error(["run", "--space", "cnn_digits", "--flow", "vitis", "--workdir",
                            str(tmp_path)], capsys)
    assert "--flow vitis does not estimate CNN students: use the open flow" in error
