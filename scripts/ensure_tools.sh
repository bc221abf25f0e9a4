#!/usr/bin/env bash
# Debian packages, named as arguments: postgresql (a real server for the scale-out and fault
# tests), ghdl (the open flow simulates its VHDL with it) and ccache (Verilator's runtime is
# compiled once, not once per design: each bit-exact check about 45 % faster). Each is installed when missing and
# we may (root, as in CI); otherwise the tests that need it skip, or the VHDL is not simulated,
# and they say so.
set -u
ensure() {  # package, command that succeeds when it is installed, what it is for
  if eval "$2" >/dev/null 2>&1; then
    return
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian's $1 $3"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
  else
    echo "$1 is not installed and cannot be installed here: $3 is skipped"
  fi
}
for package in "$@"; do
  case "$package" in
    postgresql) ensure postgresql "ls /usr/lib/postgresql/*/bin/initdb" "for the scale-out and fault tests" ;;
    ghdl) ensure ghdl "command -v ghdl" "to simulate the VHDL" ;;
    ccache) ensure ccache "command -v ccache" "to cache Verilator's compiles" ;;
    *) echo "ensure_tools.sh: unknown package $package" >&2; exit 2 ;;
  esac
done
exit 0
