"""What an estimator sees of a design: per dense layer, sizes, precisions and weight statistics.

A summary is built either from a student configuration before training (expected nonzero
weights and CSD digits, ``expected_design``) or from the trained, quantized weights (actual
counts, ``trained_design``).
"""

from dataclasses import asdict, dataclass

import numpy as np

from nas.estimators.csd import csd_digits, mean_csd_digits
from nas.model.config import StudentConfig, quantized_kernels, weight_mantissas


@dataclass(frozen=True)
class LayerSummary:
    """One dense layer as the hardware sees it.

    ``input_bits`` is the width of each input value, ``weight_bits`` of each weight mantissa
    (sign included), ``nonzero_weights`` the weights that are not zero after quantization and
    pruning, ``csd_digits`` the nonzero CSD digits of those weights added up, and
    ``output_bits`` the width kept after the activation (0: the layer outputs its full
    accumulator, as the logits layer does).
    """

    n_in: int
    n_out: int
    input_bits: int
    weight_bits: int
    nonzero_weights: float
    csd_digits: float
    output_bits: int

    @classmethod
    def expected(cls, n_in: int, n_out: int, input_bits: int, weight_bits: int,
                 sparsity: float, output_bits: int) -> "LayerSummary":
        """Before training: nonzero weights from the target sparsity, mean CSD digits."""
        nonzero = n_in * n_out * (1.0 - sparsity)
        return cls(n_in, n_out, input_bits, weight_bits, nonzero,
                   nonzero * mean_csd_digits(weight_bits), output_bits)

    @classmethod
    def from_mantissas(cls, mantissas: np.ndarray, input_bits: int, weight_bits: int,
                       output_bits: int, positions: int = 1) -> "LayerSummary":
        """After training: from the integer weight mantissas (inputs..., outputs), used at
        ``positions`` places (a convolution's window positions; 1 for a dense layer)."""
        n_out = mantissas.shape[-1]
        n_in = mantissas.size // n_out
        return cls(n_in, n_out * positions, input_bits, weight_bits,
                   float(np.count_nonzero(mantissas)) * positions,
                   float(csd_digits(mantissas).sum()) * positions, output_bits)


@dataclass(frozen=True)
class DesignSummary:
    layers: tuple[LayerSummary, ...]

    @property
    def n_weights(self) -> int:
        return sum(layer.n_in * layer.n_out for layer in self.layers)

    @property
    def nonzero_weights(self) -> float:
        return sum(layer.nonzero_weights for layer in self.layers)

    def to_dict(self) -> dict:
        return {"layers": [asdict(layer) for layer in self.layers]}

    @classmethod
    def from_dict(cls, values: dict) -> "DesignSummary":
        return cls(tuple(LayerSummary(**layer) for layer in values["layers"]))


def expected_design(config: StudentConfig, n_inputs: int, n_classes: int) -> DesignSummary:
    """The estimator's view of ``config`` before training (target sparsity, mean CSD digits)."""
    out_bits = [*config.act_bits, 0]
    return DesignSummary(tuple(
        LayerSummary.expected(n_in, n_out, in_bits, w_bits, config.sparsity, o_bits)
        for (n_in, n_out), in_bits, w_bits, o_bits in zip(
            config.layer_shapes(n_inputs, n_classes), config.layer_input_bits(),
            config.weight_bits, out_bits, strict=True)))


def trained_design(model, config: StudentConfig) -> DesignSummary:
    """The estimator's view of a trained student: actual nonzero weights and CSD digits."""
    out_bits = [*config.act_bits, 0]
    geometry = config.layer_geometry(model.input_shape[-1], model.output_shape[-1])
    layers = []
    for kernel, in_bits, w_bits, w_int, o_bits, (_, _, positions) in zip(
            quantized_kernels(model, config), config.layer_input_bits(), config.weight_bits,
            config.weight_int_bits, out_bits, geometry, strict=True):
        layers.append(LayerSummary.from_mantissas(weight_mantissas(kernel, w_bits, w_int),
                                                  in_bits, w_bits, o_bits, positions))
    return DesignSummary(tuple(layers))
