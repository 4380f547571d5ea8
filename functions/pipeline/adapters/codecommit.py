"""CodeCommit: what a push changed, and a branch's head."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from pipeline.adapters.clients import client
from pipeline.adapters.errors import error_code, wrap
from pipeline.domain.changes import Change


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


def contains(repository: str, branch: str, commit: str, *, codecommit: Any | None = None) -> bool:
    """Whether the branch's head has `commit` in its history: their merge base is the commit
    itself (GetMergeOptions gives the merge base of two commit specifiers)."""
    codecommit = codecommit or client("codecommit")
    try:
        response = codecommit.get_merge_options(repositoryName=repository, sourceCommitSpecifier=commit,
                                                destinationCommitSpecifier=branch)
    except ClientError as exc:
        if error_code(exc) in {"CommitDoesNotExistException", "InvalidCommitException", "InvalidMergeOptionException",
                               "TipsDivergenceExceededException"}:
            return False
        raise wrap(exc, f"check that {branch} in {repository} holds {commit}") from exc
    return str(response.get("baseCommitId")) == commit
