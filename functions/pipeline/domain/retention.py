"""Which task-definition revisions of a family to deregister: every ACTIVE revision beyond the
newest N, except those still protected (the ledger's current revision, the one just registered).

ECS services are not consulted yet (DescribeServices needs cluster names shipline does not
have until it rolls services out): a service still running a deregistered revision keeps
running it, since ECS lets a service scale an INACTIVE revision it already uses.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

MAX_DEREGISTRATIONS = 50  # a run's share; the rest wait for the next registration


def revisions_to_deregister(active: Iterable[int], keep: int, protected: Collection[int] = (),
                            limit: int = MAX_DEREGISTRATIONS) -> tuple[int, ...]:
    """The revisions to deregister, oldest first, at most `limit`: every one of `active` beyond the
    newest `keep` (by revision number), except those in `protected`."""
    if keep < 1:
        raise ValueError(f"keep at least one revision, not {keep}")
    newest_first = sorted(set(active), reverse=True)
    beyond = [r for r in newest_first[keep:] if r not in protected]
    return tuple(sorted(beyond)[:limit])
