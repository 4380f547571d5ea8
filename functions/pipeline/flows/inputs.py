"""A service's build inputs at a commit, read from the source repository (CodeCommit or GitHub)
and the base images' registries.

CodeCommit: the folders that hold the inputs are listed once per commit (GetFolder), and the
Dockerfile is read (GetFile). GitHub: the commit's tree is read once, recursively (one request
lists every folder; past GitHub's limit the folders are read one tree at a time), and the
Dockerfile's blob once per blob id. A commit's content never changes, so what was read is kept
for the life of the process. Each base image named by a tag only is resolved to the digest the
tag names now (never kept: a tag moves).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from aws_lambda_powertools import Logger

from pipeline.adapters import codecommit, github_api, registry
from pipeline.domain.inputs import (
    InputsUnknownError,
    base_images,
    folder_listing,
    input_paths,
    inputs_hash,
    parent_folders,
)
from pipeline.domain.manifest import Manifest
from pipeline.settings import Settings

logger = Logger(child=True)

ABSENT = "absent"  # the object id of an input path the commit does not hold (a shared .dockerignore, say)


@dataclass(frozen=True)
class Source:
    """Where a commit's files are read: a CodeCommit repository (its name), or a GitHub repository
    (its clone URL) with the Secrets Manager secret holding a token ("" = none, public only)."""

    provider: Literal["CodeCommit", "GitHub"]
    repository: str
    token_secret: str = ""


def source_of(settings: Settings) -> Source | None:
    """The stack's source repository, when the function knows it."""
    if settings.source_provider == "CodeCommit" and settings.codecommit_repository:
        return Source("CodeCommit", settings.codecommit_repository)
    if settings.source_provider == "GitHub" and settings.github_repository_url:
        return Source("GitHub", settings.github_repository_url, settings.github_token_secret_arn or "")
    return None


def _token(source: Source) -> str | None:
    return github_api.token(source.token_secret) if source.token_secret else None


def _github_tree(source: Source, tree_ish: str, recursive: bool) -> github_api.Tree:
    return (_github_commit_tree if recursive else _github_subtree)(source, tree_ish)


# A whole commit's listing can be large (GitHub lists up to 100,000 entries): only the last two
# are kept (a batch of build starts is mostly one commit); the folder listings taken from them are
# kept longer, in _folder.
@lru_cache(maxsize=2)
def _github_commit_tree(source: Source, commit: str) -> github_api.Tree:
    return github_api.tree(github_api.repository_of(source.repository), commit, recursive=True, token=_token(source))


@lru_cache(maxsize=64)
def _github_subtree(source: Source, tree_ish: str) -> github_api.Tree:
    return github_api.tree(github_api.repository_of(source.repository), tree_ish, recursive=False,
                           token=_token(source))


@lru_cache(maxsize=64)
def _github_blob(source: Source, sha: str) -> bytes:
    return github_api.blob(github_api.repository_of(source.repository), sha, token=_token(source))


def _github_folder(source: Source, commit: str, path: str) -> dict[str, str]:
    whole = _github_tree(source, commit, True)
    if not whole.truncated:
        return folder_listing(whole.entries, path)
    # Past GitHub's limit for one recursive listing: walk down to the folder, one tree at a time.
    tree = _github_tree(source, commit, False)
    for part in filter(None, path.split("/")):
        found = next((e for e in tree.entries if e.path == part), None)
        if found is None or found.kind != "tree":
            return {}
        tree = _github_tree(source, found.object_id, False)
    if tree.truncated:
        raise github_api.GitHubApiError(f"{path or '/'} at {commit} has more entries than GitHub lists at once")
    return folder_listing(tree.entries, "")


@lru_cache(maxsize=512)
def _folder(source: Source, commit: str, path: str) -> tuple[tuple[str, str], ...]:
    if source.provider == "GitHub":
        return tuple(_github_folder(source, commit, path).items())
    return tuple(codecommit.folder(source.repository, commit, path).items())


@lru_cache(maxsize=256)
def _dockerfile(source: Source, commit: str, path: str) -> str | None:
    if source.provider == "GitHub":
        blob = dict(_folder(source, commit, posixpath.dirname(path))).get(posixpath.basename(path))
        return _github_blob(source, blob).decode("utf-8", "replace") if blob else None
    return codecommit.file_text(source.repository, commit, path)


def _source(repository: str | Source) -> Source:
    return repository if isinstance(repository, Source) else Source("CodeCommit", repository)


def service_inputs(repository: str | Source, manifest: Manifest, service: str, commit: str) -> str:
    """The hash of the service's inputs at `commit` (InputsUnknownError when they cannot all be
    read; an AWS failure is raised as it is, for the caller's retry). A bare name is a CodeCommit
    repository."""
    source = _source(repository)
    paths = input_paths(manifest, service)
    listings = {parent: dict(_folder(source, commit, parent)) for parent in parent_folders(paths)}
    objects = {}
    for path in paths:
        bare = path.rstrip("/")
        objects[path] = listings[posixpath.dirname(bare)].get(posixpath.basename(bare), ABSENT)
    dockerfile = manifest.service(service).dockerfile
    text = _dockerfile(source, commit, dockerfile)
    if text is None:
        raise InputsUnknownError(f"{dockerfile} is not in {commit}")
    bases = {}
    for image in base_images(text):
        bases[image.reference] = image.digest or registry.tag_digest(image.reference)
    return inputs_hash(objects, bases)


def known_inputs(repository: str | Source, manifest: Manifest, service: str, commit: str) -> str:
    """The inputs hash, or "" when it cannot be known (the service is then built, as without
    build avoidance); the reason is logged, in one line."""
    try:
        return service_inputs(repository, manifest, service, commit)
    except InputsUnknownError as exc:
        logger.warning(f"build inputs unknown, so built: {exc}", extra={"service": service, "commit": commit})
        return ""


def known_head(source: Source, branch: str) -> str:
    """The commit a GitHub branch points at now, or "" when GitHub does not say (the schedule then
    builds the branch as it did before build avoidance); the reason is logged, in one line."""
    try:
        return github_api.branch_head(github_api.repository_of(source.repository), branch, token=_token(source))
    except github_api.GitHubApiError as exc:
        logger.warning(f"head of {branch} unknown, so every service is built: {exc}")
        return ""


def reset() -> None:
    """Forget what was read so far (tests, and the local account, between runs)."""
    _folder.cache_clear()
    _dockerfile.cache_clear()
    _github_commit_tree.cache_clear()
    _github_subtree.cache_clear()
    _github_blob.cache_clear()
