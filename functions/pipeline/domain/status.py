"""What `shipline status` shows for a service, from its ledger items."""

from __future__ import annotations

from dataclasses import asdict, dataclass


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
    build: str | None = None  # status of the latest build
    build_commit: str | None = None
    built_at: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def summarize(service: str, items: list[dict]) -> ServiceStatus:
    by_key = {item["sk"]: item for item in items}
    current = by_key.get("current", {})
    digest = current.get("digest")
    image = by_key.get(f"image#{digest}", {}) if digest else {}
    if not image:  # nothing registered yet: show the latest scanned image
        scanned = [i for i in items if i["sk"].startswith("image#") and i.get("scan")]
        image = max(scanned, key=lambda i: i["scan"].get("at", ""), default={})
    scan = image.get("scan")
    builds = [i for i in items if i["sk"].startswith("build#")]
    latest_build = max(builds, key=lambda i: i.get("at", ""), default={})
    verdict = None
    if scan:
        counts = ", ".join(f"{k} {v}" for k, v in scan.get("counts", {}).items()) or "no findings"
        verdict = f"{'passed' if scan.get('passed') else 'failed'}: {counts}"
    return ServiceStatus(
        service=service,
        revision=current.get("revision"),
        digest=digest or image.get("digest"),
        tag=current.get("tag") or next(iter(sorted(image.get("tags", []))), None),
        registered_at=current.get("registeredAt"),
        scan=verdict,
        scanned_at=scan.get("at") if scan else None,
        build=latest_build.get("status"),
        build_commit=(latest_build.get("commit") or "")[:7] or None,
        built_at=latest_build.get("at"),
    )
