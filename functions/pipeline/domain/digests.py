"""Amazon Inspector's findings, and when people hear of them.

Inspector sends an "Inspector2 Finding" event per finding, at the initial scan too, and one
"Inspector2 Scan" when that scan completes. People get one message per scanned image: the
scan's (it carries the counts and the top findings), never one per finding. A finding that
arrives after that message (continuous scanning re-scans images as new vulnerabilities are
published) waits for the image's digest: at most one message per image per hour, and only
while the image runs (it is the digest of a service's current registered revision); a later
finding for an image that runs nowhere is recorded, not sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from pipeline.domain.records import CurrentRecord, PendingFinding, RunningRevision
from pipeline.domain.scans import Finding, rank, top_findings

FindingRoute = Literal["folded into the scan message", "not reported", "not running", "queued for the digest",
                       "already reported"]
# Amazon Inspector's finding timestamps in EventBridge events ("Dec 3, 2021, 6:02:30 PM", UTC):
# ECR User Guide, "EventBridge events sent for enhanced scanning in Amazon ECR".
_INSPECTOR_TIME = "%b %d, %Y, %I:%M:%S %p"


def hour_of(at: datetime) -> str:
    """The UTC hour a moment falls in: the digest's unit of time."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H")


def inspector_time(text: str) -> datetime | None:
    """A finding's timestamp as Inspector's events write it (or ISO 8601); None when unreadable."""
    for parse in (lambda t: datetime.strptime(t, _INSPECTOR_TIME).replace(tzinfo=UTC), datetime.fromisoformat):
        try:
            value = parse(text.strip())
        except ValueError:
            continue
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


def route_finding(*, status: str, severity: str, threshold: str, scanned_at: str | None, running: bool,
                  first_observed_at: str = "", queued: bool = False) -> FindingRoute:
    """What to do with one "Inspector2 Finding" event.

    `scanned_at` is when the image's Inspector scan result was recorded (None before it):
    until then, and for any finding first observed by that scan, the scan's message is the
    one that tells people. Only an ACTIVE finding at or above the threshold is reported later,
    and only for an image that runs (`running`: the digest of a service's current revision).
    """
    if status != "ACTIVE" or rank(severity) > rank(threshold):
        return "not reported"
    if scanned_at is None:
        return "folded into the scan message"
    observed, scanned = inspector_time(first_observed_at), inspector_time(scanned_at)
    if observed is not None and scanned is not None and observed <= scanned:
        return "folded into the scan message"
    if queued:
        return "already reported"
    return "queued for the digest" if running else "not running"


def running_revisions(current: CurrentRecord | None, *, service: str, environment: str, digest: str,
                      running: int | None = None, running_digest: str | None = None) -> tuple[RunningRevision, ...]:
    """Where the image runs, in this environment's ledger partition: as the service's current
    revision, when that is this digest; and as the revision the ECS service runs (`running`, the
    ledger's record of its deployments' events), when that revision's image (`running_digest`)
    is this digest and it is not the current one (ECS rolled the service back to it). Nowhere
    otherwise. (One stack sees one environment; an image runs in another only if it was
    promoted there.)"""
    found: list[RunningRevision] = []
    if current is not None and current.digest == digest:
        found.append(RunningRevision(service=service, environment=environment, revision=current.revision))
    if running is not None and running_digest == digest and not any(r.revision == running for r in found):
        found.append(RunningRevision(service=service, environment=environment, revision=running, on_ecs=True))
    return tuple(found)


@dataclass(frozen=True)
class ImageDigest:
    """One image's findings that wait for a digest."""

    service: str
    digest: str
    tags: tuple[str, ...]
    pending: tuple[PendingFinding, ...]

    @property
    def findings(self) -> list[Finding]:
        return top_findings([p.finding for p in self.pending], limit=len(self.pending))

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for finding in self.findings:
            counts[finding.severity] = counts.get(finding.severity, 0) + 1
        return counts


def due_digests(pending: Iterable[PendingFinding], hour: str) -> list[ImageDigest]:
    """The digests the run for `hour` sends: one per image, of the findings queued in an earlier
    hour (those queued in this hour wait for the next run, so a replay of this run finds the
    same set)."""
    by_image: dict[tuple[str, str], list[PendingFinding]] = {}
    for item in pending:
        if item.hour < hour:
            by_image.setdefault((item.service, item.digest), []).append(item)
    digests = []
    for (service, digest), items in sorted(by_image.items()):
        items.sort(key=lambda p: (rank(p.finding.severity), p.finding.id, p.finding_arn))
        tags = tuple(sorted({tag for item in items for tag in item.tags}))
        digests.append(ImageDigest(service, digest, tags, tuple(items)))
    return digests
