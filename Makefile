# shipline: `make demo` runs the main job, `make test` runs the tests. Each sets up .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export SAM_CLI_TELEMETRY := 0

.PHONY: demo test fuzz lint validate bench deploy clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)  ## the whole chain against an emulated AWS account on this machine
	$(BIN)/shipline demo

test: $(STAMP)  ## lint, type-check and the test suite (unit, integration, contract, local)
	$(BIN)/ruff check functions shipline tests workload events bench
	$(BIN)/mypy
	$(BIN)/shellcheck --severity=style buildspecs/*.sh
	$(BIN)/python -m pytest

fuzz: $(STAMP)  ## every property test with at least 20,000 random examples (not part of make test)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -m property -q

bench: $(STAMP)  ## benchmarks (not part of the tests): prints each figure next to its target
	$(BIN)/python bench/run.py

validate: $(STAMP)
	$(BIN)/sam validate --lint --region us-east-1

deploy: $(STAMP)  ## ENV=dev|staging|prod; functions/ is packaged as it is, so bytecode left by tests or bench goes first
	find functions -name __pycache__ -prune -exec rm -rf {} +
	$(BIN)/sam deploy --config-env $${ENV:-dev}

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
