"""requirements.lock and the pyproject.toml it was made from.

`make lock` compiles the lock (uv pip compile, with hashes) and then runs `stamp`, which
heads it with a digest of pyproject.toml's dependency sections. `make test` and `make demo`
run `check` before installing from it: when those sections changed and the lock was not
remade, they stop with one line saying so. Edits elsewhere in pyproject.toml (tool settings)
leave the lock valid. Standard library only: it runs before any environment exists.

    python tools/lockfile.py stamp [LOCK]
    python tools/lockfile.py check [LOCK]
"""

from __future__ import annotations

import hashlib
import json
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
MARK = "# pyproject-dependencies-sha256: "
HEADER = (
    "# The development and test environment (the `dev` extra of pyproject.toml), every package pinned\n"
    "# with its hashes. Made by `make lock`; `make test` and `make demo` install from it, and refuse it\n"
    "# when pyproject.toml's dependencies changed since.\n"
)


def dependency_digest(pyproject: Path) -> str:
    """sha256 of what decides the resolution: build requirements, Python range, dependencies, extras."""
    data = tomllib.loads(pyproject.read_text())
    project = data.get("project", {})
    sections = {
        "build-system.requires": data.get("build-system", {}).get("requires", []),
        "project.requires-python": project.get("requires-python"),
        "project.dependencies": project.get("dependencies", []),
        "project.optional-dependencies": project.get("optional-dependencies", {}),
    }
    return hashlib.sha256(json.dumps(sections, sort_keys=True).encode()).hexdigest()


def recorded_digest(lock: Path) -> str | None:
    for line in lock.read_text().splitlines():
        if line.startswith(MARK):
            return line[len(MARK):].strip()
    return None


def stamp(lock: Path) -> None:
    body = [line for line in lock.read_text().splitlines(keepends=True)
            if not line.startswith(MARK) and line not in HEADER.splitlines(keepends=True)]
    digest = dependency_digest(lock.parent / "pyproject.toml")
    lock.write_text(HEADER + f"{MARK}{digest}\n" + "".join(body))


def problem(lock: Path) -> str | None:
    """Why the lock cannot be installed for this pyproject.toml, in one line; None when it can."""
    name = lock.name
    if not lock.exists():
        return f"{name} is missing: run `make lock` and commit it"
    recorded = recorded_digest(lock)
    if recorded is None:
        return f"{name} records no pyproject.toml digest: remake it with `make lock`"
    if recorded != dependency_digest(lock.parent / "pyproject.toml"):
        return (f"{name} is stale: pyproject.toml's dependencies changed since it was made; "
                "run `make lock` and commit both")
    return None


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("stamp", "check"):
        print("usage: python tools/lockfile.py {stamp,check} [LOCK]", file=sys.stderr)
        return 2
    lock = Path(argv[1]) if len(argv) > 1 else LOCK
    if argv[0] == "stamp":
        stamp(lock)
        return 0
    found = problem(lock)
    if found:
        print(f"lockfile: error: {found}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
