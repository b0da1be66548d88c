# Set-up and entry points. `make demo` and `make test` are the two commands of the README:
# each creates the virtual environment if it is missing (Python >= 3.12 is needed by the
# dolfinx-solver-real wheel), then runs the default case or the whole test suite.
# `make check` is the quick tier to run while editing: every test not marked slow, mpi,
# docker or slurm (markers in pyproject.toml).
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check venv clean benchmark studies readme-figures

venv: $(STAMP)

$(STAMP): pyproject.toml
	@PY=$$(sh .ci/find-python) || exit 1; \
	  echo "using $$PY ($$($$PY --version))"; \
	  [ -x $(BIN)/python ] || $$PY -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	# the bytecode of the editable sources, as pip writes it for a regular install: where
	# Python may not write it (PYTHONDONTWRITEBYTECODE, a read-only tree) every process
	# compiled the package from source (0.08 s of `anodesim check`, 0.16 s of CPU a run)
	$(BIN)/python -m compileall -q src
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/anodesim run studies/reflection_insert.toml -o results/demo --overwrite

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=15

check: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not mpi and not docker and not slurm"

benchmark: $(STAMP)
	$(BIN)/python studies/benchmark_thermal.py

# The shipped studies (studies/<name>/study.toml) into results/<name>/, their tables and
# plots copied back next to them.
STUDIES := warmup_drift spot_power duty_cycle
studies: $(STAMP)
	@for s in $(STUDIES); do \
	  $(BIN)/anodesim sweep studies/$$s/study.toml -o results/$$s -j 2 || exit 1; \
	  cp results/$$s/results.csv results/$$s/results.png studies/$$s/; \
	done
	$(BIN)/python studies/spot_power/compare.py results/spot_power studies/spot_power/w_per_um.png

# The README's example figures (studies/figures/) and the numbers it quotes, re-made.
readme-figures: $(STAMP)
	bash studies/readme_figures.sh

clean:
	rm -rf $(VENV) results build src/*.egg-info
