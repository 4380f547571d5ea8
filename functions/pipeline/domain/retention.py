"""Which task-definition revisions of a family to deregister: every ACTIVE revision beyond the
newest N, except those still protected: the one just registered, the ledger's current revision,
and those in use (what the ECS service's deployments run or would roll back to, what the
ledger last saw it run, what its scheduled tasks name).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pipeline.domain.naming import is_sha_tag

MAX_DEREGISTRATIONS = 50  # a run's share; the rest wait for the next registration
# DeleteTaskDefinitions takes at most 10 revisions (ECS API Reference, "DeleteTaskDefinitions");
# one request a run, the rest wait for the next registration.
MAX_DELETIONS = 10


def revisions_to_deregister(active: Iterable[int], keep: int, protected: Collection[int] = (),
                            limit: int = MAX_DEREGISTRATIONS) -> tuple[int, ...]:
    """The revisions to deregister, oldest first, at most `limit`: every one of `active` beyond the
    newest `keep` (by revision number), except those in `protected`."""
    if keep < 1:
        raise ValueError(f"keep at least one revision, not {keep}")
    newest_first = sorted(set(active), reverse=True)
    beyond = [r for r in newest_first[keep:] if r not in protected]
    return tuple(sorted(beyond)[:limit])


def revisions_to_delete(retired: Mapping[int, str], now: datetime, after_days: int,
                        protected: Collection[int] = (), limit: int = MAX_DELETIONS) -> tuple[int, ...]:
    """The revisions retention deregistered (`retired`: revision -> when, ISO 8601) at least
    `after_days` days before `now`, oldest first, at most `limit`; none when `after_days` is 0
    (deletion is off). A protected revision (the current one) is never deleted."""
    if after_days < 1:
        return ()
    cutoff = now - timedelta(days=after_days)
    due = [r for r, at in retired.items() if r not in protected and datetime.fromisoformat(at) <= cutoff]
    return tuple(sorted(due)[:limit])


def revisions_named(family: str, task_definitions: Iterable[str]) -> frozenset[int]:
    """The revisions of `family` that these task-definition references name: a full ARN
    (`arn:...:task-definition/<family>:<revision>`) or `<family>:<revision>`. A reference to the
    family alone (no revision: ECS runs its latest ACTIVE revision) names none, and needs none
    kept: the latest revision is always among the newest N. Other families name none."""
    found: set[int] = set()
    for reference in task_definitions:
        name = reference.rsplit("task-definition/", 1)[-1] if "task-definition/" in reference else reference
        base, colon, revision = name.rpartition(":")
        if colon and base == family and revision.isdigit():
            found.add(int(revision))
    return frozenset(found)


@dataclass(frozen=True)
class InUse:
    """The revisions of a family in use, each with what uses it (for the log)."""

    users: Mapping[int, tuple[str, ...]] = field(default_factory=dict)

    @property
    def revisions(self) -> frozenset[int]:
        return frozenset(self.users)

    def add(self, user: str, revisions: Iterable[int]) -> InUse:
        users = {r: tuple(u) for r, u in self.users.items()}
        for revision in revisions:
            users[revision] = (*users.get(revision, ()), user)
        return InUse(users)


def in_use_tag_changes(used: Collection[int], tagged: Mapping[int, str]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The revisions whose images to tag as in use, and those whose in-use tags to remove, oldest
    first: each revision in use carries its tag (naming.in_use_tag); `tagged` holds the revisions
    whose tags shipline put and has not removed (revision -> digest)."""
    wanted = set(used)
    return tuple(sorted(wanted - set(tagged))), tuple(sorted(set(tagged) - wanted))


def may_remove_tag(tags: Collection[str], tag: str) -> bool:
    """Whether `tag` may be removed from an image with these tags: only when the image keeps a
    commit tag. Removing an image's last tag deletes the image (ECR API Reference,
    BatchDeleteImage), and its other tags may move away meanwhile (`latest`, `live-<environment>`,
    a manual push's tag); a commit tag never moves (a commit's rebuild is `<sha>-b<N>`)."""
    return any(is_sha_tag(t) for t in tags if t != tag)
