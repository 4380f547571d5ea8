"""This repository's build sources as a CodeCommit history in memory holds them: the files
the services' build inputs are read from (services.toml, .dockerignore, docker/, workload/)."""

from __future__ import annotations

import subprocess

from tests.support.paths import ROOT

_SOURCES = ("services.toml", ".dockerignore", "docker", "workload")


def source_files() -> dict[str, str]:
    """Path -> text of every tracked file under the build sources, as committed at HEAD."""
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--", *_SOURCES], capture_output=True,
                            check=True).stdout.decode().split("\0")
    files = {}
    for path in filter(None, listed):
        shown = subprocess.run(["git", "-C", str(ROOT), "show", f"HEAD:{path}"], capture_output=True, check=False)
        if shown.returncode == 0:
            files[path] = shown.stdout.decode("utf-8", "replace")
    return files
