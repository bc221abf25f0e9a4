"""Where a vendor estimate leaves its calibration's data: a layer wider, a reuse factor larger,
a part family, tool version or strategy absent from the reports the coefficients were fitted
on, inputs quantized element by element (HGQ) where no calibration layer's were, a clock that
leaves the logic of a cycle more or less time than any calibration design of its part family
had (the pipeline and its registers follow that time: ``VendorDesign.usable_ns``). Each is one
short phrase; an estimate with any is an extrapolation."""

from collections.abc import Mapping

from nas.estimators.vendor.design import VendorDesign


def _tool_known(tool: str, versions: list[str]) -> bool:
    """``tool`` ("Vitis HLS 2021.1", or "Vitis HLS" when no version is known) is among the
    calibration's ``versions`` (a tool without a version: any version of it)."""
    return any(known == tool or known.startswith(f"{tool} ") for known in versions)


def _clock_outside(design: VendorDesign, spans: Mapping[str, list[float]]) -> list[str]:
    """The phrase for a design whose logic time a cycle lies outside its family's span."""
    if design.part_family not in spans:
        return []
    low, high = spans[design.part_family]
    usable = design.usable_ns
    if low <= usable <= high:
        return []
    return [f"clock {design.clock_period_ns:.3g} ns less {design.clock_uncertainty_ns:.3g} ns "
            f"uncertainty leaves {usable:.2f} ns of -1 Artix-7 logic a cycle (calibration, "
            f"{design.part_family}: {low:.2f} to {high:.2f})"]


def extrapolations(design: VendorDesign, data: Mapping, tool_versions: str,
                   tool: str | None = None) -> list[str]:
    """What of ``design`` lies outside ``data`` (a calibration's data summary) and
    ``tool_versions`` (its comma-separated HLS tools and versions); ``tool`` is the design's
    tool with its version when known (default: the design's tool, without)."""
    found = []
    widest_in = data.get("layer_inputs", [0, 0])[1]
    widest_out = data.get("layer_outputs", [0, 0])[1]
    largest_reuse = data.get("reuse_factors", [0, 0])[1]
    most_latency_products = data.get("latency_products", [0, 0])[1]
    for index, layer in enumerate(design.layers, start=1):
        if widest_in and layer.n_in > widest_in:
            found.append(f"layer {index} has {layer.n_in} inputs (calibration: at most "
                         f"{widest_in})")
        if widest_out and layer.n_out > widest_out:
            found.append(f"layer {index} has {layer.n_out} outputs (calibration: at most "
                         f"{widest_out})")
        if most_latency_products and layer.strategy == "latency" and \
                layer.n_weights > most_latency_products:
            found.append(f"layer {index} has {layer.n_weights} products in the Latency "
                         f"strategy (calibration: at most {most_latency_products})")
        if largest_reuse and layer.reuse_factor > largest_reuse:
            found.append(f"layer {index} has reuse factor {layer.reuse_factor} (calibration: "
                         f"at most {largest_reuse})")
        if "strategies" in data and layer.strategy not in data["strategies"]:
            found.append(f"layer {index} uses the {layer.strategy} strategy (calibration: "
                         f"{', '.join(data['strategies'])})")
    quantized = [str(index) for index, layer in enumerate(design.layers, start=1)
                 if layer.per_element_inputs]
    if quantized and not data.get("per_element_input_layers"):
        found.append(f"inputs of layer {', '.join(quantized)} quantized element by element (HGQ; "
                     f"calibration: no such layer)")
    if "part_families" in data and design.part_family not in data["part_families"]:
        found.append(f"part family {design.part_family} (calibration: "
                     f"{', '.join(data['part_families'])})")
    found.extend(_clock_outside(design, data.get("usable_ns", {})))
    versions = [v.strip() for v in tool_versions.split(",") if v.strip()]
    tool = tool or design.tool
    if versions and not _tool_known(tool, versions):
        found.append(f"tool {tool} (calibration: {', '.join(versions)})")
    return list(dict.fromkeys(found))
