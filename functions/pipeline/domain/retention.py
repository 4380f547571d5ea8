"""Which task-definition revisions of a family to deregister: every ACTIVE revision beyond the
newest N, except those still protected (the ledger's current revision, the one just registered).

ECS services are not consulted yet (DescribeServices needs cluster names shipline does not
have until it rolls services out): a service still running a deregistered revision keeps
running it, since ECS lets a service scale an INACTIVE revision it already uses.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime, timedelta

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
