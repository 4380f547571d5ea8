"""Bytecode for the Lambda runtime, shipped in the deployment package (`make deploy`).

Lambda cannot write bytecode beside the code (`/var/task` is read-only), so a package without
it is compiled on every cold start: 0.05 to 0.07 s of ImageEvents' init on Python 3.13 (`make
bench`, the runtime rows). Bytecode validated by timestamp does not help either: SAM CLI zips
the CodeUri directory whole, `__pycache__` included, and dates every entry 1980-01-01
(samcli/lib/package/utils.py, `make_zip_with_permissions`; aws/aws-lambda-builders#924), so the
source's date never matches the one the bytecode recorded and Python compiles again. Hash-based
bytecode (PEP 552, "checked": on import Python compares the source's hash with the one recorded)
validates whatever the dates, and a source edited after compiling is still compiled afresh.

The bytecode must come from the runtime's Python (template.yaml's `Runtime`: its magic number
and its `cpython-3NN` tag). Without that interpreter the package goes without bytecode, as it
did before, and this says so.

    python tools/runtime_bytecode.py [DIR]         (DIR: functions; RUNTIME_PYTHON: the interpreter)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def runtime_version() -> tuple[int, int]:
    """The functions' Python, from template.yaml's Globals (`python3.13` -> (3, 13))."""
    from shipline.local.template import raw

    runtime = str(raw()["Globals"]["Function"]["Runtime"])
    match = re.fullmatch(r"python(\d+)\.(\d+)", runtime)
    if match is None:
        raise SystemExit(f"template.yaml's Runtime {runtime} is not a Python runtime")
    return int(match.group(1)), int(match.group(2))


def find_python(version: tuple[int, int]) -> str | None:
    """A working interpreter of that version: RUNTIME_PYTHON, else pyenv's, else pythonX.Y on PATH."""
    name = f"{version[0]}.{version[1]}"
    pyenv = Path.home() / ".pyenv" / "versions"
    candidates = [os.environ.get("RUNTIME_PYTHON", ""),
                  *(str(p / "bin" / "python") for p in sorted(pyenv.glob(f"{name}.*"), reverse=True)),
                  shutil.which(f"python{name}") or ""]
    for candidate in filter(None, candidates):
        try:
            answer = subprocess.run([candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                    capture_output=True, text=True, timeout=30)
        except OSError:
            continue
        if answer.returncode == 0 and answer.stdout.strip() == name:
            return candidate
    return None


def remove_bytecode(root: Path) -> int:
    """Every `__pycache__` under root (the tests' and the bench's, of other Pythons): removed."""
    caches = [p for p in root.rglob("__pycache__") if p.is_dir()]
    for cache in caches:
        shutil.rmtree(cache)
    return len(caches)


def compile_tree(python: str, root: Path) -> int:
    """Compile every module under root with `python`, hash-based and checked; the count of
    bytecode files written."""
    subprocess.run([python, "-m", "compileall", "-q", "-f", "--invalidation-mode", "checked-hash", str(root)],
                   check=True)
    return sum(1 for _ in root.rglob("*.pyc"))


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else ROOT / "functions"
    if not root.is_dir():
        raise SystemExit(f"bytecode: {root} is not a directory")
    if not (root / "pipeline" / "__init__.py").is_file():
        # It removes every __pycache__ under the directory: only ever a functions' CodeUri.
        raise SystemExit(f"bytecode: {root} holds no pipeline package: give the functions' directory (CodeUri)")
    version = runtime_version()
    remove_bytecode(root)
    python = find_python(version)
    if python is None:
        print(f"bytecode: no Python {version[0]}.{version[1]} here (set RUNTIME_PYTHON): {root} goes without "
              "bytecode, and each cold start compiles it", file=sys.stderr)
        return 0
    count = compile_tree(python, root)
    print(f"bytecode: {count} modules under {root} compiled by Python {version[0]}.{version[1]} (hash-based, "
          "checked: valid whatever dates the package's ZIP gives)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
