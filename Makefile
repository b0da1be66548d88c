# Set-up and entry points. `make demo` and `make test` are the two commands of the README:
# each creates the virtual environment if it is missing (Python >= 3.12 is needed by the
# dolfinx-solver-real wheel), then runs the default case or the whole test suite.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test venv clean benchmark

venv: $(STAMP)

$(STAMP): pyproject.toml
	@PY=$$(sh .ci/find-python) || exit 1; \
	  echo "using $$PY ($$($$PY --version))"; \
	  [ -x $(BIN)/python ] || $$PY -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/anodesim run studies/reflection_insert.toml -o results/demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

benchmark: $(STAMP)
	$(BIN)/python studies/benchmark_thermal.py

clean:
	rm -rf $(VENV) results build src/*.egg-info
