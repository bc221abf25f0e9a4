"""HLS export, C simulation, RTL generation, synthesis drivers and report parsing.

Empty until the HLS-export and open-flow issues land; the search stores everything they need
(student configuration and quantized weights as trial artifacts).
"""
