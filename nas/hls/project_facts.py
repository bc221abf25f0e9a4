"""What an hls4ml project of a dense network is, read from its folder: per dense layer the
sizes, zeros, precisions (input, weights, accumulator, output), reuse factor, strategy and
activation, and per design the io type, part, clock and tool, beside its top-level report.

The firmware headers say what hls4ml generated, so they come first: ``parameters.h`` (each
``nnet::dense_config``), ``defines.h`` (the types) and ``<ProjectName>.cpp`` (the order of the
calls, hence each dense layer's input type and the activation after it). An HGQ model's
quantizers are written per element into ``nnet_utils/nnet_code_gen.h`` (hls4ml's
``generate_mask_fn``: ``out[i] = 0;`` or ``out[i] = ap_ufixed<W,I,...>(inp[i]);``): a dense
layer fed by one records each input's width as HLS sees it (``DenseFacts.input_widths``, 0 for
an input held at zero; ``_seen_width``). A folder without headers (only ``hls4ml_config.yml``
and ``keras_model.h5``) is read from the Keras model and the configuration instead. Weight
values, when the folder has them (``weights/w*.txt`` or the Keras model), give each layer's
integer weight mantissas.
"""

import json
import math
import re
from bisect import bisect_left
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import yaml

from nas.errors import DataError
from nas.hls.reports import SynthesisRecord, layer_csynths, project_name, top_csynth

#: hls4ml's default type when a configuration names none.
DEFAULT_TYPE = "fixed<16,6>"
#: The clock uncertainty each tool assumes when the project sets none (fraction of the period).
DEFAULT_UNCERTAINTY = {"Vivado HLS": 0.125, "Vitis HLS": 0.27}
ACTIVATIONS = ("relu", "softmax", "sigmoid", "tanh", "linear", "leaky_relu", "elu", "selu",
               "softplus", "softsign", "hard_sigmoid", "hard_tanh", "prelu", "thresholded_relu")


def _valid_resource_reuse(n_in: int, n_out: int, reuse: int) -> bool:
    """hls4ml's condition on a Resource-strategy dense layer's reuse factor
    (``FPGABackend._validate_reuse_factor``)."""
    multipliers = math.ceil(n_in * n_out / min(n_in, reuse))
    return ((multipliers % n_out == 0 or reuse >= n_in) and (reuse % n_in == 0 or reuse < n_in)
            and (n_in * n_out) % reuse == 0)


def resource_reuse_factor(n_in: int, n_out: int, asked: int) -> int:
    """The reuse factor hls4ml builds a Resource-strategy dense layer with when ``asked`` is
    asked for: the closest valid one, the smaller of two equally close
    (``FPGABackend.set_closest_reuse_factor``)."""
    valid = [r for r in range(1, n_in * n_out + 1) if _valid_resource_reuse(n_in, n_out, r)]
    position = bisect_left(valid, asked)
    if position == 0 or position == len(valid):
        return valid[min(position, len(valid) - 1)]
    before, after = valid[position - 1], valid[position]
    return after if after - asked < asked - before else before


@dataclass(frozen=True)
class FixedType:
    """An ``ap_fixed``/``ap_ufixed``/``ap_int``/``ap_uint`` type: total and integer bits;
    ``wraps`` false where it saturates on overflow (an ``AP_SAT`` mode, ``SAT`` in hls4ml's
    precision strings)."""

    width: int
    integer: int
    signed: bool = True
    wraps: bool = True

    @property
    def fraction(self) -> int:
        return self.width - self.integer

    @classmethod
    def parse(cls, text: str) -> "FixedType | None":
        """The type written as ``ap_fixed<16,6,...>``, ``ufixed<6,0>``, ``ap_int<8>``, or inside
        ``nnet::array<...>``; None when ``text`` holds none."""
        match = re.search(r"(u?)fixed<\s*(\d+)\s*,\s*(-?\d+)([^>]*)", text or "")
        if match:
            return cls(int(match.group(2)), int(match.group(3)), not match.group(1),
                       "SAT" not in match.group(4).upper())
        match = re.search(r"ap_(u?)int<\s*(\d+)\s*>", text or "")
        if match:
            return cls(int(match.group(2)), int(match.group(2)), not match.group(1))
        return None


@dataclass(frozen=True, eq=False)
class DenseFacts:
    """One dense layer as hls4ml wrote it. ``output`` is the type after its activation (the
    next layer's input); ``mantissas`` the integer weights (n_in x n_out) when known, else
    ``weight_distribution`` says how they are spread: "normal" (trained, or not known) or
    "uniform" (never trained: Keras' uniform initializers); ``input_widths`` each input's
    bits as HLS sees them (``_seen_width``) where a per-element quantizer (HGQ) feeds the
    layer, 0 where it holds the input at zero; ``report`` the C-synthesis report of its own
    function (its activation apart) where HLS kept one."""

    name: str
    n_in: int
    n_out: int
    n_zeros: int
    input: FixedType
    weight: FixedType
    accum: FixedType
    output: FixedType
    reuse_factor: int
    strategy: str
    activation: str
    mantissas: np.ndarray | None = None
    weight_distribution: str = "normal"
    input_widths: tuple[int, ...] | None = None
    report: SynthesisRecord | None = None


@dataclass(frozen=True, eq=False)
class ProjectFacts:
    """A dense network's hls4ml project: its layers, io type, part, clock and tool, the
    top-level C-synthesis report when there is one, and where the facts came from.
    ``assumed`` lists what was not recorded and how it was filled in; ``group`` is the
    collection the design belongs to (its repository), which evaluation holds out together;
    ``resynthesis`` says the report is of the same firmware as every other version of its
    project path (a facts table's note: identical headers, synthesized again);
    ``types_per_layer`` is false where a facts table lists distinct precisions rather than
    each layer's; ``dataflow`` whether the top function is a DATAFLOW region (hls4ml's
    pipeline style), None where its source was not read."""

    name: str
    source: str
    layers: tuple[DenseFacts, ...]
    io_type: str
    part: str
    clock_period_ns: float
    clock_uncertainty_ns: float
    tool: str
    report: SynthesisRecord | None = None
    assumed: tuple[str, ...] = field(default=())
    group: str = ""
    resynthesis: bool = False
    types_per_layer: bool = True
    dataflow: bool | None = None


class _LenientLoader(yaml.SafeLoader):
    """hls4ml writes Python-object tags (``!keras_model``, a pickled PyTorch model) into its
    configuration: read any tagged node as plain data."""


def _construct_any(loader, suffix, node):
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_scalar(node)


_LenientLoader.add_multi_constructor("!", _construct_any)
_LenientLoader.add_multi_constructor("tag:yaml.org,2002:python/", _construct_any)


def read_config(directory: Path) -> dict:
    path = directory / "hls4ml_config.yml"
    try:
        config = yaml.load(path.read_text(errors="replace"), Loader=_LenientLoader)
    except OSError as error:
        raise DataError(f"cannot read {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise DataError(f"{path} is not YAML ({str(error).splitlines()[0]})") from None
    if not isinstance(config, dict):
        raise DataError(f"{path} is not an hls4ml configuration")
    return config


def _find(directory: Path, name: str) -> Path | None:
    """``firmware/<name>`` or ``<name>`` in the project folder (copies are often flattened)."""
    return next((p for p in (directory / "firmware" / name, directory / name) if p.is_file()),
                None)


def _uncertainty_ns(config: dict, period: float, tool: str) -> float:
    text = str(config.get("ClockUncertainty", "")).strip()
    if text.endswith("%"):
        return period * float(text[:-1]) / 100
    if text:
        return float(text)
    return period * DEFAULT_UNCERTAINTY[tool]


def _tool(config: dict, report: SynthesisRecord | None) -> str:
    if report is not None:
        return report.tool
    return "Vitis HLS" if str(config.get("Backend", "")).lower() == "vitis" else "Vivado HLS"


def read_project(directory: Path, layer_reports: bool = False) -> ProjectFacts:
    """The facts of the hls4ml project in ``directory`` (a folder with ``hls4ml_config.yml``)
    and its top-level report (with ``layer_reports``, each dense layer's own too, where HLS
    kept one: ``DenseFacts.report``); ``DataError`` naming what is missing otherwise."""
    directory = Path(directory)
    if not (directory / "hls4ml_config.yml").is_file():
        raise DataError(f"'{directory}' is not an hls4ml project: it has no hls4ml_config.yml")
    config = read_config(directory)
    top = project_name(directory)
    reports = top_csynth(directory, top)
    report = reports[0] if reports else None
    tool = _tool(config, report)
    headers = _find(directory, "parameters.h"), _find(directory, "defines.h"), \
        _find(directory, f"{top}.cpp")
    if all(headers):
        layers = _layers_from_headers(directory, *headers,
                                      layer_csynths(directory) if layer_reports else {})
    elif (directory / "keras_model.h5").is_file():
        layers = _layers_from_keras(directory / "keras_model.h5", config)
    else:
        raise DataError(f"cannot read the layers of '{directory}': it has neither the firmware "
                        f"headers (parameters.h, defines.h, {top}.cpp) nor keras_model.h5")
    if not layers:
        raise DataError(f"'{directory}' has no dense layer: only dense networks are estimated")
    part = str(config.get("Part") or (report.part if report else "") or "")
    period = float(config.get("ClockPeriod") or (report.clock_target_ns if report else 5.0))
    uncertainty = (report.clock_uncertainty_ns if report and report.clock_uncertainty_ns
                   is not None else _uncertainty_ns(config, period, tool))
    return ProjectFacts(name=top, source=str(directory), layers=tuple(layers),
                        io_type=str(config.get("IOType", "io_parallel")), part=part,
                        clock_period_ns=period, clock_uncertainty_ns=uncertainty,
                        tool=f"{tool} {report.version}" if report else tool, report=report,
                        dataflow=_dataflow(headers[2]))


def _dataflow(top_cpp: Path | None) -> bool | None:
    """Whether the top function is a DATAFLOW region (its pragma); None without its source."""
    if top_cpp is None:
        return None
    return bool(_DATAFLOW.search(top_cpp.read_text(errors="replace")))


# --- firmware headers ---------------------------------------------------------------------


def _typedefs(defines: Path) -> dict[str, FixedType]:
    types = {}
    for match in re.finditer(r"typedef\s+(.+?)\s+(\w+)\s*;", defines.read_text(errors="replace")):
        parsed = FixedType.parse(match.group(1))
        if parsed:
            types[match.group(2)] = parsed
    return types


def _defined_numbers(defines: Path) -> dict[str, str]:
    """The ``#define NAME number`` lines of ``defines.h`` (older hls4ml sizes its layers so:
    ``n_in = N_INPUT_1_1``)."""
    return dict(re.findall(r"^\s*#\s*define\s+(\w+)\s+(\d+)\s*$", defines.read_text(errors="replace"),
                           re.M))


def _dense_configs(parameters: Path) -> dict[str, dict[str, str]]:
    """Per ``struct configN : nnet::dense_config``: its constants and typedefs, as text."""
    text = parameters.read_text(errors="replace")
    configs = {}
    for match in re.finditer(r"struct\s+(\w+)\s*:\s*nnet::dense_config\s*\{(.*?)\n\};", text, re.S):
        body = match.group(2)
        values = dict(re.findall(r"static const \w+(?:\s+\w+)?\s+(\w+)\s*=\s*([^;]+);", body))
        values.update({name: kind for kind, name in
                       re.findall(r"typedef\s+([\w:<>, ]+?)\s+(\w+_t)\s*;", body)})
        configs[match.group(1)] = values
    return configs


_CALL = re.compile(r"nnet::(\w+)\s*<\s*([\w:]+)\s*,\s*([\w:]+)\s*,\s*(\w+)\s*>\s*\(([^;]*)\)\s*;")
#: A call of a function with two template arguments (an HGQ quantizer): its output buffer.
_QUANTIZER_CALL = re.compile(r"nnet::(\w+)\s*<\s*[\w:]+\s*,\s*[\w:]+\s*>\s*\(\s*\w+\s*,\s*(\w+)\s*\)\s*;")
_QUANTIZER = re.compile(r"void\s+(\w+)\s*\(\s*input_t\s*\*\s*inp\s*,\s*output_t\s*\*\s*out\s*\)\s*"
                        r"\{(.*?)\n\}", re.S)
_ELEMENT = re.compile(r"out\[(\d+)\]\s*=\s*(?:0\s*;|(ap_u?fixed<[^>]*>)\s*\(\s*inp\[)")
#: hls4ml's pipeline style in the top function: a DATAFLOW region (else a pipeline).
_DATAFLOW = re.compile(r"^\s*#\s*pragma\s+HLS\s+DATAFLOW\b", re.I | re.M)


def _type(types: dict[str, FixedType], name: str, where: Path) -> FixedType:
    """The type named ``name`` in defines.h, or written out in place (older hls4ml:
    ``typedef ap_fixed<16,6> accum_t;`` inside a layer's config)."""
    written = FixedType.parse(name)
    if written:
        return written
    name = name.split("::")[-1]
    if name not in types:
        raise DataError(f"{where}: type '{name}' is not defined in defines.h")
    return types[name]


def _strategy(text: str) -> str:
    return text.split("::")[-1].strip().lower()


def _element_types(code_gen: Path | None) -> dict[str, tuple[FixedType | None, ...]]:
    """Per function of ``nnet_code_gen.h`` that quantizes each element on its own (HGQ): each
    output's quantizer type, None where it is held at zero."""
    if code_gen is None:
        return {}
    functions = {}
    for name, body in _QUANTIZER.findall(code_gen.read_text(errors="replace")):
        types = {int(index): FixedType.parse(kind) for index, kind in _ELEMENT.findall(body)}
        if types and sorted(types) == list(range(len(types))):
            functions[name] = tuple(types[index] for index in range(len(types)))
    return functions


def _seen_width(quantizer: FixedType | None, buffer: FixedType) -> int:
    """The width HLS gives an element that a per-element ``quantizer`` sets and a ``buffer``
    type holds, 0 where it is held at zero: the quantizer's integer bits, at most the buffer's,
    and all the buffer's fractional bits (HLS drops the upper bits the quantizer's range leaves
    constant, not the lower ones its grid leaves zero: the layers' Verilog ports of the public
    HGQ projects are 14 bits for an ``ap_ufixed<4,12>`` element of an ``ap_fixed<15,13>`` buffer
    and 12 for an ``ap_fixed<10,4>`` one of ``ap_fixed<13,5>``, every port so)."""
    if quantizer is None:
        return 0
    return max(1, min(quantizer.integer, buffer.integer) + buffer.fraction)


def _quantized_buffers(top_cpp_text: str, code_gen: Path | None
                       ) -> dict[str, tuple[FixedType | None, ...]]:
    """Per buffer written by a per-element quantizer in the top function: its elements'
    quantizer types."""
    functions = _element_types(code_gen)
    return {buffer: functions[name] for name, buffer in _QUANTIZER_CALL.findall(top_cpp_text)
            if name in functions}


def _layers_from_headers(directory: Path, parameters: Path, defines: Path, top_cpp: Path,
                         reports: dict[str, SynthesisRecord]) -> list[DenseFacts]:
    types, configs, numbers = _typedefs(defines), _dense_configs(parameters), \
        _defined_numbers(defines)
    top_text = top_cpp.read_text(errors="replace")
    calls = _CALL.findall(top_text)
    quantized = _quantized_buffers(top_text, _find(directory, "nnet_utils/nnet_code_gen.h"))
    layers = []
    for index, (_function, in_type, out_type, config_name, args) in enumerate(calls):
        if config_name not in configs:
            continue
        values = {key: numbers.get(value.strip(), value)
                  for key, value in configs[config_name].items()}
        activation, output = "linear", _type(types, out_type, defines)
        following = calls[index + 1] if index + 1 < len(calls) else None
        if following and following[0] in ACTIVATIONS and following[1] == out_type:
            activation, output = following[0], _type(types, following[2], defines)
        arguments = [a.strip() for a in args.split(",")]
        n_in, n_out = int(values["n_in"]), int(values["n_out"])
        weight = _type(types, values.get("weight_t", ""), parameters)
        layer_input = _type(types, in_type, top_cpp)
        elements = quantized.get(arguments[0])
        widths = None if not elements or len(elements) != n_in else \
            tuple(_seen_width(element, layer_input) for element in elements)
        layers.append(DenseFacts(
            name=config_name, n_in=n_in, n_out=n_out, n_zeros=int(values.get("n_zeros", 0)),
            input=layer_input, weight=weight,
            accum=_type(types, values.get("accum_t", ""), parameters), output=output,
            reuse_factor=int(values.get("reuse_factor", 1)),
            strategy=_strategy(values.get("strategy", "nnet::latency")), activation=activation,
            mantissas=_weights_txt(directory, arguments[2] if len(arguments) > 2 else "",
                                   weight, (n_in, n_out)),
            input_widths=widths,
            report=reports.get(config_name)))
    return layers


def _weights_txt(directory: Path, name: str, weight: FixedType,
                 shape: tuple[int, int]) -> np.ndarray | None:
    """Integer mantissas from ``weights/<name>.txt`` (hls4ml's text weights), when present."""
    path = next((p for p in (directory / "firmware" / "weights" / f"{name}.txt",
                             directory / "weights" / f"{name}.txt") if p.is_file()), None)
    if path is None:
        return None
    values = np.array([float(v) for v in path.read_text().replace("\n", ",").split(",")
                       if v.strip()])
    if values.size != shape[0] * shape[1]:
        return None
    return mantissas(values.reshape(shape), weight)


def mantissas(values: np.ndarray, weight: FixedType) -> np.ndarray:
    """Integer mantissas of weights cast to ``weight`` as HLS does (truncation; values beyond
    the type's range wrap)."""
    raw = np.floor(np.asarray(values, dtype=np.float64) * 2.0 ** weight.fraction + 1e-9)
    span = 2 ** weight.width
    low = -(2 ** (weight.width - 1)) if weight.signed else 0
    return ((raw.astype(np.int64) - low) % span + low).astype(np.int64)


# --- Keras model and configuration --------------------------------------------------------


def _precision(config: dict, layer: str, kind: str) -> FixedType:
    hls = config.get("HLSConfig") or {}
    per_layer = ((hls.get("LayerName") or {}).get(layer) or {}).get("Precision")
    if isinstance(per_layer, dict) and kind in per_layer:
        found = FixedType.parse(str(per_layer[kind]))
        if found:
            return found
    if isinstance(per_layer, str) and FixedType.parse(per_layer):
        return FixedType.parse(per_layer)
    default = (hls.get("Model") or {}).get("Precision", DEFAULT_TYPE)
    if isinstance(default, dict):
        default = default.get(kind, default.get("default", DEFAULT_TYPE))
    return FixedType.parse(str(default)) or FixedType.parse(DEFAULT_TYPE)


def _layer_setting(config: dict, layer: str, key: str, default):
    hls = config.get("HLSConfig") or {}
    value = ((hls.get("LayerName") or {}).get(layer) or {}).get(key)
    return value if value is not None else (hls.get("Model") or {}).get(key, default)


def _activation(layer: dict) -> str:
    """What an Activation/QActivation/ReLU/Softmax layer computes."""
    kind, config = layer["class_name"], layer["config"]
    if kind in ("ReLU", "Softmax"):
        return kind.lower()
    activation = config.get("activation", "linear")
    if isinstance(activation, dict):
        activation = activation.get("class_name", "linear")
    return "relu" if "relu" in str(activation) else str(activation).split("(")[0]


def _keras_layers(model_file: Path) -> tuple[list[dict], dict]:
    import h5py

    try:
        with h5py.File(model_file, "r") as handle:
            model = json.loads(handle.attrs["model_config"])
            kernels: dict[str, np.ndarray] = {}

            def keep(key: str, obj) -> None:  # a returned value would stop visititems
                if key.endswith(("kernel:0", "kernel")) and hasattr(obj, "shape"):
                    kernels.setdefault(key.split("/")[0], obj[()])

            handle["model_weights"].visititems(keep)
    except (OSError, KeyError) as error:
        raise DataError(f"cannot read the Keras model {model_file} ({error})") from None
    return model["config"]["layers"], kernels


def _layers_from_keras(model_file: Path, config: dict) -> list[DenseFacts]:
    keras_layers, kernels = _keras_layers(model_file)
    io_input = next((layer["config"]["name"] for layer in keras_layers
                     if layer["class_name"] == "InputLayer"), "")
    current = _precision(config, io_input, "result")
    layers: list[DenseFacts] = []
    for layer in keras_layers:
        kind, name = layer["class_name"], layer["config"]["name"]
        if kind in ("Dense", "QDense"):
            kernel = np.asarray(kernels[name])
            weight, accum = _precision(config, name, "weight"), _precision(config, name, "accum")
            values = kernel
            if kind == "QDense" and layer["config"].get("kernel_quantizer"):
                values = np.rint(kernel * 2.0 ** weight.fraction) / 2.0 ** weight.fraction
            activation = str(layer["config"].get("activation", "linear"))
            output = _precision(config, f"{name}_{activation}", "result") \
                if activation != "linear" else _precision(config, name, "result")
            layers.append(DenseFacts(
                name=name, n_in=kernel.shape[0], n_out=kernel.shape[1],
                n_zeros=int(np.count_nonzero(mantissas(values, weight) == 0)), input=current,
                weight=weight, accum=accum, output=output,
                reuse_factor=int(_layer_setting(config, name, "ReuseFactor", 1)),
                strategy=str(_layer_setting(config, name, "Strategy", "latency")).lower(),
                activation=activation, mantissas=mantissas(values, weight)))
            current = output
        elif kind in ("Activation", "QActivation", "ReLU", "Softmax", "BatchNormalization"):
            current = _precision(config, name, "result")
            if layers and kind != "BatchNormalization":  # before the first: the input stage
                layers[-1] = replace(layers[-1], activation=_activation(layer), output=current)
        elif kind not in ("InputLayer", "Dropout", "Flatten", "Reshape"):
            raise DataError(f"{model_file}: layer '{name}' is a {kind}: only dense networks "
                            f"(Dense, QDense and activations) are estimated")
    return layers
