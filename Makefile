# `make run` and `make test` do all the set-up on a fresh machine (Python 3.11 needed).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv run test lint bench bench-quick bench-more lock clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

venv: $(STAMP)

run: venv
	$(VENV)/bin/nas run --space mlp_psd

lint: venv
	$(VENV)/bin/ruff check .

test: venv lint
	scripts/ensure_postgres.sh
	$(PY) -m pytest -q -rs

# The search against the manual workflow, 3 seeds, every front synthesized (63 min on
# 2 cores): writes benchmarks/RESULTS.md. bench-quick checks the harness in a few minutes.
bench: venv
	$(PY) benchmarks/bench_workflows.py

bench-quick: venv
	$(PY) benchmarks/bench_workflows.py --quick

# Throughput, synthesis, storage scaling and estimator benchmarks (about 60 min on 2 cores).
bench-more: venv
	cd benchmarks && ../$(PY) bench_search.py && ../$(PY) bench_synth.py && ../$(PY) bench_scale.py && \
	  ../$(PY) bench_estimators.py

# Re-pin every package after changing a dependency in pyproject.toml.
lock: venv
	{ sed -n '1,2p' requirements.lock; \
	  $(PY) -m pip freeze --all --exclude-editable | grep -v -e '^nas-fpga' -e '^pip=='; \
	} > requirements.lock.new
	mv requirements.lock.new requirements.lock

clean:
	rm -rf $(VENV) build *.egg-info
