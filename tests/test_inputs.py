"""Users' data: port formats, rounding to them, conditioning (exact in QKeras, in the trace,
in hls4ml), data checks, a teacher at chance, and ADC spaces unchanged."""

import dataclasses

import numpy as np
import pytest
from conftest import run_nas
from test_cli import assert_user_error

from nas._tf import keras, set_seed
from nas.errors import DataError, NasError, StudyError
from nas.hls.open_flow import trace_student
from nas.model.config import InputStage, StudentConfig
from nas.model.data import DataSplits, check_splits, prepared
from nas.model.port import input_stage, port_formats, to_port
from nas.model.student import build_student, train_student
from nas.model.teacher import check_teacher, train_teacher
from nas.spaces import get_space
from nas.spaces.formats import InputFormat
from nas.spaces.space import DataSpec, Space


def float_space(**changes) -> Space:
    return dataclasses.replace(Space(name="floats", description="", n_inputs=3,
                                     class_names=("a", "b"), data=DataSpec(dataset="x"),
                                     input_divisor=1.0), **changes)


def float_data(seed: int = 0, n: int = 400):
    """Three float features of scales 1e-3, 1 and 1e3, one signed; label from a mix of them."""
    rng = np.random.default_rng(seed)
    x = np.stack([rng.uniform(1e-3, 9e-3, n), rng.normal(0, 1, n), rng.lognormal(6, 0.5, n)], 1)
    y = ((x[:, 0] - 5e-3) / 2e-3 + x[:, 1] + (x[:, 2] - 400) / 200 > 0).astype(np.int64)
    return x.astype(np.float32), y


@pytest.mark.parametrize(("text", "expected"), [
    ("auto", InputFormat("auto")), ("uint8", InputFormat("int", False, 8)),
    ("int12", InputFormat("int", True, 12)), ("fixed<16,6>", InputFormat("fixed", True, 16, 6)),
    ("ufixed<8, 4>", InputFormat("fixed", False, 8, 4))])
def test_port_formats_parse(text, expected):
    assert InputFormat.parse(text) == expected


@pytest.mark.parametrize("text", ["float", "int", "fixed<8>", "uint30", "fixed<32,4>", "int<8,2>"])
def test_bad_port_formats_name_the_choices(text):
    with pytest.raises(NasError, match="use auto, int<N>, uint<N>, fixed<W,I> or ufixed<W,I>"):
        InputFormat.parse(text)


def test_auto_keeps_twelve_significant_bits_per_feature_and_rounds_to_them():
    x, _ = float_data()
    formats = port_formats(float_space(), x)
    assert [k for k, _, _ in formats] == [0, 1, 0]  # only the middle feature is signed
    for (_, integer, fraction), column in zip(formats, x.T, strict=True):
        assert 2.0 ** (integer - 1) <= np.abs(column).max() < 2.0**integer
        assert integer + fraction == 12
    rounded = to_port(x, formats)
    scales = np.array([2.0**f for _, _, f in formats])
    assert np.array_equal(rounded * scales, np.rint(rounded * scales))
    assert np.all(np.abs(rounded - x) <= 0.5 / scales)
    assert np.array_equal(to_port(rounded, formats), rounded)  # idempotent
    assert port_formats(float_space(), rounded) == formats


def test_integer_and_fixed_ports():
    raw = np.array([[0, 229], [3, 17]], dtype=np.float32)
    assert port_formats(float_space(n_inputs=2, input_format="uint8", input_divisor=16.0),
                        raw / 16) == ((0, 4, 4),) * 2
    assert port_formats(float_space(n_inputs=2, input_divisor=16.0), raw / 16) == ((0, 4, 4),) * 2
    signed = np.array([[-2048, 2047]], dtype=np.float32)
    assert port_formats(float_space(n_inputs=2, input_format="int12"), signed) == ((1, 11, 0),) * 2
    with pytest.raises(DataError, match="beyond uint8"):
        port_formats(float_space(n_inputs=2, input_format="uint8"), raw * 2)
    with pytest.raises(DataError, match="not integers"):
        port_formats(float_space(n_inputs=2, input_format="int12"), raw / 3)
    assert port_formats(float_space(n_inputs=2, input_format="fixed<10,4>"), raw) == ((1, 3, 6),) * 2
    assert to_port(np.array([[100.0, -0.01]]), ((1, 3, 6),) * 2).tolist() == [[8 - 2**-6, -2**-6]]


def test_conditioning_centres_and_scales_exactly_in_qkeras_training_too():
    x, _ = float_data()
    stage = input_stage(float_space(), x)
    x = to_port(x, stage.port)
    lsb = np.array([2.0**-f for _, _, f in stage.port])
    assert np.array_equal(np.array(stage.offsets) / lsb, np.rint(np.array(stage.offsets) / lsb))
    conditioned = (x.astype(np.float64) - stage.offsets) * 2.0 ** np.array(stage.shifts)
    assert np.all(np.abs(conditioned.mean(0)) < 0.2) and np.all(conditioned.std(0) < 1.5)
    config = StudentConfig((4,), (6, 6), (1, 1), (6,), (2,), 12, 5, 0.0, stage)
    model = build_student(config, 3, 2)
    probe = keras.Model(model.inputs, model.get_layer("condition").output)
    for training in (False, True):
        assert np.array_equal(probe(x, training=training).numpy().astype(np.float64), conditioned)


def test_a_signed_conditioned_student_traces_bit_exactly():
    x, y = float_data(1)
    space = float_space()
    data = prepared(space, DataSplits(x[:300], y[:300], x[300:350], y[300:350], x[350:], y[350:]))
    config = StudentConfig((6,), (5, 5), (1, 1), (6,), (2,), 7, 2, 0.0, data.stage)
    set_seed(1)
    model, _ = train_student(config, data.x_train, data.y_train,
                             np.eye(2, dtype=np.float32)[data.y_train] * 3, 2,
                             space.recipe, epochs=3)
    assert model.get_layer("input_quant").activation.get_config()["keep_negative"]
    comb = trace_student(model, config, data.stage)
    expected = model.predict(data.x_test, verbose=0).astype(np.float64)
    assert np.array_equal(np.asarray(comb.predict(data.x_test.astype(np.float64))), expected)


def _splits(x, y):
    return DataSplits(x[:200], y[:200], x[200:300], y[200:300], x[300:], y[300:])


def test_data_checks_warn_or_refuse():
    x, y = float_data(2)
    x[:, 1] = 1.0
    problems = check_splits(_splits(x, y), 2)
    assert any("inputs 1 are constant" in p for p in problems)
    rare = y.copy()
    rare[:] = 0
    rare[[5, 10, 15, 205, 210, 305, 310]] = 1
    assert any("class 1 has 3 training events against 197" in p
               for p in check_splits(_splits(x, rare), 2))
    rare[[305, 310]] = 0
    with pytest.raises(DataError, match="the test split holds 0 events of class 1"):
        check_splits(_splits(x, rare), 2)


def test_splits_are_stratified_per_class():
    from nas.model.data import split
    from nas.spaces.sources import Events

    labels = np.random.default_rng(5).choice(3, 178, p=[0.33, 0.40, 0.27])
    data = split(Events(np.arange(178.0)[:, None], labels), 1.0)
    for label in range(3):
        share = np.array([np.sum(getattr(data, f"y_{name}") == label)
                          for name in ("train", "val", "test")]) / np.sum(labels == label)
        assert np.all(np.abs(share - [0.6, 0.2, 0.2]) <= 1.0 / np.sum(labels == label))
    assert sorted(np.concatenate([data.x_train, data.x_val, data.x_test])[:, 0]) == list(range(178))


def test_a_teacher_at_chance_stops_the_run():
    x, y = float_data(3)
    space = float_space(recipe=dataclasses.replace(float_space().recipe, teacher_epochs=60,
                                                   min_steps=0))
    noise = prepared(space, _splits(x, np.random.default_rng(3).permutation(y)))
    with pytest.raises(StudyError, match="no better than always answering its most frequent"):
        check_teacher(train_teacher(space, noise, 0), noise)
    data = prepared(space, _splits(x, y))
    assert check_teacher(train_teacher(space, data, 0), data) > 0.8


def test_adc_spaces_keep_their_integer_port_and_no_conditioning():
    from nas.spaces.wcd_pulses import simulate

    x, y = simulate(0, 400)
    for name, divisor, port in (("mlp_psd", 16.0, (0, 4, 4)),):
        space = get_space(name)
        assert space.input_divisor == divisor
        data = prepared(space, _splits(x / divisor, y))
        assert data.stage == InputStage((port,) * 30) and not data.stage.signed
        assert np.array_equal(data.x_test, (x[300:] / divisor).astype(np.float32))


def test_data_warnings_are_one_line_from_the_cli(tmp_path):
    x, y = float_data(4)
    x[:, 2] = 7.0
    y = np.random.default_rng(4).permutation(y)  # labels the inputs cannot predict
    lines = ["a,b,c,label"] + [f"{a},{b},{c},{label}" for (a, b, c), label in zip(x, y, strict=True)]
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "s.yaml").write_text(
        "name: floats\ndata: {file: d.csv}\ninput: {n_inputs: 3}\nclasses: [a, b]\n"
        "training: {teacher_epochs: 60, min_steps: 0}\n")
    result = run_nas("run", "--space", str(tmp_path / "s.yaml"), "--trials", "1",
                     "--workdir", str(tmp_path / "w"), cwd=tmp_path)
    constant, small, error = result.stderr.strip().splitlines()
    assert constant.startswith("nas: warning: inputs 2 are constant in the training split")
    assert small.startswith("nas: warning: the validation split holds 80 events: one event is "
                            "1.25 points of accuracy, more than the 0.3-point margin")
    assert result.returncode == 2 and error.startswith("nas: error: the teacher reached")
    assert "Traceback" not in result.stdout + result.stderr


def test_bad_input_format_in_yaml_is_one_line(tmp_path):
    (tmp_path / "s.yaml").write_text("name: x\ndata: {dataset: sklearn_wine}\n"
                                     "input: {n_inputs: 13, format: float32}\nclasses: [a, b, c]\n")
    assert_user_error(run_nas("run", "--space", str(tmp_path / "s.yaml")), "is not a port format")


def _csv_text_round_trip(x: np.ndarray, digits: int) -> np.ndarray:
    """``x`` as a user's CSV holds it: each value written with ``digits`` significant digits."""
    return np.array([[float(f"{v:.{digits}g}") for v in row] for row in x])


@pytest.mark.parametrize("seed", range(4))
def test_float_csv_features_give_a_model_equal_to_its_firmware_on_every_event(seed):
    """Property over random scales (1e-4 .. 1e4), offsets, signs and CSV digit counts, 30
    features (enough for TensorFlow's vectorized kernels): the conditioned student and its
    trace agree on every event, ties of the input quantizer included (its few fractional
    bits put many conditioned values exactly half-way)."""
    rng = np.random.default_rng(seed)
    n_inputs, n = 30, 400
    scales = 10.0 ** rng.uniform(-4, 4, n_inputs)
    offsets = rng.choice([0.0, 1.0, -1.0], n_inputs) * scales * rng.uniform(0, 5, n_inputs)
    x = _csv_text_round_trip(rng.normal(0, 1, (n, n_inputs)) * scales + offsets,
                             int(rng.integers(2, 8)))
    space = float_space(n_inputs=n_inputs, input_condition="standardize")
    stage = input_stage(space, x[:300])
    x_port = to_port(x, stage.port)
    config = StudentConfig((8,), (6, 6), (2, 2), (5,), (2,), 6, 2, 0.0, stage)
    set_seed(seed)
    model = build_student(config, n_inputs, 3)
    for layer in model.layers:
        if layer.name.startswith(("dense_", "logits")):
            layer.set_weights([rng.integers(-7, 8, w.shape).astype(np.float32) / 4
                               for w in layer.get_weights()])
    quantized = keras.Model(model.inputs, model.get_layer("input_quant").output)(x_port).numpy()
    ties = np.abs(quantized - (x_port - stage.offsets) * 2.0 ** np.array(stage.shifts)) == 2.0**-4
    assert ties.sum() > 20  # the property is tested where it can fail
    expected = model.predict(x_port, verbose=0).astype(np.float64)
    traced = np.asarray(trace_student(model, config, stage).predict(x_port.astype(np.float64)))
    assert np.array_equal(traced, expected)
