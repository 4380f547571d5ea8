"""Cold init in the Lambda runtime's package set (`make bench-runtime`, and a row of `make bench`;
not part of the tests).

`make bench` measures in the development environment, whose botocore also imports awscrt and
pyOpenSSL (pulled in by development dependencies): about 0.06 s that the baseline and every
handler pay alike, which makes the ratios smaller than in Lambda. This measures the same ratio
(a handler's import plus the clients it makes, to `import boto3` plus one client, each pair
started one after the other in fresh interpreters) on Python 3.13 with only what the functions
have in AWS: boto3 and botocore (the runtime's), Powertools and pydantic (its layer), at the
lock's versions. Init only: no events are sent, so no emulator is needed.

    python bench/runtime_init.py        (RUNTIME_PYTHON: the python3.13 to use)
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv-runtime"
RUNS = int(os.environ.get("BENCH_RUNS", "11"))
TARGET = 1.5
# What the functions import in AWS, and nothing else (the runtime's boto3, the Powertools layer).
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six",
                    "aws-lambda-powertools", "pydantic", "pydantic-core", "typing-extensions", "annotated-types",
                    "typing-inspection")
sys.path.insert(0, str(ROOT / "bench"))
from probe import CLIENTS  # noqa: E402  (the clients each handler makes on its bench path)

BASELINE = "import boto3; boto3.client('ecr')"


@cache
def _tool():
    """tools/runtime_bytecode.py: the runtime's interpreter, and bytecode as `make deploy` ships it."""
    spec = importlib.util.spec_from_file_location("runtime_bytecode", ROOT / "tools" / "runtime_bytecode.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _python() -> str:
    """A working Python of template.yaml's Runtime (RUNTIME_PYTHON, else pyenv's, else on PATH)."""
    version = _tool().runtime_version()
    found = _tool().find_python(version)
    if found is None:
        raise SystemExit(f"no working Python {version[0]}.{version[1]} (the Lambda runtime's) found: "
                         "set RUNTIME_PYTHON")
    return found


def _requirements() -> str:
    """The lock's entries (pins and hashes) for the runtime's packages."""
    entries = re.split(r"\n(?=[a-z0-9])", (ROOT / "requirements.lock").read_text())
    wanted = [e for e in entries if (pin := re.match(r"([a-z0-9-]+)==", e)) and pin.group(1) in RUNTIME_PACKAGES]
    if len(wanted) != len(RUNTIME_PACKAGES):
        raise SystemExit("requirements.lock lacks one of the runtime's packages")
    return "\n".join(wanted) + "\n"


def _venv() -> Path:
    python = VENV / "bin" / "python"
    requirements = _requirements()
    stamp = VENV / "requirements.txt"
    if not (python.exists() and stamp.exists() and stamp.read_text() == requirements):
        shutil.rmtree(VENV, ignore_errors=True)
        subprocess.run([_python(), "-m", "venv", str(VENV)], check=True)
        (VENV / "wanted.txt").write_text(requirements)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--require-hashes", "--no-deps",
                        "-r", str(VENV / "wanted.txt")], check=True)
        stamp.write_text(requirements)
    # Bytecode for the functions' code as `make deploy` ships it; site-packages has its own.
    _tool().compile_tree(str(python), ROOT / "functions")
    return python


def _timed(python: Path, code: str, environment: dict, *flags: str) -> float:
    script = f"import time\nstarted = time.perf_counter()\n{code}\nprint(time.perf_counter() - started)"
    return float(subprocess.run([str(python), *flags, "-c", script], env=environment, cwd=ROOT / "bench",
                                check=True, capture_output=True, text=True).stdout)


def _handler(module: str, clients: tuple[str, ...]) -> str:
    """A cold init: the handler's module, then the clients it makes on its path."""
    return (f"import pipeline.handlers.{module}\nfrom pipeline.adapters.clients import client\n"
            f"for name in {clients!r}:\n    client(name)")


def _libraries(python: Path, environment: dict, module: str, clients: tuple[str, ...]) -> str:
    """A cold init without shipline's code: every module the handler's init imports that is not
    shipline's own (`pipeline.*`), in the order it imported them, then the same clients. What
    the libraries the functions are built on (boto3, Powertools, pydantic) and the clients cost
    on their own: the floor a handler's ratio cannot go below, whatever its own code does."""
    listing = subprocess.run(
        [str(python), "-c", f"import sys\nbefore = set(sys.modules)\n{_handler(module, clients)}\n"
                            "print('\\n'.join(n for n in sys.modules if n not in before "
                            "and n.partition('.')[0] != 'pipeline'))"],
        env=environment, cwd=ROOT / "bench", check=True, capture_output=True, text=True)
    names = listing.stdout.split()
    return (f"import importlib\nfor name in {names!r}:\n    importlib.import_module(name)\n"
            f"import boto3\nfor name in {clients!r}:\n    boto3.client(name)")


def _pairs(python: Path, environment: dict, runs: int) -> tuple[dict[str, list[float]], list[float],
                                                                  dict[str, list[float]], dict[str, list[float]]]:
    """`runs` pairs per handler: a baseline, then the handler's import and clients; and after
    them the libraries alone (`_libraries`), as a ratio to the same baseline and as the time the
    handler took beyond them (its own code: shipline's modules and their models)."""
    ratios: dict[str, list[float]] = {module: [] for module in CLIENTS}
    floors: dict[str, list[float]] = {module: [] for module in CLIENTS}
    own: dict[str, list[float]] = {module: [] for module in CLIENTS}
    libraries = {module: _libraries(python, environment, module, clients) for module, clients in CLIENTS.items()}
    baselines: list[float] = []
    for _ in range(runs):
        for module, clients in CLIENTS.items():
            base = _timed(python, BASELINE, environment)
            handler = _timed(python, _handler(module, clients), environment)
            floor = _timed(python, libraries[module], environment)
            baselines.append(base)
            ratios[module].append(handler / base)
            floors[module].append(floor / base)
            own[module].append(handler - floor)
    return ratios, baselines, floors, own


def measure() -> dict:
    """The pairs, and each handler's median ratio; {"skipped": why} when there is no Python 3.13."""
    try:
        python = _venv()
        return _measure(python)
    except (SystemExit, OSError, subprocess.CalledProcessError) as exc:
        # No Python 3.13, no index to install from, a handler that fails on 3.13: the rows say
        # so, and `make bench` still writes the rest of its results.
        detail = (exc.stderr or "").strip().splitlines()[-1:] if isinstance(exc, subprocess.CalledProcessError) else []
        return {"skipped": " ".join([str(exc), *detail])}


def _measure(python: Path) -> dict:
    version = subprocess.run([str(python), "-c", "import sys; print(sys.version.split()[0])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # The template's Globals environment (tracing off), and no credentials lookup beyond these.
    environment = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT / "functions"),
                   "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
                   "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                   "POWERTOOLS_SERVICE_NAME": "shipline", "POWERTOOLS_TRACE_DISABLED": "true",
                   "PYDANTIC_DISABLE_PLUGINS": "__all__"}
    ratios, baselines, floors, own = _pairs(python, environment, RUNS)
    # What the bytecode `make deploy` ships saves: each handler started with it and without it
    # (a copy of the code without __pycache__, `-B`: as a package without bytecode runs in
    # Lambda), interleaved; no baseline, so the difference is not lost in the baseline's noise.
    with tempfile.TemporaryDirectory(prefix="shipline-no-bytecode-") as bare:
        copy = Path(bare) / "functions"
        shutil.copytree(ROOT / "functions", copy, ignore=shutil.ignore_patterns("__pycache__"))
        with_bytecode: dict[str, list[float]] = {module: [] for module in CLIENTS}
        without: dict[str, list[float]] = {module: [] for module in CLIENTS}
        for _ in range(RUNS):
            for module, clients in CLIENTS.items():
                code = _handler(module, clients)
                with_bytecode[module].append(_timed(python, code, environment))
                without[module].append(_timed(python, code, environment | {"PYTHONPATH": str(copy)}, "-B"))
    return {"python": version, "packages": "the lock's " + ", ".join(RUNTIME_PACKAGES), "pairs": RUNS,
            "baseline_s": round(statistics.median(baselines), 3), "target": TARGET,
            "handlers": {m: {"ratio": round(statistics.median(r), 2), "single_pairs": [round(x, 2) for x in r],
                             "compiling_s": round(statistics.median(without[m]) - statistics.median(with_bytecode[m]),
                                                  3),
                             "libraries_ratio": round(statistics.median(floors[m]), 2),
                             "libraries_single_pairs": [round(x, 2) for x in floors[m]],
                             "own_s": round(statistics.median(own[m]), 3)}
                         for m, r in ratios.items()}}


def main() -> int:
    results = measure()
    if "skipped" in results:
        raise SystemExit(results["skipped"])
    (ROOT / "bench" / "runtime_results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"cold init on Python {results['python']}, the runtime's packages only; baseline (import boto3 + "
          f"1 client) median {results['baseline_s']} s; median of {RUNS} pairs per handler (target <= {TARGET}x):")
    for module, figure in results["handlers"].items():
        ok = "ok" if figure["ratio"] <= TARGET else "NOT MET"
        print(f"  {module:15s} {figure['ratio']}x  (single pairs {min(figure['single_pairs']):.2f}x to "
              f"{max(figure['single_pairs']):.2f}x)  {ok}; without the functions' bytecode, "
              f"{figure['compiling_s']:.3f} s more")
        allowed = (TARGET - figure["libraries_ratio"]) * results["baseline_s"]
        print(f"  {'':15s} the libraries and clients alone: {figure['libraries_ratio']}x (single runs "
              f"{min(figure['libraries_single_pairs']):.2f}x to {max(figure['libraries_single_pairs']):.2f}x); "
              f"shipline's own code {figure['own_s']:.3f} s, where {TARGET}x leaves it {max(allowed, 0):.3f} s")
    print("written to bench/runtime_results.json (make bench keeps the same figures in bench/results.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
