"""CodeCommit's GetDifferences and GetBranch for moto, which has only the repository calls.

The emulated repository is backed by a git history: this checkout for the local account,
or a small in-memory history in tests. Installed into moto's response class, so the same
boto3 calls work in-process (mock_aws) and against the moto server.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from moto.codecommit.responses import CodeCommitResponse
from moto.core.exceptions import JsonRESTError


class History(Protocol):
    def differences(self, before: str | None, after: str) -> list[tuple[str, str]]: ...  # (change, path)
    def head(self, branch: str) -> str: ...


@dataclass
class MemoryHistory:
    """A history given outright: (before, after) -> changed paths; branch -> head."""

    diffs: dict[tuple[str | None, str], list[str]] = field(default_factory=dict)
    heads: dict[str, str] = field(default_factory=dict)

    def differences(self, before: str | None, after: str) -> list[tuple[str, str]]:
        if (before, after) not in self.diffs:
            raise JsonRESTError("CommitDoesNotExistException", f"no commit {after} after {before}")
        return [("M", path) for path in self.diffs[(before, after)]]

    def head(self, branch: str) -> str:
        if branch not in self.heads:
            raise JsonRESTError("BranchDoesNotExistException", f"branch {branch} does not exist")
        return self.heads[branch]


@dataclass
class GitHistory:
    """A real git checkout."""

    path: Path

    def _git(self, *args: str) -> str:
        result = subprocess.run(["git", "-C", str(self.path), *args], capture_output=True, text=True, check=False)
        if result.returncode:
            raise JsonRESTError("CommitDoesNotExistException", result.stderr.strip() or "git failed")
        return result.stdout

    def differences(self, before: str | None, after: str) -> list[tuple[str, str]]:
        if before:
            out = self._git("diff", "--name-status", "--no-renames", before, after)
            return [(line[0], line.split("\t", 1)[1]) for line in out.splitlines() if "\t" in line]
        return [("A", path) for path in self._git("ls-tree", "-r", "--name-only", after).splitlines()]

    def head(self, branch: str) -> str:
        return self._git("rev-parse", branch).strip()


HISTORIES: dict[str, History] = {}


def _history(response: CodeCommitResponse) -> History:
    name = response._get_param("repositoryName")
    response.codecommit_backend.get_repository(name)  # raises RepositoryDoesNotExistException
    if name not in HISTORIES:
        raise JsonRESTError("RepositoryDoesNotExistException", f"{name} has no emulated history")
    return HISTORIES[name]


def _get_differences(self: CodeCommitResponse) -> str:
    before, after = self._get_param("beforeCommitSpecifier"), self._get_param("afterCommitSpecifier")
    changes = _history(self).differences(before, after)
    differences = []
    for change, path in changes:
        blob = {"blobId": "0" * 40, "path": path, "mode": "100644"}
        entry: dict = {"changeType": {"A": "A", "D": "D"}.get(change, "M")}
        if change != "A":
            entry["beforeBlob"] = blob
        if change != "D":
            entry["afterBlob"] = blob
        differences.append(entry)
    return json.dumps({"differences": differences})


def _get_branch(self: CodeCommitResponse) -> str:
    branch = self._get_param("branchName")
    return json.dumps({"branch": {"branchName": branch, "commitId": _history(self).head(branch)}})


def install() -> None:
    CodeCommitResponse.get_differences = _get_differences  # type: ignore[attr-defined]
    CodeCommitResponse.get_branch = _get_branch  # type: ignore[attr-defined]
