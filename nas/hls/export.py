"""Export a trained student as an hls4ml project whose C simulation is bit-exact.

Every precision is set from the QKeras quantizers (nothing left to hls4ml's defaults):

* input: when the raw inputs are integers and the space's divisor a power of two, the port
  takes the raw value exactly (``ufixed<raw bits, raw bits - log2(divisor)>``) and the firmware
  rounds it like QKeras (``RND_CONV``, ``SAT``) to the input quantizer's ``ufixed<b, i>``;
  otherwise the port is the quantizer's type and the host quantizes;
* weights ``fixed<b, i+1>`` and biases from their quantizers (alpha = 1);
* accumulators and Dense results: exact, from interval arithmetic on the quantized weights
  (no rounding, cannot overflow);
* ReLU outputs ``ufixed<b, i, RND_CONV, SAT>`` = QKeras ``quantized_relu(b, i)``, and max
  pooling of them the same type;
* no softmax: the design outputs the logits.

The C simulation is compared with the QKeras student on the whole test set; an export that is
not bit-exact fails and names the first layer that differs.
"""

import contextlib
import json
import math
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np

from nas._tf import keras
from nas.errors import BitExactnessError, InvalidValue
from nas.model.config import (
    IO_TYPES,
    InputStage,
    StudentConfig,
    io_type_for,
    weighted_layer_names,
)
from nas.model.port import stage_of
from nas.model.student import ExactCondition
from nas.spaces.parts import Part

BACKENDS = ("Vivado", "Vitis")
#: hls4ml's name of each strategy a student records.
STUDENT_STRATEGIES = {"latency": "Latency", "resource": "Resource"}
STRATEGIES = (*STUDENT_STRATEGIES.values(), "distributed_arithmetic")
#: Required agreement of the C simulation with QKeras on the test set.
MIN_EXACT, MIN_ARGMAX = 0.999, 1.0


def _register_exact_condition() -> None:
    """hls4ml reads the student's ``ExactCondition`` as the batch normalization it is (the
    same weights; only Keras's float arithmetic differs)."""
    from hls4ml.converters.keras.core import parse_batchnorm_layer
    from hls4ml.converters.keras_v2_to_hls import get_layer_handlers, register_keras_v2_layer_handler

    def parse(keras_layer, input_names, input_shapes, data_reader):
        return parse_batchnorm_layer({**keras_layer, "class_name": "BatchNormalization"},
                                     input_names, input_shapes, data_reader)

    if ExactCondition.__name__ not in get_layer_handlers():
        register_keras_v2_layer_handler(ExactCondition.__name__, parse)


@contextlib.contextmanager
def keras2_for_hls4ml():
    """hls4ml 1.3.0 reads ``keras.__version__`` and would send a tf_keras model to its Keras 3
    parser: point ``keras`` at tf_keras only while hls4ml parses the model (STACK.md)."""
    saved = sys.modules.get("keras")
    sys.modules["keras"] = keras
    _register_exact_condition()
    try:
        yield
    finally:
        if saved is None:
            sys.modules.pop("keras", None)
        else:
            sys.modules["keras"] = saved


def fixed(width: int, integer: int, signed: bool = True, rounding: str = "",
          saturation: str = "") -> str:
    modes = f",{rounding or 'TRN'},{saturation or 'WRAP'}" if rounding or saturation else ""
    return f"{'' if signed else 'u'}fixed<{width},{integer}{modes}>"


def quantizer_type(quantizer, rounding: str = "", saturation: str = "") -> str:
    """hls4ml type of a QKeras ``quantized_bits`` (hls4ml's own mapping ignores keep_negative)."""
    c = quantizer.get_config()
    signed = bool(c["keep_negative"])
    return fixed(c["bits"], c["integer"] + int(signed), signed, rounding, saturation)


def quantizer_range(quantizer) -> tuple[float, float, int]:
    """(lowest, highest, fractional bits) of a ``quantized_bits`` or ``quantized_relu``."""
    c = quantizer.get_config()
    signed = bool(c.get("keep_negative", False))
    frac = c["bits"] - c["integer"] - int(signed)
    return (-(2.0 ** c["integer"]) if signed else 0.0), 2.0 ** c["integer"] - 2.0**-frac, frac


def accumulator_type(layer, low: float, high: float, in_frac: int) -> str:
    """Exact type of a QDense or QConv output for inputs in [low, high] with ``in_frac``
    fractional bits (a convolution's output reads one window: its kernel as a matrix)."""
    kernel = np.asarray(layer.kernel_quantizer_internal(layer.kernel))
    w = kernel.reshape(-1, kernel.shape[-1])
    b = np.asarray(layer.bias_quantizer_internal(layer.bias))
    frac = max(in_frac + quantizer_range(layer.kernel_quantizer_internal)[2],
               quantizer_range(layer.bias_quantizer_internal)[2])
    top = (np.maximum(w * low, w * high).sum(0) + b).max()
    bottom = (np.minimum(w * low, w * high).sum(0) + b).min()
    magnitude = max(top + 2.0**-frac, -bottom, 2.0**-frac)
    integer = math.ceil(math.log2(magnitude)) + 1
    return fixed(integer + frac, integer)


def covering_type(formats: list[tuple[int, int, int]]) -> str:
    """One hls4ml type that holds every ``(k, i, f)`` format exactly."""
    sign = max(k for k, _, _ in formats)
    integer = max(i for _, i, _ in formats)
    fraction = max(f for _, _, f in formats)
    return fixed(sign + integer + fraction, sign + integer, bool(sign))


def _condition_types(stage: InputStage) -> dict[str, str]:
    """Exact types of the conditioning ``x * 2**shift - offset * 2**shift`` (hls4ml's
    BatchNormalization: ``data * scale + bias``)."""
    shifts = stage.shifts
    bias = [(1, i + s, f - s) for (_, i, f), s in zip(stage.port, shifts, strict=True)]
    return {"scale": fixed(max(shifts) - min(shifts) + 1, max(shifts) + 1, signed=False),
            "bias": covering_type(bias), "result": covering_type(stage.conditioned_formats())}


def hls_config(model, config: StudentConfig, backend: str, strategy: str,
               stage: InputStage) -> dict:
    import hls4ml

    with keras2_for_hls4ml():
        hconf = hls4ml.utils.config_from_keras_model(model, granularity="name", backend=backend,
                                                     default_precision="fixed<16,6>")
    layers = hconf["LayerName"]
    quantizer = model.get_layer("input_quant").activation
    in_type = quantizer_type(quantizer, "RND_CONV", "SAT")
    layers["adc"]["Precision"]["result"] = covering_type(list(stage.port))
    layers["input_quant"]["Precision"]["result"] = in_type
    if stage.conditioned:
        layers["condition"]["Precision"].update(_condition_types(stage))
    low, high, frac = quantizer_range(quantizer)
    for i, name in enumerate(weighted_layer_names(config)):
        layer = model.get_layer(name)
        acc = accumulator_type(layer, low, high, frac)
        precision = layers[name]["Precision"]
        precision.update(weight=quantizer_type(layer.kernel_quantizer_internal),
                         bias=quantizer_type(layer.bias_quantizer_internal), accum=acc, result=acc)
        layers[f"{name}_linear"]["Precision"]["result"] = acc
        if strategy != "Latency":
            layers[name]["Strategy"] = strategy  # Dense layers only (STACK.md)
        if strategy != "distributed_arithmetic":
            layers[name]["ReuseFactor"] = config.reuse_factor
        if i < len(config.act_bits):
            relu = model.get_layer(f"relu_{i + 1}").activation
            relu_type = fixed(config.act_bits[i], config.act_int_bits[i], False, "RND_CONV",
                              "SAT")
            layers[f"relu_{i + 1}"]["Precision"]["result"] = relu_type
            if f"pool_{i + 1}" in layers:  # the largest of its inputs: their type
                layers[f"pool_{i + 1}"]["Precision"] = {"result": relu_type, "accum": relu_type}
            low, high, frac = quantizer_range(relu)
    for name in layers:
        layers[name]["Trace"] = True
    return hconf


@dataclass(frozen=True)
class BitExactness:
    n_samples: int
    exact_fraction: float
    argmax_fraction: float
    first_mismatch: int | None

    @property
    def passed(self) -> bool:
        return self.exact_fraction >= MIN_EXACT and self.argmax_fraction >= MIN_ARGMAX


def compare_outputs(expected: np.ndarray, firmware: np.ndarray) -> BitExactness:
    firmware = firmware.reshape(expected.shape)
    exact = np.all(expected == firmware, axis=1)
    argmax = expected.argmax(1) == firmware.argmax(1)
    mismatch = np.flatnonzero(~exact)
    return BitExactness(len(expected), float(exact.mean()), float(argmax.mean()),
                        int(mismatch[0]) if mismatch.size else None)


def first_differing_layer(model, hls_model, x: np.ndarray) -> str:
    """Name of the first layer whose firmware output differs from QKeras on ``x``."""
    _, trace = hls_model.trace(np.ascontiguousarray(x, dtype=np.float64))
    outputs, values = {}, x
    # The student is a chain: call its layers in order (a pruned-then-stripped model is a
    # clone whose layer outputs cannot be wired into a probe model).
    for layer in model.layers:
        if layer.__class__.__name__ != "InputLayer":
            values = layer(values)
            outputs[layer.name] = np.asarray(values)
    for name, values in outputs.items():
        if name in trace and not np.array_equal(
                np.asarray(trace[name], dtype=np.float64).reshape(len(x), -1),
                np.asarray(values, dtype=np.float64).reshape(len(x), -1)):
            return name
    return "the output (no traced layer differs)"


@dataclass(frozen=True)
class ExportResult:
    out: str
    backend: str
    strategy: str
    part: str
    clock_mhz: float
    port_type: str
    n_samples: int
    exact_fraction: float
    argmax_fraction: float
    hls4ml_version: str
    compile_seconds: float
    io_type: str = "io_parallel"

    def to_dict(self) -> dict:
        return asdict(self)


def check_output_dir(out: Path, force: bool) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise InvalidValue("out", f"'{out}'", "choose another folder, or replace it with {force}",
                           problem="exists and is not empty")


def write_project(model, config: StudentConfig, x_test: np.ndarray, divisor: float, out: Path,
                  part: Part, clock_mhz: float, backend: str = "Vivado",
                  strategy: str | None = None, force: bool = False,
                  expected_resources: dict | None = None, io_type: str | None = None
                  ) -> ExportResult:
    """Write, compile and check the hls4ml project of ``model`` in ``out`` (the dense layers
    at the student's reuse factor, with ``strategy`` or else the student's; ``io_type`` or
    else ``io_type_for`` the student).

    The project is built in a temporary folder beside ``out`` and moved into place only once
    it is bit-exact: a failed export leaves nothing behind.
    """
    import hls4ml

    if backend not in BACKENDS:
        raise InvalidValue("backend", f"'{backend}'", f"use one of {', '.join(BACKENDS)}",
                           problem="is unknown")
    strategy = strategy or STUDENT_STRATEGIES[config.strategy]
    if strategy not in STRATEGIES:
        raise InvalidValue("strategy", f"'{strategy}'", f"use one of {', '.join(STRATEGIES)}",
                           problem="is unknown")
    n_inputs, n_classes = int(model.input_shape[-1]), int(model.output_shape[-1])
    io_type = io_type or io_type_for(config, n_inputs, n_classes)
    if io_type not in IO_TYPES:
        raise InvalidValue("io_type", f"'{io_type}'", f"use one of {', '.join(IO_TYPES)}",
                           problem="is unknown")
    check_output_dir(out, force)
    if out.exists() and force:
        shutil.rmtree(out)
    stage = stage_of(config, x_test, divisor)
    hconf = hls_config(model, config, backend, strategy, stage)
    expected = model.predict(x_test, batch_size=4096, verbose=0).astype(np.float64)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        np.save(staging / "x_test.npy", x_test)
        np.save(staging / "y_test.npy", expected)
        project = staging / "project"
        with keras2_for_hls4ml():
            hls_model = hls4ml.converters.convert_from_keras_model(
                model, hls_config=hconf, backend=backend, output_dir=str(project),
                project_name="myproject", part=part.full_name, clock_period=1000.0 / clock_mhz,
                io_type=io_type, input_data_tb=str(staging / "x_test.npy"),
                output_data_tb=str(staging / "y_test.npy"))
        start = time.perf_counter()
        hls_model.compile()
        compile_seconds = time.perf_counter() - start
        firmware = np.asarray(hls_model.predict(np.ascontiguousarray(x_test, dtype=np.float64)),
                              dtype=np.float64)
        check = compare_outputs(expected, firmware)
        if not check.passed:
            sample = x_test[check.first_mismatch: check.first_mismatch + 1]
            raise BitExactnessError(
                f"C simulation is not bit-exact ({100 * check.exact_fraction:.2f}% exact, "
                f"{100 * check.argmax_fraction:.2f}% same argmax on {check.n_samples} test "
                f"samples): first difference at sample {check.first_mismatch}, layer "
                f"'{first_differing_layer(model, hls_model, sample)}'; nothing was written")
        result = ExportResult(str(out), backend, strategy, part.full_name, clock_mhz,
                              hconf["LayerName"]["adc"]["Precision"]["result"],
                              check.n_samples, check.exact_fraction, check.argmax_fraction,
                              version("hls4ml"), compile_seconds, io_type)
        (project / "bit_exactness.json").write_text(json.dumps(result.to_dict(), indent=2))
        (project / "README.md").write_text(project_readme(result, config, expected_resources))
        if out.exists():  # an empty folder the user made
            out.rmdir()
        project.rename(out)
        return result
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _layers_text(config: StudentConfig) -> str:
    convs = ", ".join(f"{c.filters} filters of {c.kernel} stride {c.stride}"
                      + (f" max-pooled by {c.pool}" if c.pool > 1 else "") for c in config.convs)
    return (f"convolutions [{convs}] on inputs {list(config.input_shape)}, " if convs else "") + \
        f"hidden widths {list(config.widths)}"


def project_readme(result: ExportResult, config: StudentConfig,
                   expected_resources: dict | None) -> str:
    estimate = ""
    if expected_resources:
        estimate = "\n".join(f"| {k} | {v:,.0f} |" for k, v in expected_resources.items())
        estimate = ("\nExpected resources (the search's estimate in its flow, not a vendor "
                    "report):\n\n| quantity | estimate |\n| --- | --- |\n" + estimate + "\n")
    return f"""# hls4ml project exported by nas

* Part {result.part}, clock {result.clock_mhz:g} MHz ({1000 / result.clock_mhz:.3f} ns),
  backend {result.backend}, strategy {result.strategy}, reuse factor {config.reuse_factor} (asked; hls4ml
  may adjust it per layer), {result.io_type}, hls4ml {result.hls4ml_version}.
* Student: {_layers_text(config)}, weight bits {list(config.weight_bits)},
  activation bits {list(config.act_bits)}, input {config.input_bits} bits
  ({config.input_int_bits} integer), target sparsity {config.sparsity:g} (pruned weights are
  zeros in firmware/weights).
* **No softmax in firmware**: the design outputs the logits; take the argmax for the class.
  (hls4ml's softmax tables can flip the argmax of close outputs.)
* Input port: `{result.port_type}`; every precision is set from the QKeras quantizers.
* Bit-exactness: the C simulation equals the QKeras student on {result.n_samples} test
  samples: {100 * result.exact_fraction:.2f}% of outputs exactly, {100 * result.argmax_fraction:.2f}%
  of argmaxes (also in bit_exactness.json).
{estimate}
## Build

Test vectors for co-simulation are in `tb_data/` (inputs and the QKeras outputs). With the
vendor tools on PATH:

    vivado_hls -f build_prj.tcl "csim=1 synth=1 cosim=1 vsynth=1"   # Vivado HLS
    vitis-run --tcl build_prj.tcl                                   # Vitis (backend Vitis)

or from Python: `hls4ml.converters.link_existing_project(".").build(csynth=True, vsynth=True)`.
"""
