"""HLS export with bit-exact C simulation, vendor synthesis when present, report parsing."""

from nas.hls.api import export
from nas.hls.reports import SynthesisRecord, parse_project

__all__ = ["SynthesisRecord", "export", "parse_project"]
