"""A service's build inputs at a commit, read from CodeCommit and the base images' registries.

The folders that hold the inputs are listed once per commit (GetFolder; a commit's content
never changes, so a listing is kept for the life of the process), the Dockerfile is read
(GetFile) for its FROM lines, and each base image named by a tag only is resolved to the
digest the tag names now (never kept: a tag moves).
"""

from __future__ import annotations

import posixpath
from functools import lru_cache

from aws_lambda_powertools import Logger

from pipeline.adapters import codecommit, registry
from pipeline.domain.inputs import InputsUnknownError, base_images, input_paths, inputs_hash, parent_folders
from pipeline.domain.manifest import Manifest

logger = Logger(child=True)

ABSENT = "absent"  # the object id of an input path the commit does not hold (a shared .dockerignore, say)


@lru_cache(maxsize=512)
def _folder(repository: str, commit: str, path: str) -> tuple[tuple[str, str], ...]:
    return tuple(codecommit.folder(repository, commit, path).items())


@lru_cache(maxsize=256)
def _dockerfile(repository: str, commit: str, path: str) -> str | None:
    return codecommit.file_text(repository, commit, path)


def service_inputs(repository: str, manifest: Manifest, service: str, commit: str) -> str:
    """The hash of the service's inputs at `commit` (InputsUnknownError when they cannot all be
    read; an AWS failure is raised as it is, for the caller's retry)."""
    paths = input_paths(manifest, service)
    listings = {parent: dict(_folder(repository, commit, parent)) for parent in parent_folders(paths)}
    objects = {}
    for path in paths:
        bare = path.rstrip("/")
        objects[path] = listings[posixpath.dirname(bare)].get(posixpath.basename(bare), ABSENT)
    dockerfile = manifest.service(service).dockerfile
    text = _dockerfile(repository, commit, dockerfile)
    if text is None:
        raise InputsUnknownError(f"{dockerfile} is not in {commit}")
    bases = {}
    for image in base_images(text):
        bases[image.reference] = image.digest or registry.tag_digest(image.reference)
    return inputs_hash(objects, bases)


def known_inputs(repository: str, manifest: Manifest, service: str, commit: str) -> str:
    """The inputs hash, or "" when it cannot be known (the service is then built, as without
    build avoidance); the reason is logged."""
    try:
        return service_inputs(repository, manifest, service, commit)
    except InputsUnknownError as exc:
        logger.warning(f"build inputs unknown, so built: {exc}", extra={"service": service, "commit": commit})
        return ""


def reset() -> None:
    """Forget the listings read so far (tests, and the local account, between runs)."""
    _folder.cache_clear()
    _dockerfile.cache_clear()
