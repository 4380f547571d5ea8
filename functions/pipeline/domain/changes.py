"""Change detection: which services a set of changed paths rebuilds.

Rule (also in services.toml and the README): a path under a service's `paths` rebuilds that
service; a path under `project.shared_paths` rebuilds all of them; anything else, nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from pipeline.domain.manifest import Manifest


def _covers(pattern: str, path: str) -> bool:
    pattern = pattern.removeprefix("./")
    return path.startswith(pattern) if pattern.endswith("/") else path == pattern


def services_for_paths(manifest: Manifest, paths: Iterable[str]) -> tuple[str, ...]:
    """The services to rebuild for these changed paths, in manifest order."""
    hit: set[str] = set()
    every = set(manifest.names)
    for raw in paths:
        path = raw.lstrip("/")
        if any(_covers(shared, path) for shared in manifest.project.shared_paths):
            return manifest.names
        hit.update(name for name, spec in manifest.services.items() if any(_covers(p, path) for p in spec.paths))
        if hit == every:
            break
    return tuple(name for name in manifest.names if name in hit)
