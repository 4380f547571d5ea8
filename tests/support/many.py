"""A repository of many services, for the scale tests and `make bench`: a clone of this one
whose services.toml lists N generated services, each with its own Dockerfile and paths."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.paths import ROOT


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True).stdout.strip()


def many_services(target: Path, count: int) -> tuple[Path, str]:
    """Clone this repository into `target` with `count` services; returns it and the commit."""
    subprocess.run(["git", "clone", "-q", "--shared", str(ROOT), str(target)], check=True)
    git(target, "checkout", "-q", "-B", "main", git(ROOT, "rev-parse", "HEAD"))
    git(target, "config", "user.email", "test@example.com")
    git(target, "config", "user.name", "test")
    lines = ['[project]\nname = "multi-agent-orchestrator"\nbranch = "main"\nshared_paths = ["services.toml"]\n']
    for n in range(count):
        name = f"s{n:03d}"
        folder = target / "docker" / name
        folder.mkdir(parents=True)
        (folder / "Dockerfile").write_text("FROM public.ecr.aws/docker/library/busybox:1.36\nCOPY app.txt /app.txt\n")
        (folder / "app.txt").write_text(f"service {name}\n")
        lines.append(f'[services.{name}]\ndockerfile = "docker/{name}/Dockerfile"\ncontext = "docker/{name}"\n'
                     f'paths = ["docker/{name}/"]\nport = 8000\n'
                     'health_check = { command = "true" }\n')
    (target / "services.toml").write_text("\n".join(lines))
    git(target, "add", "-A")
    git(target, "commit", "-q", "-m", f"{count} services")
    return target, git(target, "rev-parse", "HEAD")
