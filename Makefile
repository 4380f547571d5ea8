# shipline: `make demo` runs the main job, `make test` runs the tests. Each sets up .venv itself,
# from requirements.lock (every package pinned, with hashes); `make lock` remakes the lock.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
UV_VERSION := 0.13.9
CHECK_LOCK := $(PYTHON) tools/lockfile.py check $(LOCK)
export SAM_CLI_TELEMETRY := 0

.PHONY: demo test fuzz scale lint validate bench bench-runtime deploy lock clean

# The environment is exactly the lock: made afresh whenever the lock or pyproject.toml changes.
$(STAMP): $(LOCK) pyproject.toml
	@$(CHECK_LOCK)
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/pip check
	touch $(STAMP)

# DEMO_ARGS: more options for the demo, e.g. make demo DEMO_ARGS="--parameter-overrides Rollout=rolling"
demo: $(STAMP)  ## the whole chain against an emulated AWS account on this machine
	$(BIN)/shipline demo $(DEMO_ARGS)

test: $(STAMP)  ## lint, type-check and the test suite (unit, integration, contract, local)
	@$(CHECK_LOCK)
	$(BIN)/ruff check functions shipline tests workload events bench tools
	$(BIN)/mypy
	$(BIN)/shellcheck --severity=style buildspecs/*.sh
	$(BIN)/python -m pytest

fuzz: $(STAMP)  ## every property test with at least 20,000 random examples (not part of make test)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -m property -q

# LOCK_FLAGS=--upgrade moves every pin to the newest release the ranges allow; without it, pins that
# still fit pyproject.toml stay as they are.
lock:  ## remake requirements.lock from pyproject.toml's ranges (the dev extra, with hashes)
	$(BIN)/uv --version 2>/dev/null | grep -qF 'uv $(UV_VERSION) ' || \
		{ $(PYTHON) -m venv $(VENV) && $(BIN)/pip install --quiet uv==$(UV_VERSION); }
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 --generate-hashes \
		--custom-compile-command "make lock" --quiet $(LOCK_FLAGS) -o $(LOCK)
	$(PYTHON) tools/lockfile.py stamp $(LOCK)

scale: $(STAMP)  ## the scale tests at 200 services on a CodeBuild quota of 10 (make test runs them at 20 on 2)
	SHIPLINE_SCALE_SERVICES=200 SHIPLINE_SCALE_QUOTA=10 $(BIN)/python -m pytest -m scale -q

bench: $(STAMP)  ## benchmarks (not part of the tests): prints each figure next to its target
	$(BIN)/python bench/run.py

bench-runtime: $(STAMP)  ## cold init on Python 3.13 with only the Lambda runtime's packages (.venv-runtime; not part of the tests)
	$(BIN)/python bench/runtime_init.py

validate: $(STAMP)
	$(BIN)/sam validate --lint --region us-east-1

# functions/ is packaged as it is: the bytecode tests or bench left goes first, and the runtime's
# Python compiles it afresh, hash-based, so that it is valid in Lambda (tools/runtime_bytecode.py).
deploy: $(STAMP)  ## ENV=dev|staging|prod; bytecode for the runtime's Python, then sam deploy
	$(BIN)/python tools/runtime_bytecode.py functions
	$(BIN)/sam deploy --template-file template.yaml --config-env $${ENV:-dev}

clean:
	rm -rf $(VENV) .venv-runtime .pytest_cache .mypy_cache .ruff_cache
