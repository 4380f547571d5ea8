"""Change detection: which services a set of changed paths rebuilds.

Rule (also in services.toml and the README): a path under a service's `paths` rebuilds that
service; a path under `project.shared_paths` rebuilds all of them; anything else, nothing.
A change counts on both sides: a file renamed (or moved) out of a service's folder changed that
service too. The pipeline (CodeCommit's GetDifferences) and `shipline plan` (git) both reach
the rule through `changed_paths`, so they cannot disagree.
Paths are matched through an index of the manifest's folders and files, so the work grows with
the number of paths (and their depth), not with paths × services.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field

from pipeline.domain.manifest import Manifest


@dataclass(frozen=True)
class Change:
    """One difference between two commits, as CodeCommit's GetDifferences reports it
    (https://docs.aws.amazon.com/codecommit/latest/APIReference/API_Difference.html): the path
    before (`beforeBlob`; None for an added file) and after (`afterBlob`; None for a deleted one).
    A rename is either one change with two different paths or a deletion and an addition; both
    paths count either way. A copy is an addition: the file copied from did not change."""

    before: str | None
    after: str | None


def changed_paths(changes: Iterable[Change]) -> list[str]:
    """Every path the changes touched, both sides, normalised, each once, in the order given."""
    found: dict[str, None] = {}
    for change in changes:
        for path in (change.before, change.after):
            if path:
                found.setdefault(normalised_path(path), None)
    return [path for path in found if path]


def normalised_path(path: str) -> str:
    """A changed path as the manifest names paths: relative to the repository root, with no "./",
    "//" or "." parts ("./docker/x/../y/" is "docker/y/"); a trailing "/" (a folder) is kept.
    "" when the path is the root itself."""
    folder = path.endswith("/")
    path = posixpath.normpath(path.lstrip("/")) if path else "."
    if path == ".":
        return ""
    return path + "/" if folder else path


@dataclass
class ServiceIndex:
    """The manifest's paths, by folder prefix ("docker/langgraph/") and by exact file."""

    names: tuple[str, ...]
    shared_folders: set[str] = field(default_factory=set)
    shared_files: set[str] = field(default_factory=set)
    folders: dict[str, set[str]] = field(default_factory=dict)
    files: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, manifest: Manifest) -> ServiceIndex:
        index = cls(manifest.names)
        for shared in manifest.project.shared_paths:
            (index.shared_folders if shared.endswith("/") else index.shared_files).add(shared)
        for name, spec in manifest.services.items():
            for path in spec.paths:
                (index.folders if path.endswith("/") else index.files).setdefault(path, set()).add(name)
        return index

    def services_of(self, path: str) -> set[str] | None:
        """The services one path rebuilds; None means every service (a shared path)."""
        path = normalised_path(path)
        if not path:
            return set()
        if path in self.shared_files:
            return None
        found = set(self.files.get(path, ()))
        for end in _folder_ends(path):
            prefix = path[: end + 1]
            if prefix in self.shared_folders:
                return None
            found |= self.folders.get(prefix, set())
        return found


_INDEXES: dict[int, tuple[Manifest, ServiceIndex]] = {}


def index_of(manifest: Manifest) -> ServiceIndex:
    """The manifest's index, made once per manifest (a function loads one manifest)."""
    cached = _INDEXES.get(id(manifest))
    if cached is None or cached[0] is not manifest:
        cached = _INDEXES[id(manifest)] = (manifest, ServiceIndex.of(manifest))
    return cached[1]


def services_for_paths(manifest: Manifest, paths: Iterable[str]) -> tuple[str, ...]:
    """The services to rebuild for these changed paths, in manifest order."""
    index = index_of(manifest)
    hit: set[str] = set()
    every = len(index.names)
    for path in paths:
        found = index.services_of(path)
        if found is None:
            return index.names
        hit |= found
        if len(hit) == every:
            break
    return tuple(name for name in index.names if name in hit)


def _folder_ends(path: str) -> Iterable[int]:
    start = path.find("/")
    while start != -1:
        yield start
        start = path.find("/", start + 1)
