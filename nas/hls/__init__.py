"""The hardware flows: the open flow (da4ml trace, pipelined RTL, Verilator, yosys), hls4ml
projects whose C simulation is bit-exact, and the parsing of vendor synthesis reports."""

from nas.hls.reports import SynthesisRecord, parse_project

__all__ = ["SynthesisRecord", "parse_project"]
