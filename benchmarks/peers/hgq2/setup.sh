#!/usr/bin/env bash
# Create <repo>/.venv-hgq2 (or $HGQ2_VENV) with Python 3.11 and install requirements.txt into it.
# Idempotent: skipped when the stamp in the venv says the same requirements are already installed.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../../.." && pwd)"
VENV="${HGQ2_VENV:-$REPO/.venv-hgq2}"
REQUIREMENTS="$HERE/requirements.txt"
STAMP="$VENV/.hgq2-requirements.sha256"

fail() { echo "hgq2 peer setup failed: $*" >&2; exit 1; }

PYTHON="$(command -v python3.11 || command -v python3 || true)"
[ -n "$PYTHON" ] || fail "no python3.11 or python3 on PATH"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
    || echo "warning: $PYTHON is not Python 3.11; the pins were made with 3.11" >&2

WANT="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
    echo "hgq2 peer: $VENV is up to date"
    exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV" || fail "could not create the venv at $VENV"
fi
rm -f "$STAMP"
"$VENV/bin/python" -m pip install --quiet -r "$REQUIREMENTS" \
    || fail "pip could not install $REQUIREMENTS into $VENV"
"$VENV/bin/python" -m pip check || fail "inconsistent packages in $VENV"
TF_CPP_MIN_LOG_LEVEL=3 "$VENV/bin/python" -c 'import hgq, da4ml, keras; assert keras.backend.backend() == "tensorflow"' \
    || fail "hgq2/da4ml/keras do not import in $VENV"
echo "$WANT" > "$STAMP"
echo "hgq2 peer: installed into $VENV"
