"""The hardware flows: the open flow (da4ml trace, pipelined RTL, Verilator, yosys), hls4ml
projects whose C simulation is bit-exact (``export``: a student written as a project), the
facts of existing hls4ml projects (``project_facts``: read from someone's folder) and of
result tables, and the parsing of vendor synthesis reports."""

from nas.hls.reports import SynthesisRecord, parse_project

__all__ = ["SynthesisRecord", "parse_project"]
