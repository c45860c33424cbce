# `make run`: install, then check the shipped cases.  `make check`: install, then every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
EXTRAS ?= torch,jax,dask,plot,test

.PHONY: install install-dev run test cases check bench fuzz mutate clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

install: $(PY)
	$(PY) -m pip install --quiet -e '.[torch,jax]'

install-dev: $(PY)
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'

run: install
	$(BIN)/fdcheck run cases/ --allow-python

test: install-dev
	$(PY) -m pytest -q

cases: install-dev
	$(BIN)/fdcheck run cases/ --allow-python

check: install-dev
	$(BIN)/mypy
	$(PY) -m pytest -q
	$(BIN)/fdcheck run cases/ --allow-python

bench: install-dev
	$(PY) -m pip install --quiet -e '.[$(EXTRAS),bench]'
	$(PY) benchmarks/speed.py
	$(PY) benchmarks/frameworks.py
	$(PY) benchmarks/gradcheck_compare.py
	$(PY) benchmarks/accuracy.py
	$(PY) benchmarks/verdicts.py
	$(PY) benchmarks/diagnosis.py
	$(PY) benchmarks/mistakes.py
	$(PY) benchmarks/chunks.py
	$(PY) benchmarks/opinfo.py
	$(PY) benchmarks/memory.py
	$(PY) benchmarks/failfast.py --large
	$(PY) benchmarks/dropin.py
	$(PY) benchmarks/catalogue.py
	$(PY) benchmarks/explore.py

# The fuzzer of tests/test_fuzz.py with new examples each run (make check runs a
# fixed, small set): FUZZ_EXAMPLES per property.
FUZZ_EXAMPLES ?= 2000
fuzz: install-dev
	FDCHECK_FUZZ_RANDOM=1 FDCHECK_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -q tests/test_fuzz.py

# Mutation testing of the modules that decide verdicts (benchmarks/mutate.py):
# MUTANTS per module, each against the module's own tests; the score and the survivors.
MUTANTS ?= 120
mutate: install-dev
	$(PY) benchmarks/mutate.py --per-module $(MUTANTS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
