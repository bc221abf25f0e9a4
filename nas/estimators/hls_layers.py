"""The vendor HLS flow (hls4ml, io_parallel, Latency strategy): estimator and calibration rows.

hls4ml's Latency strategy unrolls every multiplication of a dense layer. A product of a
``b``-bit input and a ``p``-bit weight costs LUTs that grow with ``p * b`` while both are small;
from about 8 bits the HLS tool moves products into DSPs, and the LUT cost per product falls
again (seen in the wa-hls4ml-search results). No single formula fits that bend, so each
quantity is linear in "products at a precision": the nonzero weights of each layer spread over
the nearest knots of ``q = sqrt(p * b)`` (linear interpolation weights, ``KNOTS``), plus the
outputs of each layer at the same knots (the adder trees and registers per output). The fit
then learns a cost per product at each knot, and the estimate interpolates between knots.

Rows come from result tables (``rows_from_table``: the wa-hls4ml-search CSV layout) and from
hls4ml project directories (``rows_from_project``: the Keras model, the hls4ml configuration
and the C-synthesis report).
"""

import csv
import json
import math
import re
from pathlib import Path

import numpy as np
import yaml

from nas.errors import DataError
from nas.estimators.base import ResourceEstimator
from nas.estimators.csd import mean_csd_digits
from nas.estimators.design import DesignSummary, LayerSummary
from nas.hls.reports import parse_project

KNOTS = (2, 4, 6, 8, 10, 12, 14, 16)
#: What a result table says of its tool (the wa-hls4ml-search tables record no version).
TABLE_TOOL = "Vitis HLS (result table; version not recorded)"
_PRODUCTS = tuple(f"products_q{k}" for k in KNOTS)
_OUTPUTS = tuple(f"outputs_q{k}" for k in KNOTS)

#: Before calibration: products of q bits cost q*q/2 LUTs, q FFs, no DSP; a cycle per layer.
PRIOR = {"lut": tuple([k * k / 2 for k in KNOTS] + [0.0] * len(KNOTS)),
         "ff": tuple([float(k) for k in KNOTS] + [0.0] * len(KNOTS)),
         "dsp": (0.0,) * len(KNOTS), "latency_cycles": (1.0,)}


class _LenientLoader(yaml.SafeLoader):
    """hls4ml writes ``!keras_model`` tags into its configuration: read them as strings."""


_LenientLoader.add_multi_constructor("!", lambda loader, suffix, node: loader.construct_scalar(node))


def _knot_weights(q: float) -> dict[int, float]:
    """Linear interpolation weights of ``q`` on the knots (clamped to their range)."""
    q = min(max(q, KNOTS[0]), KNOTS[-1])
    for low, high in zip(KNOTS[:-1], KNOTS[1:], strict=True):
        if q <= high:
            share = (q - low) / (high - low)
            return {low: 1.0 - share, high: share}
    return {KNOTS[-1]: 1.0}


class HlsLayerEstimator(ResourceEstimator):
    """Vendor HLS (Latency strategy) estimate from layer sizes, bits and nonzero weights."""

    name = "hls_layers"
    prior = PRIOR
    flow = "vitis"
    part_family = "vu13p"
    quantity_features = {"lut": _PRODUCTS + _OUTPUTS, "ff": _PRODUCTS + _OUTPUTS,
                         "dsp": _PRODUCTS, "latency_cycles": ("layers",)}
    feature_definitions = {
        **{f"products_q{k}": f"nonzero weights whose sqrt(weight bits x input bits) is near "
           f"{k} (interpolated)" for k in KNOTS},
        **{f"outputs_q{k}": f"layer outputs at the same precision near {k}" for k in KNOTS},
        "layers": "dense layers",
    }

    def features(self, design: DesignSummary) -> dict[str, float]:
        values = dict.fromkeys((*_PRODUCTS, *_OUTPUTS), 0.0)
        for layer in design.layers:
            q = math.sqrt(layer.weight_bits * layer.input_bits)
            for knot, share in _knot_weights(q).items():
                values[f"products_q{knot}"] += share * layer.nonzero_weights
                values[f"outputs_q{knot}"] += share * layer.n_out
        values["layers"] = float(len(design.layers))
        return values


def _row(layers: list[LayerSummary], measured: dict, source: str, tool: str) -> dict:
    return {"design": DesignSummary(tuple(layers)).to_dict(), "measured": measured,
            "source": source, "tool": tool}


def _dense(n_in: int, n_out: int, input_bits: int, weight_bits: int, nonzero: float) -> LayerSummary:
    return LayerSummary(n_in, n_out, input_bits, weight_bits, nonzero,
                        nonzero * mean_csd_digits(weight_bits), 0)


def rows_from_table(path: Path, strategy: str = "latency", reuse: int = 1) -> list[dict]:
    """Rows of a wa-hls4ml-search style CSV (one QDense layer per row: ``d_in``, ``d_out``,
    ``prec``, ``rf``, ``strategy``, ``hls_synth_success`` and the ``*_hls`` results); only
    successful syntheses of ``strategy`` at ``reuse``, one row per distinct design."""
    needed = {"d_in", "d_out", "prec", "rf", "strategy", "hls_synth_success", "LUT_hls",
              "FF_hls", "DSP_hls", "BRAM_18K_hls", "WorstLatency_hls"}
    try:
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            missing = needed - set(reader.fieldnames or ())
            if missing:
                raise DataError(f"{path}: not a result table, it lacks the columns "
                                f"{', '.join(sorted(missing))}")
            table = list(reader)
    except OSError as error:
        raise DataError(f"cannot read {path}: {error.strerror}") from None
    rows, seen = [], set()
    for entry in table:
        key = (entry["d_in"], entry["d_out"], entry["prec"])
        if (entry["hls_synth_success"] != "True" or entry["strategy"] != strategy
                or int(entry["rf"]) != reuse or key in seen):
            continue
        seen.add(key)
        d_in, d_out, prec = (int(v) for v in key)
        measured = {"lut": float(entry["LUT_hls"]), "ff": float(entry["FF_hls"]),
                    "dsp": float(entry["DSP_hls"]), "bram": float(entry["BRAM_18K_hls"]) / 2,
                    "latency_cycles": max(1.0, float(entry["WorstLatency_hls"]))}
        rows.append(_row([_dense(d_in, d_out, prec, prec, d_in * d_out)], measured,
                         f"{path.name}: {d_in}x{d_out} {prec}-bit", TABLE_TOOL))
    if not rows:
        raise DataError(f"{path}: no successful {strategy} synthesis at reuse {reuse}")
    return rows


def _fixed_bits(text: str) -> tuple[int, int]:
    match = re.search(r"fixed<\s*(\d+)\s*,\s*(-?\d+)", text)
    if not match:
        raise DataError(f"cannot read precision {text!r}: expected (ap_)fixed<W,I>")
    return int(match.group(1)), int(match.group(2))


def _dense_layers(model_file: Path) -> list[tuple[str, np.ndarray]]:
    """(name, kernel) of each Dense/QDense layer of a Keras HDF5 model, in order."""
    import h5py

    with h5py.File(model_file, "r") as handle:
        config = json.loads(handle.attrs["model_config"])
        layers = []
        for layer in config["config"]["layers"]:
            if layer["class_name"] not in ("Dense", "QDense"):
                continue
            name = layer["config"]["name"]
            group = handle["model_weights"][name]
            kernels = []
            group.visititems(lambda key, obj, out=kernels: out.append(obj[()])
                             if key.endswith("kernel:0") else None)
            layers.append((name, kernels[0]))
    return layers


def rows_from_project(directory: Path) -> list[dict]:
    """One row from an hls4ml project directory: its dense layers (from ``keras_model.h5``
    and ``hls4ml_config.yml``: sizes, weight and input precision, nonzero weights after
    quantization) and its C-synthesis report. Projects with other layers (CNNs) or without
    the three files give no row."""
    model_file, config_file = directory / "keras_model.h5", directory / "hls4ml_config.yml"
    records = [r for r in parse_project(directory) if r.flow == "hls_estimate"]
    if not (model_file.exists() and config_file.exists() and records):
        return []
    with open(config_file) as handle:
        config = yaml.load(handle, Loader=_LenientLoader)
    hls = config.get("HLSConfig", {})
    default_bits = _fixed_bits(hls.get("Model", {}).get("Precision", "fixed<16,6>"))
    per_layer = hls.get("LayerName", {})
    layers, input_bits = [], default_bits[0]
    for name, kernel in _dense_layers(model_file):
        precision = per_layer.get(name, {}).get("Precision", {})
        width, integer = _fixed_bits(precision["weight"]) if "weight" in precision else default_bits
        nonzero = float(np.count_nonzero(np.rint(kernel * 2.0 ** (width - integer))))
        layers.append(_dense(kernel.shape[0], kernel.shape[1], input_bits, width, nonzero))
        result = precision.get("result")
        input_bits = _fixed_bits(result)[0] if result else default_bits[0]
    record = records[0]
    measured = {"lut": float(record.lut or 0), "ff": float(record.ff or 0),
                "dsp": float(record.dsp or 0), "bram": float(record.bram18 or 0) / 2,
                "latency_cycles": float(max(1, record.latency_worst or 1))}
    row = _row(layers, measured, str(directory), f"{record.tool} {record.version}")
    row.update(part=record.part, reuse=hls.get("Model", {}).get("ReuseFactor", 1))
    return [row]
