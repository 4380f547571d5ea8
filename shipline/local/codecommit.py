"""CodeCommit's GetDifferences, GetBranch, GetCommit, GetMergeOptions, GetFolder and GetFile for
moto, which has only the repository calls.

The emulated repository is backed by a git history: this checkout for the local account,
or a small in-memory history in tests. The emulation is installed into moto's response
class for as long as it is active, so the same boto3 calls work in-process (mock_aws) and
against the moto server.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from moto.codecommit.responses import CodeCommitResponse
from moto.core.exceptions import JsonRESTError

from pipeline.domain.changes import Change
from shipline import gitdiff
from shipline.gitdiff import GitError
from shipline.local.patches import Patches


@dataclass(frozen=True)
class Entry:
    """One entry of a folder, as git stores it: its name, kind and object id."""

    name: str
    kind: Literal["tree", "blob", "link", "commit"]
    object_id: str
    executable: bool = False


class History(Protocol):
    def differences(self, before: str | None, after: str) -> list[Change]: ...
    def head(self, branch: str) -> str: ...
    def resolve(self, commit: str) -> str: ...  # a full commit id, or CommitDoesNotExistException
    def merge_base(self, first: str, second: str) -> str | None: ...
    # A folder's entries at a commit (FolderDoesNotExistException), and a file's blob id and bytes
    # (FileDoesNotExistException).
    def folder(self, commit: str, path: str) -> tuple[str, list[Entry]]: ...
    def file(self, commit: str, path: str) -> tuple[str, bytes, bool]: ...


@dataclass
class MemoryHistory:
    """A history given outright: (before, after) -> changed paths (a path is modified in place;
    a Change says more, such as a rename reported as one difference); branch -> head; and which
    commits each commit has as ancestors (itself included)."""

    diffs: dict[tuple[str | None, str], list[str | Change]] = field(default_factory=dict)
    heads: dict[str, str] = field(default_factory=dict)
    ancestors: dict[str, set[str]] = field(default_factory=dict)
    files: dict[str, dict[str, str]] = field(default_factory=dict)  # commit -> path -> content
    # Commits CodeCommit will not compare with another (TipsDivergenceExceededException): too far
    # from it, at a distance the API Reference does not give, so a test names them.
    diverged: set[str] = field(default_factory=set)

    def folder(self, commit: str, path: str) -> tuple[str, list[Entry]]:
        tree = _tree(self._files(commit))
        for part in filter(None, path.strip("/").split("/")):
            found = tree.get(part)
            if not isinstance(found, dict):
                raise JsonRESTError("FolderDoesNotExistException", f"folder /{path.strip('/')} does not exist")
            tree = found
        return _tree_id(tree), [Entry(name, "tree" if isinstance(value, dict) else "blob",
                                      _tree_id(value) if isinstance(value, dict) else _blob_id(value.encode()))
                                for name, value in sorted(tree.items())]

    def file(self, commit: str, path: str) -> tuple[str, bytes, bool]:
        content = self._files(commit).get(path.strip("/"))
        if content is None:
            raise JsonRESTError("FileDoesNotExistException", f"file {path} does not exist")
        return _blob_id(content.encode()), content.encode(), False

    def _files(self, commit: str) -> dict[str, str]:
        if commit in self.heads:
            commit = self.heads[commit]
        if commit not in self.files:
            raise JsonRESTError("CommitDoesNotExistException", f"commit {commit} does not exist")
        return self.files[commit]

    def differences(self, before: str | None, after: str) -> list[Change]:
        if (before, after) not in self.diffs:
            raise JsonRESTError("CommitDoesNotExistException", f"no commit {after} after {before}")
        return [Change(path, path) if isinstance(path, str) else path for path in self.diffs[(before, after)]]

    def head(self, branch: str) -> str:
        if branch not in self.heads:
            raise JsonRESTError("BranchDoesNotExistException", f"branch {branch} does not exist")
        return self.heads[branch]

    def _known(self) -> set[str]:
        known = set(self.heads.values()) | set(self.ancestors) | set(self.files)
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

    def folder(self, commit: str, path: str) -> tuple[str, list[Entry]]:
        commit = _specifier(self, commit)
        spec = f"{commit}:{path.strip('/')}"
        found = subprocess.run(["git", "-C", str(self.path), "rev-parse", "--verify", "--quiet", "--end-of-options",
                                spec], capture_output=True, text=True, check=False)
        kind = subprocess.run(["git", "-C", str(self.path), "cat-file", "-t", found.stdout.strip() or "0" * 40],
                              capture_output=True, text=True, check=False).stdout.strip()
        if found.returncode or kind != "tree":
            raise JsonRESTError("FolderDoesNotExistException", f"folder /{path.strip('/')} does not exist")
        listing = subprocess.run(["git", "-C", str(self.path), "ls-tree", "-z", found.stdout.strip()],
                                 capture_output=True, check=True).stdout.decode("utf-8", "replace")
        entries = []
        for line in filter(None, listing.split("\0")):
            meta, _, name = line.partition("\t")
            mode, kind, object_id = meta.split()
            entries.append(Entry(name, "link" if mode == "120000" else kind,  # type: ignore[arg-type]
                                 object_id, mode == "100755"))
        return found.stdout.strip(), entries

    def file(self, commit: str, path: str) -> tuple[str, bytes, bool]:
        commit = _specifier(self, commit)
        spec = f"{commit}:{path.strip('/')}"
        found = subprocess.run(["git", "-C", str(self.path), "ls-tree", "-z", commit, "--", path.strip("/")],
                               capture_output=True, check=False).stdout.decode("utf-8", "replace")
        meta = found.partition("\t")[0].split()
        if len(meta) != 3 or meta[1] != "blob":
            raise JsonRESTError("FileDoesNotExistException", f"file {path} does not exist")
        content = subprocess.run(["git", "-C", str(self.path), "cat-file", "blob", spec], capture_output=True,
                                 check=True).stdout
        return meta[2], content, meta[0] == "100755"


def _blob_id(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()


def _tree(files: dict[str, str]) -> dict:
    """Files by path as nested folders: name -> content, or name -> folder."""
    root: dict = {}
    for path, content in files.items():
        *folders, name = path.strip("/").split("/")
        node = root
        for folder in folders:
            node = node.setdefault(folder, {})
        node[name] = content
    return root


def _tree_id(tree: dict) -> str:
    """The git tree id of a folder (git sorts a subfolder as its name followed by "/")."""
    body = b""
    for name in sorted(tree, key=lambda n: n + "/" if isinstance(tree[n], dict) else n):
        value = tree[name]
        mode, object_id = ("40000", _tree_id(value)) if isinstance(value, dict) else ("100644",
                                                                                      _blob_id(value.encode()))
        body += f"{mode} {name}".encode() + b"\0" + bytes.fromhex(object_id)
    return hashlib.sha1(b"tree %d\0" % len(body) + body, usedforsecurity=False).hexdigest()


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
            if {source, destination} & getattr(found, "diverged", set()):
                raise JsonRESTError("TipsDivergenceExceededException",
                                    f"The divergence between {source} and {destination} is too great to compare")
            base = found.merge_base(source, destination)
            if base is None:
                raise JsonRESTError("InvalidMergeOptionException", f"{source} and {destination} share no history")
            options = [] if base == source else ["FAST_FORWARD_MERGE", "SQUASH_MERGE", "THREE_WAY_MERGE"]
            return json.dumps({"mergeOptions": options, "sourceCommitId": source, "destinationCommitId": destination,
                               "baseCommitId": base})

        def get_folder(response: CodeCommitResponse) -> str:
            """GetFolder (CodeCommit API Reference): a folder's subfolders (treeId), files and
            symbolic links (blobId, fileMode) and submodules at a commit; folderPath "/" is the root."""
            found = history(response)
            commit = _specifier(found, response._get_param("commitSpecifier") or "HEAD")
            path = str(response._get_param("folderPath") or "").strip("/")
            tree_id, entries = found.folder(commit, path)
            listed: dict[str, list] = {"subFolders": [], "files": [], "symbolicLinks": [], "subModules": []}
            for entry in entries:
                where = {"absolutePath": f"{path}/{entry.name}" if path else entry.name, "relativePath": entry.name}
                if entry.kind == "tree":
                    listed["subFolders"].append({"treeId": entry.object_id, **where})
                elif entry.kind == "commit":
                    listed["subModules"].append({"commitId": entry.object_id, **where})
                else:
                    mode = "SYMLINK" if entry.kind == "link" else "EXECUTABLE" if entry.executable else "NORMAL"
                    listed["files" if entry.kind == "blob" else "symbolicLinks"].append(
                        {"blobId": entry.object_id, "fileMode": mode, **where})
            return json.dumps({"commitId": commit, "folderPath": f"/{path}", "treeId": tree_id, **listed})

        def get_file(response: CodeCommitResponse) -> str:
            """GetFile: a file's blob id, mode, size and base64 content (at most 6 MB) at a commit."""
            found = history(response)
            commit = _specifier(found, response._get_param("commitSpecifier") or "HEAD")
            path = str(response._get_param("filePath") or "").strip("/")
            blob_id, content, executable = found.file(commit, path)
            if len(content) > 6 * 1024 * 1024:
                raise JsonRESTError("FileTooLargeException", f"file {path} is larger than 6 MB")
            return json.dumps({"commitId": commit, "blobId": blob_id, "filePath": path,
                               "fileMode": "EXECUTABLE" if executable else "NORMAL", "fileSize": len(content),
                               "fileContent": base64.b64encode(content).decode()})

        for name, method in (("get_differences", get_differences), ("get_branch", get_branch),
                             ("get_commit", get_commit), ("get_merge_options", get_merge_options),
                             ("get_folder", get_folder), ("get_file", get_file)):
            patches.set(CodeCommitResponse, name, method)
