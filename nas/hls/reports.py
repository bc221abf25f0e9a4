"""Normalized records from an hls4ml project's reports: Vivado/Vitis HLS C-synthesis of the
top function (``<ProjectName>_csynth.xml``, or the ``.rpt`` when the XML is missing) and Vivado
logic synthesis (``vivado_synth.rpt``). ``parse_project`` finds them anywhere under the project
directory; ``layer_csynths`` reads the reports HLS writes beside the top's for the dense layers'
functions, where it kept them.

Written here rather than with ``hls4ml.report.parse_vivado_report``: that function expects
the full project layout (``myproject_prj/solution1/...``) and returns a nested dict per report
kind, while calibration needs flat, typed rows from any folder that holds the report files.
"""

import re
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from pathlib import Path

from nas.errors import DataError


@dataclass(frozen=True)
class SynthesisRecord:
    """One design's numbers from one report. ``flow`` is ``hls_estimate`` (C synthesis) or
    ``post_synthesis`` (Vivado logic synthesis); ``tool`` is ``Vivado HLS``, ``Vitis HLS`` or
    ``Vivado``; absent values are None."""

    flow: str
    tool: str
    version: str
    part: str | None
    clock_target_ns: float | None
    clock_estimate_ns: float | None
    lut: int | None
    ff: int | None
    dsp: int | None
    bram18: int | None
    latency_best: int | None
    latency_worst: int | None
    interval_min: int | None
    interval_max: int | None
    source: str
    clock_uncertainty_ns: float | None = None
    product_family: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _number(text: str | None, kind=int):
    if text is None or not text.strip() or text.strip() in ("-", "undef"):
        return None
    return kind(float(text.strip()))


def hls_tool(version: str, flow_target: bool, header: str = "") -> str:
    """Vivado HLS or Vitis HLS. The report header names the tool when there is one; else Vitis
    HLS writes a flow target (and is the only one after 2020.1: Vivado HLS ended there)."""
    if "Vitis HLS" in header or "Vivado HLS" in header:
        return "Vitis HLS" if "Vitis HLS" in header else "Vivado HLS"
    year = re.match(r"(\d{4})\.(\d)", version.strip())
    later = bool(year) and (int(year.group(1)), int(year.group(2))) > (2020, 1)
    return "Vitis HLS" if flow_target or later or "vitis" in version.lower() else "Vivado HLS"


def _rpt_header(path: Path) -> str:
    """The first lines of the text report beside an XML report (they name the tool)."""
    text_report = path.with_suffix(".rpt")
    return text_report.read_text(errors="replace")[:400] if text_report.is_file() else ""


def parse_csynth_xml(path: Path) -> SynthesisRecord:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as error:
        raise DataError(f"{path} is not a C-synthesis report ({error})") from None

    def find(tag: str) -> str | None:
        element = root.find(f".//{tag}")
        return element.text if element is not None else None

    resources = root.find(".//AreaEstimates/Resources")
    dsp = None
    if resources is not None:
        dsp = next((_number(resources.findtext(tag)) for tag in ("DSP", "DSP48E")
                    if resources.find(tag) is not None), None)
    version = (find("ReportVersion/Version") or "").strip()
    return SynthesisRecord(
        flow="hls_estimate",
        tool=hls_tool(version, root.find(".//UserAssignments/FlowTarget") is not None,
                      _rpt_header(path)),
        version=version, part=find("UserAssignments/Part"),
        clock_target_ns=_number(find("UserAssignments/TargetClockPeriod"), float),
        clock_estimate_ns=_number(find("PerformanceEstimates/SummaryOfTimingAnalysis/"
                                       "EstimatedClockPeriod"), float),
        lut=_number(resources.findtext("LUT")) if resources is not None else None,
        ff=_number(resources.findtext("FF")) if resources is not None else None,
        dsp=dsp, bram18=_number(resources.findtext("BRAM_18K")) if resources is not None else None,
        latency_best=_number(find("PerformanceEstimates/SummaryOfOverallLatency/Best-caseLatency")),
        latency_worst=_number(find("PerformanceEstimates/SummaryOfOverallLatency/Worst-caseLatency")),
        interval_min=_number(find("PerformanceEstimates/SummaryOfOverallLatency/Interval-min")),
        interval_max=_number(find("PerformanceEstimates/SummaryOfOverallLatency/Interval-max")),
        source=str(path),
        clock_uncertainty_ns=_number(find("UserAssignments/ClockUncertainty"), float),
        product_family=find("UserAssignments/ProductFamily"))


def parse_csynth_rpt(path: Path) -> SynthesisRecord:
    """The text C-synthesis report (when no XML was kept)."""
    text = path.read_text(errors="replace")

    def grab(pattern: str, kind=int):
        match = re.search(pattern, text)
        return _number(match.group(1), kind) if match else None

    version = re.search(r"Version:\s*(\S+)", text)
    family = re.search(r"\* Product family:\s*(\S+)", text)
    uncertainty = re.search(r"\|ap_clk\s*\|\s*[\d.]+ ns\s*\|\s*[\d.]+ ns\s*\|\s*([\d.]+) ns", text)
    totals = re.search(r"\|Total\s*\|\s*(\d+)\|\s*(\d+)\|\s*(\d+)\|\s*(\d+)\|\s*(\d+)\|", text)
    latency = re.search(r"\|\s*Latency \(cycles\)[\s\S]*?\n\s*\|\s*(\d+)\|\s*(\d+)\|[^|]*\|[^|]*\|"
                        r"\s*(\d+)\|\s*(\d+)\|", text)
    return SynthesisRecord(
        flow="hls_estimate", tool=hls_tool(version.group(1) if version else "", False, text[:400]),
        version=version.group(1) if version else "", part=(re.search(r"\* Target device:\s*(\S+)",
                                                                     text) or [None, None])[1],
        clock_target_ns=grab(r"\|ap_clk\s*\|\s*([\d.]+)", float),
        clock_estimate_ns=grab(r"\|ap_clk\s*\|\s*[\d.]+ ns\s*\|\s*([\d.]+)", float),
        lut=int(totals.group(4)) if totals else None, ff=int(totals.group(3)) if totals else None,
        dsp=int(totals.group(2)) if totals else None, bram18=int(totals.group(1)) if totals else None,
        latency_best=int(latency.group(1)) if latency else None,
        latency_worst=int(latency.group(2)) if latency else None,
        interval_min=int(latency.group(3)) if latency else None,
        interval_max=int(latency.group(4)) if latency else None, source=str(path),
        clock_uncertainty_ns=float(uncertainty.group(1)) if uncertainty else None,
        product_family=family.group(1) if family else None)


def parse_vivado_synth(path: Path) -> SynthesisRecord:
    """Vivado's ``report_utilization`` after synthesis (7-series and UltraScale names)."""
    text = path.read_text(errors="replace")

    def used(*names: str) -> int | None:
        for name in names:
            match = re.search(rf"^\|\s*{re.escape(name)}\*?\s*\|\s*([\d.]+)\s*\|", text, re.M)
            if match:
                return int(float(match.group(1)))
        return None

    version = re.search(r"Tool Version\s*:\s*Vivado v\.(\S+)", text)
    device = re.search(r"\|\s*Device\s*:\s*(\S+)", text)
    bram36 = used("Block RAM Tile")
    return SynthesisRecord(
        flow="post_synthesis", tool="Vivado", version=version.group(1) if version else "",
        part=device.group(1) if device else None, clock_target_ns=None, clock_estimate_ns=None,
        lut=used("Slice LUTs", "CLB LUTs"), ff=used("Slice Registers", "CLB Registers"),
        dsp=used("DSPs"), bram18=None if bram36 is None else 2 * bram36, latency_best=None,
        latency_worst=None, interval_min=None, interval_max=None, source=str(path))


def project_name(directory: Path) -> str:
    """The hls4ml project's name (its top function): ``ProjectName`` in ``hls4ml_config.yml``,
    ``myproject`` (hls4ml's default) when the folder has no configuration naming one."""
    config = Path(directory) / "hls4ml_config.yml"
    if config.is_file():
        match = re.search(r"^ProjectName:\s*['\"]?([\w-]+)", config.read_text(errors="replace"),
                          re.M)
        if match:
            return match.group(1)
    return "myproject"


def _nested(directory: Path) -> list[Path]:
    """The folders below ``directory`` that hold another project (their own
    ``hls4ml_config.yml``)."""
    return [p.parent for p in directory.rglob("hls4ml_config.yml") if p.parent != directory]


def _own(directory: Path, names: str, nested: list[Path]) -> list[Path]:
    """The files matching ``names`` under ``directory``, not those in a ``nested`` project."""
    return [p for p in sorted(directory.rglob(names))
            if not any(folder in p.parents for folder in nested)]


def top_csynth(directory: Path, top: str) -> list[SynthesisRecord]:
    """The C-synthesis reports of the top function ``top`` under ``directory``: its XML
    reports, else the solution's ``csynth.xml`` (Vivado HLS's copy of the top's report), else
    its text reports when no XML was kept; never a per-layer report, nor one of another
    project kept in a folder below (one with its own ``hls4ml_config.yml``)."""
    directory = Path(directory)
    nested = _nested(directory)
    xmls = _own(directory, f"{top}_csynth.xml", nested) or _own(directory, "csynth.xml", nested)
    if xmls:
        return [parse_csynth_xml(p) for p in xmls]
    return [parse_csynth_rpt(p) for p in _own(directory, f"{top}_csynth.rpt", nested)]


#: A dense layer's function's report: hls4ml names the function after the layer's config
#: (``dense_<strategy>_<types>_config2_s`` in Vitis HLS, ``..._config2_0_0_0`` in Vivado HLS).
_LAYER_REPORT = re.compile(r"^dense\w*?_(config\d+)(?:_[0-9s]+)*_csynth\.xml$")


def layer_csynths(directory: Path) -> dict[str, SynthesisRecord]:
    """Per dense layer's config name (``config2``), the C-synthesis report HLS wrote for the
    layer's function under ``directory``, not one of a project below; a layer is absent where
    HLS kept no report (it inlines small functions) or where its reports differ (two
    solutions)."""
    found: dict[str, list[SynthesisRecord]] = {}
    directory = Path(directory)
    for path in _own(directory, "dense*_csynth.xml", _nested(directory)):
        match = _LAYER_REPORT.match(path.name)
        if match:
            found.setdefault(match.group(1), []).append(parse_csynth_xml(path))
    return {config: records[0] for config, records in found.items()
            if len({(r.latency_worst, r.lut, r.ff, r.dsp) for r in records}) == 1}


def parse_project(directory: Path) -> list[SynthesisRecord]:
    """Every report of an hls4ml project directory: the top function's C synthesis (named by
    the project's configuration), then Vivado logic synthesis."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"'{directory}' is not a directory: give an hls4ml project directory")
    records = top_csynth(directory, project_name(directory))
    records += [parse_vivado_synth(p) for p in sorted(directory.rglob("vivado_synth.rpt"))]
    if not records:
        raise DataError(f"no synthesis report under '{directory}': build the project first "
                        f"(with Vivado or Vitis)")
    return records
