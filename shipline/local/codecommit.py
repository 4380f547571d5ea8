"""CodeCommit's GetDifferences, GetBranch, GetCommit and GetMergeOptions for moto, which has
only the repository calls.

The emulated repository is backed by a git history: this checkout for the local account,
or a small in-memory history in tests. The emulation is installed into moto's response
class for as long as it is active, so the same boto3 calls work in-process (mock_aws) and
against the moto server.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from moto.codecommit.responses import CodeCommitResponse
from moto.core.exceptions import JsonRESTError

from shipline.local.patches import Patches


class History(Protocol):
    def differences(self, before: str | None, after: str) -> list[tuple[str, str]]: ...  # (change, path)
    def head(self, branch: str) -> str: ...
    def resolve(self, commit: str) -> str: ...  # a full commit id, or CommitDoesNotExistException
    def merge_base(self, first: str, second: str) -> str | None: ...


@dataclass
class MemoryHistory:
    """A history given outright: (before, after) -> changed paths; branch -> head; and which
    commits each commit has as ancestors (itself included)."""

    diffs: dict[tuple[str | None, str], list[str]] = field(default_factory=dict)
    heads: dict[str, str] = field(default_factory=dict)
    ancestors: dict[str, set[str]] = field(default_factory=dict)

    def differences(self, before: str | None, after: str) -> list[tuple[str, str]]:
        if (before, after) not in self.diffs:
            raise JsonRESTError("CommitDoesNotExistException", f"no commit {after} after {before}")
        return [("M", path) for path in self.diffs[(before, after)]]

    def head(self, branch: str) -> str:
        if branch not in self.heads:
            raise JsonRESTError("BranchDoesNotExistException", f"branch {branch} does not exist")
        return self.heads[branch]

    def _known(self) -> set[str]:
        known = set(self.heads.values()) | set(self.ancestors)
        for before, after in self.diffs:
            known |= {after} | ({before} if before else set())
        return known

    def resolve(self, commit: str) -> str:
        if commit not in self._known():
            raise JsonRESTError("CommitDoesNotExistException", f"commit {commit} does not exist")
        return commit

    def merge_base(self, first: str, second: str) -> str | None:
        mine = self.ancestors.get(first, {first}) | {first}
        theirs = self.ancestors.get(second, {second}) | {second}
        common = mine & theirs
        return first if first in common else second if second in common else next(iter(sorted(common)), None)


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
            out = self._git("diff", "--name-status", "--no-renames", before, after, "--")
            return [(line[0], line.split("\t", 1)[1]) for line in out.splitlines() if "\t" in line]
        return [("A", path) for path in self._git("ls-tree", "-r", "--name-only", after, "--").splitlines()]

    def head(self, branch: str) -> str:
        result = subprocess.run(["git", "-C", str(self.path), "rev-parse", "--verify", "--quiet",
                                 f"refs/heads/{branch}^{{commit}}"], capture_output=True, text=True, check=False)
        if result.returncode:
            raise JsonRESTError("BranchDoesNotExistException", f"branch {branch} does not exist")
        return result.stdout.strip()

    def resolve(self, commit: str) -> str:
        return self._git("rev-parse", "--verify", "--end-of-options", f"{commit}^{{commit}}").strip()

    def merge_base(self, first: str, second: str) -> str | None:
        result = subprocess.run(["git", "-C", str(self.path), "merge-base", "--end-of-options", first, second],
                                capture_output=True, text=True, check=False)
        return result.stdout.strip() or None


def _specifier(history: History, value: str) -> str:
    """A commit specifier: a branch name, else a commit id."""
    try:
        return history.head(value)
    except JsonRESTError:
        return history.resolve(value)


class CodeCommitEmulation:
    """Repositories' histories, and the calls moto lacks, served from them."""

    def __init__(self) -> None:
        self.histories: dict[str, History] = {}

    def install(self, patches: Patches) -> None:
        emulation = self

        def history(response: CodeCommitResponse) -> History:
            name = response._get_param("repositoryName")
            response.codecommit_backend.get_repository(name)  # raises RepositoryDoesNotExistException
            if name not in emulation.histories:
                raise JsonRESTError("RepositoryDoesNotExistException", f"{name} has no emulated history")
            return emulation.histories[name]

        def get_differences(response: CodeCommitResponse) -> str:
            before = response._get_param("beforeCommitSpecifier")
            after = response._get_param("afterCommitSpecifier")
            differences = []
            for change, path in history(response).differences(before, after):
                blob = {"blobId": "0" * 40, "path": path, "mode": "100644"}
                entry: dict = {"changeType": {"A": "A", "D": "D"}.get(change, "M")}
                if change != "A":
                    entry["beforeBlob"] = blob
                if change != "D":
                    entry["afterBlob"] = blob
                differences.append(entry)
            return json.dumps({"differences": differences})

        def get_branch(response: CodeCommitResponse) -> str:
            branch = response._get_param("branchName")
            return json.dumps({"branch": {"branchName": branch, "commitId": history(response).head(branch)}})

        def get_commit(response: CodeCommitResponse) -> str:
            commit = history(response).resolve(response._get_param("commitId"))
            return json.dumps({"commit": {"commitId": commit}})

        def get_merge_options(response: CodeCommitResponse) -> str:
            """GetMergeOptions: the merge base of two commit specifiers (a branch or a commit)."""
            found = history(response)
            source, destination = (_specifier(found, response._get_param(name))
                                   for name in ("sourceCommitSpecifier", "destinationCommitSpecifier"))
            base = found.merge_base(source, destination)
            if base is None:
                raise JsonRESTError("InvalidMergeOptionException", f"{source} and {destination} share no history")
            options = [] if base == source else ["FAST_FORWARD_MERGE", "SQUASH_MERGE", "THREE_WAY_MERGE"]
            return json.dumps({"mergeOptions": options, "sourceCommitId": source, "destinationCommitId": destination,
                               "baseCommitId": base})

        for name, method in (("get_differences", get_differences), ("get_branch", get_branch),
                             ("get_commit", get_commit), ("get_merge_options", get_merge_options)):
            patches.set(CodeCommitResponse, name, method)
