"""CodeCommit: what a push changed, and a branch's head."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from pipeline.adapters.clients import client
from pipeline.adapters.errors import error_code, wrap
from pipeline.domain.changes import Change
from pipeline.domain.inputs import InputsUnknownError

_NO_COMMIT = {"CommitDoesNotExistException", "InvalidCommitException"}


def differences(repository: str, before: str | None, after: str, *, codecommit: Any | None = None) -> list[Change]:
    """Every file added, deleted or modified between two commits (GetDifferences, all pages),
    with its path on each side. With no `before` (a new branch), every file in `after`."""
    codecommit = codecommit or client("codecommit")
    args: dict[str, Any] = {"repositoryName": repository, "afterCommitSpecifier": after}
    if before:
        args["beforeCommitSpecifier"] = before
    changes: list[Change] = []
    try:
        for page in codecommit.get_paginator("get_differences").paginate(**args):
            for difference in page.get("differences", []):
                changes.append(Change(before=difference.get("beforeBlob", {}).get("path"),
                                      after=difference.get("afterBlob", {}).get("path")))
    except ClientError as exc:
        raise wrap(exc, f"get differences {before}..{after} in {repository}") from exc
    return changes


def branch_head(repository: str, branch: str, *, codecommit: Any | None = None) -> str:
    codecommit = codecommit or client("codecommit")
    try:
        return str(codecommit.get_branch(repositoryName=repository, branchName=branch)["branch"]["commitId"])
    except ClientError as exc:
        raise wrap(exc, f"read head of {branch} in {repository}") from exc


class TooFarBehindError(LookupError):
    """CodeCommit will not compare the commit with the branch's head: they diverge by more than
    it compares (TipsDivergenceExceededException; the CodeCommit API Reference gives no number)."""


def contains(repository: str, branch: str, commit: str, *, codecommit: Any | None = None) -> bool:
    """Whether the branch's head has `commit` in its history: their merge base is the commit
    itself (GetMergeOptions gives the merge base of two commit specifiers). TooFarBehindError
    when CodeCommit will not say."""
    codecommit = codecommit or client("codecommit")
    try:
        response = codecommit.get_merge_options(repositoryName=repository, sourceCommitSpecifier=commit,
                                                destinationCommitSpecifier=branch)
    except ClientError as exc:
        if error_code(exc) in {"CommitDoesNotExistException", "InvalidCommitException", "InvalidMergeOptionException"}:
            return False
        if error_code(exc) == "TipsDivergenceExceededException":
            raise TooFarBehindError(f"commit {commit} and the head of {branch} diverge by more than CodeCommit "
                                    "compares") from None
        raise wrap(exc, f"check that {branch} in {repository} holds {commit}") from exc
    return str(response.get("baseCommitId")) == commit


def folder(repository: str, commit: str, path: str, *, codecommit: Any | None = None) -> dict[str, str]:
    """What a folder holds at a commit: each entry's name with its git object id (a subfolder's
    tree id, a file's blob id). GetFolder (CodeCommit API Reference): `folderPath` is "/" for the
    root; `subFolders[].treeId`, `files[].blobId`, `symbolicLinks[].blobId`."""
    codecommit = codecommit or client("codecommit")
    try:
        response = codecommit.get_folder(repositoryName=repository, commitSpecifier=commit,
                                         folderPath=f"/{path}" if path else "/")
    except ClientError as exc:
        if error_code(exc) == "FolderDoesNotExistException":
            return {}
        if error_code(exc) in _NO_COMMIT:
            raise InputsUnknownError(f"{commit} is not in {repository}") from None
        raise wrap(exc, f"list {path or '/'} at {commit} in {repository}") from exc
    entries = {str(f["relativePath"]): str(f["treeId"]) for f in response.get("subFolders", [])}
    for kind in ("files", "symbolicLinks"):
        entries |= {str(f["relativePath"]): str(f["blobId"]) for f in response.get(kind, [])}
    return entries


def file_text(repository: str, commit: str, path: str, *, codecommit: Any | None = None) -> str | None:
    """A file's content at a commit (GetFile; at most 6 MB), or None when there is none."""
    codecommit = codecommit or client("codecommit")
    try:
        response = codecommit.get_file(repositoryName=repository, commitSpecifier=commit, filePath=path)
    except ClientError as exc:
        if error_code(exc) == "FileDoesNotExistException":
            return None
        if error_code(exc) in _NO_COMMIT:
            raise InputsUnknownError(f"{commit} is not in {repository}") from None
        if error_code(exc) == "FileTooLargeException":
            raise InputsUnknownError(f"{path} at {commit} is larger than GetFile reads (6 MB)") from None
        raise wrap(exc, f"read {path} at {commit} in {repository}") from exc
    return bytes(response["fileContent"]).decode("utf-8", "replace")
