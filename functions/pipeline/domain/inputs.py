"""Build inputs: what a service's image is made from, as one hash.

The inputs of a service at a commit are its `paths` and the manifest's `shared_paths` at that
commit, its Dockerfile, and the digests of the base images its Dockerfile names. A path is
named by its git object id: a folder by its tree id, a file by its blob id (CodeCommit's
GetFolder reports them; `git rev-parse <commit>:<path>` gives the same ids), so two commits
whose inputs hold the same content have the same hash, whatever else changed between them.
A base image named by a digest is in the Dockerfile's text already; one named by a tag only is
resolved to the digest the tag names now, so a moved upstream tag changes the hash.

An image built from these inputs carries the hash as a label (INPUTS_LABEL) and a tag
(`inputs-<hash>`): the tag is how the next build of the same inputs finds it (one ECR
BatchGetImage) and retags it instead of building.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from pipeline.domain.changes import normalised_path
from pipeline.domain.manifest import Manifest

DOCKER_HUB = "registry-1.docker.io"
INPUTS_LABEL = "io.shipline.inputs"
INPUTS_TAG_PREFIX = "inputs-"
_VERSION = "shipline-inputs-1"  # bump when what the hash covers changes: every image is then built once again
_HASH = re.compile(r"^[0-9a-f]{64}$")


class InputsUnknownError(RuntimeError):
    """The inputs could not all be read (a path missing at the commit, a base image the registry
    does not answer for). The service is built, as it would be without build avoidance."""


def input_paths(manifest: Manifest, service: str) -> tuple[str, ...]:
    """The paths whose content is a service's input: its paths, the shared paths and its Dockerfile
    (a folder ends in "/"), normalised, each once, sorted. A path inside another input folder is
    in that folder's tree id already, and is left out (so is its folder's listing)."""
    spec = manifest.service(service)
    paths = {normalised_path(p) for p in (*spec.paths, *manifest.project.shared_paths, spec.dockerfile)} - {""}
    folders = [p for p in paths if p.endswith("/")]
    return tuple(sorted(p for p in paths if not any(p != f and p.startswith(f) for f in folders)))


def parent_folders(paths: tuple[str, ...]) -> tuple[str, ...]:
    """The folders to list so that every path's object id is in one listing ("" is the root)."""
    return tuple(sorted({posixpath.dirname(p.rstrip("/")) for p in paths}))


@dataclass(frozen=True)
class TreeEntry:
    """One entry of a git tree as GitHub's API lists it: its path (from the tree listed), its kind
    (a submodule is a "commit") and its object id."""

    path: str
    kind: Literal["blob", "tree", "commit"]
    object_id: str


def folder_listing(entries: Iterable[TreeEntry], folder: str) -> dict[str, str]:
    """What a folder holds, name -> object id, from a commit's tree listed recursively: its
    subfolders, files and symbolic links, as CodeCommit's GetFolder lists them (no submodules).
    Empty for a folder the tree does not hold."""
    prefix = f"{folder.strip('/')}/" if folder.strip("/") else ""
    found = {}
    for entry in entries:
        if entry.kind == "commit" or not entry.path.startswith(prefix):
            continue
        name = entry.path[len(prefix):]
        if name and "/" not in name:
            found[name] = entry.object_id
    return found


def inputs_tag(inputs: str) -> str:
    """The tag that finds the image built from these inputs."""
    return f"{INPUTS_TAG_PREFIX}{inputs}"


def inputs_of_tag(tag: str) -> str | None:
    """The inputs hash an `inputs-<hash>` tag names, or None for any other tag."""
    value = tag.removeprefix(INPUTS_TAG_PREFIX)
    return value if tag.startswith(INPUTS_TAG_PREFIX) and _HASH.match(value) else None


@dataclass(frozen=True)
class BaseImage:
    """A FROM of a Dockerfile: the image reference, and its digest when the reference pins one."""

    reference: str

    @property
    def digest(self) -> str | None:
        _name, at, digest = self.reference.partition("@")
        return digest if at else None


_ARG = re.compile(r"^ARG\s+([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?$", re.IGNORECASE)
_FROM = re.compile(r"^FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?\s*$", re.IGNORECASE)
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def base_images(dockerfile: str) -> tuple[BaseImage, ...]:
    """The images a Dockerfile builds FROM, each once, in order. ARGs declared before a FROM are
    substituted with their defaults; a FROM naming an earlier stage, or `scratch`, is no image."""
    args: dict[str, str] = {}
    stages: set[str] = set()
    found: dict[str, None] = {}
    first = True
    for line in _instructions(dockerfile):
        arg = _ARG.match(line)
        if arg and first:  # only ARGs before the first FROM reach a FROM
            args[arg.group(1)] = _unquoted(arg.group(2) or "")
            continue
        match = _FROM.match(line)
        if not match:
            continue
        first = False
        reference = _VARIABLE.sub(lambda m: args.get(m.group(1) or m.group(3), m.group(2) or ""), match.group(1))
        if match.group(2):
            stages.add(match.group(2).lower())
        if reference.lower() in stages or reference == "scratch":
            continue
        found.setdefault(reference, None)
    return tuple(BaseImage(reference) for reference in found)


def split_reference(reference: str) -> tuple[str, str, str]:
    """(registry host, repository, tag) of an image reference, as docker reads one: no host means
    Docker Hub, and a one-part Docker Hub name is under `library/`; no tag means `latest`."""
    name = reference.partition("@")[0]
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        host, path = first, rest
    else:
        host, path = DOCKER_HUB, name
    if host in ("docker.io", "index.docker.io"):
        host = DOCKER_HUB
    path, colon, tag = path.rpartition(":") if ":" in path.rsplit("/", 1)[-1] else (path, "", "latest")
    if host == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    return host, path, tag or "latest"


def inputs_hash(objects: Mapping[str, str], bases: Mapping[str, str]) -> str:
    """The hash of a service's inputs: each input path with its git object id, and each base
    image reference with its digest. The order given does not matter."""
    lines = [_VERSION]
    lines += [f"path {path} {object_id}" for path, object_id in sorted(objects.items())]
    lines += [f"base {reference} {digest}" for reference, digest in sorted(bases.items())]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _instructions(text: str) -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments and blanks left out."""
    joined: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        joined.append((pending + line).strip())
        pending = ""
    if pending:
        joined.append(pending.strip())
    return joined


def _unquoted(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value
