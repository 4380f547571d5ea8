"""What `shipline status` shows for a service, from its ledger items."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from pipeline.domain.records import BuildRecord, ServiceHistory
from pipeline.domain.scans import judge, worst_verdict


def partition(project: str, environment: str, service: str) -> str:
    """The ledger partition that holds one service's history in one environment."""
    return f"{project}#{environment}#{service}"


@dataclass(frozen=True)
class ServiceStatus:
    service: str
    revision: int | None = None
    digest: str | None = None
    tag: str | None = None
    registered_at: str | None = None
    scan: str | None = None  # "passed: no findings" / "failed: CRITICAL 1, ..."
    scanned_at: str | None = None
    build: str | None = None  # status of the latest build, or REUSED (an image with the commit's inputs retagged)
    build_commit: str | None = None
    built_at: str | None = None
    running_revision: int | None = None  # what the ECS service runs, beside the registered revision
    deployment: str | None = None  # its last deployment's state


    def as_dict(self) -> dict:
        return asdict(self)


def summarize(service: str, history: ServiceHistory) -> ServiceStatus:
    current = history.current
    by_digest = {image.digest: image for image in history.images}
    image = by_digest.get(current.digest) if current else None
    if image is None:  # nothing registered yet: show the latest scanned image
        scanned = [i for i in history.images if i.scans]
        image = max(scanned, key=lambda i: max(s.at for s in i.scans.values()), default=None)
    scans = list(image.scans.values()) if image else []
    verdict = worst_verdict([judge(s.counts, status=s.status, scanner=s.scanner) for s in scans])
    latest_build = max(history.builds, key=lambda b: b.at, default=None)
    reused = max((c for c in history.commits if c.last_status == "REUSED" and c.reused_at),
                 key=lambda c: c.reused_at, default=None)
    if reused is not None and (latest_build is None or reused.reused_at > latest_build.at):
        # Build avoidance: the latest commit was not built; an image built from its inputs was retagged.
        latest_build = BuildRecord(build_id="", status="REUSED", commit=reused.commit, at=reused.reused_at)
    text = None
    if verdict is not None:
        text = (f"{'passed' if verdict.passed else 'failed'}: {verdict.summary()}" if verdict.completed
                else f"failed: {verdict.summary()}")
    return ServiceStatus(
        service=service,
        revision=current.revision if current else None,
        digest=current.digest if current else image.digest if image else None,
        tag=(current.tag if current and current.tag else next(iter(image.tags), None) if image else None),
        registered_at=current.registered_at if current else None,
        scan=text,
        scanned_at=max((s.at for s in scans), default=None),
        build=latest_build.status if latest_build else None,
        build_commit=(latest_build.commit[:7] or None) if latest_build else None,
        built_at=latest_build.at if latest_build else None,
        running_revision=history.running.revision if history.running else None,
        deployment=history.running.state if history.running else None,
    )
