#!/usr/bin/env bash
# The open flow simulates the VHDL it writes when GHDL is on PATH (Debian's ghdl package; da4ml
# turns the VHDL into a netlist with `ghdl synth` and simulates that). Install it when it is
# missing and we may (root, as in CI); otherwise the VHDL is written but not simulated, and
# the records say so.
set -u
if command -v ghdl >/dev/null; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian's ghdl to simulate the VHDL"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ghdl >/dev/null
else
  echo "GHDL is not installed and cannot be installed here: VHDL will not be simulated"
fi
exit 0
