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

from pipeline.domain.changes import Change
from shipline import gitdiff
from shipline.gitdiff import GitError
from shipline.local.patches import Patches


class History(Protocol):
    def differences(self, before: str | None, after: str) -> list[Change]: ...
    def head(self, branch: str) -> str: ...
    def resolve(self, commit: str) -> str: ...  # a full commit id, or CommitDoesNotExistException
    def merge_base(self, first: str, second: str) -> str | None: ...


@dataclass
class MemoryHistory:
    """A history given outright: (before, after) -> changed paths (a path is modified in place;
    a Change says more, such as a rename reported as one difference); branch -> head; and which
    commits each commit has as ancestors (itself included)."""

    diffs: dict[tuple[str | None, str], list[str | Change]] = field(default_factory=dict)
    heads: dict[str, str] = field(default_factory=dict)
    ancestors: dict[str, set[str]] = field(default_factory=dict)

    def differences(self, before: str | None, after: str) -> list[Change]:
        if (before, after) not in self.diffs:
            raise JsonRESTError("CommitDoesNotExistException", f"no commit {after} after {before}")
        return [Change(path, path) if isinstance(path, str) else path for path in self.diffs[(before, after)]]

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

    def differences(self, before: str | None, after: str) -> list[Change]:
        # The same reading of git as `shipline plan`'s (shipline/gitdiff.py).
        try:
            return gitdiff.differences(self.path, self.resolve(before) if before else None, self.resolve(after))
        except GitError as exc:
            raise JsonRESTError("CommitDoesNotExistException", str(exc)) from None

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
            for change in history(response).differences(before, after):
                # API_Difference: changeType A (no beforeBlob), D (no afterBlob) or M (both).
                entry: dict = {"changeType": "A" if change.before is None else "D" if change.after is None else "M"}
                for side, path in (("beforeBlob", change.before), ("afterBlob", change.after)):
                    if path is not None:
                        entry[side] = {"blobId": "0" * 40, "path": path, "mode": "100644"}
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
