"""A git history's differences between two commits, in CodeCommit's GetDifferences shape.

Both `shipline plan` and the local account's GetDifferences read git here, so a change looks
the same to either: rename detection off (a rename is its old path deleted and its new path
added; a copy is its new path added), whatever `diff.renames` says, and paths exactly as git
stores them (`-z`: no quoting of unusual characters).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from pipeline.domain.changes import Change


class GitError(RuntimeError):
    """git could not answer (not a repository, or no such commit); the message is git's."""


def differences(repository: Path, before: str | None, after: str) -> list[Change]:
    """What changed from `before` to `after` (commit ids); with no `before`, every file in `after`."""
    if before is None:
        return [Change(None, path) for path in _fields(repository, "ls-tree", "-r", "-z", "--name-only", after, "--")]
    fields = _fields(repository, "diff", "--no-renames", "--no-ext-diff", "--no-textconv", "-z", "--name-status",
                     before, after, "--")
    changes = []
    for status, path in zip(fields[::2], fields[1::2], strict=True):
        if status == "A":
            changes.append(Change(None, path))
        elif status == "D":
            changes.append(Change(path, None))
        else:  # M, T (type change), U: the same path on both sides
            changes.append(Change(path, path))
    return changes


def _fields(repository: Path, *args: str) -> list[str]:
    result = subprocess.run(["git", "-C", str(repository), *args], capture_output=True, check=False)
    if result.returncode:
        message = result.stderr.decode(errors="replace").strip() or f"git {args[0]} failed"
        raise GitError(message)
    return [field for field in result.stdout.decode(errors="replace").split("\0") if field]
