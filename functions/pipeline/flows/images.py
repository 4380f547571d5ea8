"""ECR pushes and scans (basic and Inspector): the ledger, the gate, registration and the
one notification per scanned image."""

from __future__ import annotations

from functools import partial

from aws_lambda_powertools import Logger

from pipeline.adapters import ecr, ledger, sns
from pipeline.domain import gate
from pipeline.domain.manifest import Manifest
from pipeline.domain.naming import is_sha_tag
from pipeline.domain.notifications import scan_notification
from pipeline.domain.scans import Finding, ScanVerdict, judge, rank, top_findings
from pipeline.events.envelope import NotOursError
from pipeline.flows.idempotency import once
from pipeline.flows.registration import register_image
from pipeline.settings import Settings

logger = Logger(child=True)

BUILD_CACHE_TAG = "buildcache"


def service_of(settings: Settings, manifest: Manifest, repository: str) -> str:
    """The manifest service a repository (name or ARN) belongs to."""
    name = repository.split(":repository/", 1)[1] if ":repository/" in repository else repository
    service = settings.target.service_of(name)
    if service is None:
        raise NotOursError(f"repository {name} is not one of {settings.project}-{settings.environment}-*")
    return manifest.service(service).name  # UnknownServiceError when not in the manifest


def on_push(settings: Settings, manifest: Manifest, repository: str, digest: str, tag: str | None) -> dict:
    if tag == BUILD_CACHE_TAG:
        raise NotOursError("the build cache is not an image to register")
    service = service_of(settings, manifest, repository)
    table, pk = settings.require("ledger_table"), settings.ledger_key(service)
    image = ledger.record(table, pk, f"image#{digest}", {"digest": digest, "lastPushAt": ledger.now()},
                          add={"tags": [tag] if tag else []})
    if image.get("revision"):  # the same digest under another tag: one revision per digest
        return {"outcome": "already registered", "service": service, "revision": image["revision"]}
    decision = gate.decide(settings.gate, _verdict(image))
    if decision.decision != "register":
        logger.info(f"not registered: {decision.reason}", extra={"service": service, "digest": digest})
        outcome = "held" if decision.decision == "hold" else "waiting for scan"
        return {"outcome": outcome, "service": service, "reason": decision.reason}
    registration = register_image(settings, manifest, service, digest)
    return {"outcome": registration.outcome, "service": service, "revision": registration.revision}


def on_scan(settings: Settings, manifest: Manifest, *, repository: str, digest: str, tags: list[str],
            counts: dict[str, int], scanner: str) -> dict:
    service = service_of(settings, manifest, repository)
    name = settings.target.repository(service)
    table, pk = settings.require("ledger_table"), settings.ledger_key(service)
    verdict = judge(counts, settings.scan_threshold)
    image = ledger.record(table, pk, f"image#{digest}", {"digest": digest, "scan": {
        "counts": verdict.counts, "worst": verdict.worst or "NONE", "passed": verdict.passed,
        "threshold": verdict.threshold, "scanner": scanner, "at": ledger.now(),
    }}, add={"tags": tags})

    outcome = "recorded"
    if settings.gate == "scan":
        decision = gate.decide("scan", verdict)
        if decision.decision == "register":
            registration = register_image(settings, manifest, service, digest)
            outcome = registration.outcome
            registration_text = _registration_text(registration.outcome, registration.revision, decision.reason)
        else:
            outcome, registration_text = "held", f"held back: {decision.reason}"
    else:
        registration_text = (f"registered on push as revision {image['revision']} (gate none)"
                             if image.get("revision") else "gate none: registered on push, not gated by the scan")

    findings = top_findings(ecr.scan_findings(name, digest)) if verdict.counts else []
    tag = next((t for t in tags if is_sha_tag(t)), tags[0] if tags else None)
    notification = scan_notification(
        target=settings.target, service=service, repository=name, digest=digest, tag=tag, verdict=verdict,
        findings=findings, registration=registration_text, scanner=scanner,
    )
    topic = settings.require("notification_topic_arn")
    notice = once(f"scan-notice:{name}@{digest}:{scanner}", partial(sns.publish, topic, notification))
    # `notified`: this invocation judged the scan and sent its message; a duplicate delivery of
    # the same scan did not, and counts no finding and no hold again.
    return {"outcome": outcome, "service": service, "worst": verdict.worst, "passed": verdict.passed,
            "counts": verdict.counts, "notified": notice.fresh}


def on_finding(settings: Settings, manifest: Manifest, *, repository: str, digest: str, tags: list[str],
               finding_arn: str, finding: Finding, status: str) -> dict:
    """Continuous scanning found something new for an image: tell people when it matters."""
    service = service_of(settings, manifest, repository)
    table, pk = settings.require("ledger_table"), settings.ledger_key(service)
    ledger.record(table, pk, f"finding#{finding_arn}", {
        "digest": digest, "severity": finding.severity, "id": finding.id, "status": status, "at": ledger.now(),
    })
    if status != "ACTIVE" or rank(finding.severity) > rank(settings.scan_threshold):
        return {"outcome": "recorded", "service": service}
    name = settings.target.repository(service)
    notification = scan_notification(
        target=settings.target, service=service, repository=name, digest=digest,
        tag=next((t for t in tags if is_sha_tag(t)), None),
        verdict=judge({finding.severity: 1}, settings.scan_threshold), findings=[finding],
        registration="unchanged (finding reported by continuous scanning)", scanner="Amazon Inspector finding",
    )
    topic = settings.require("notification_topic_arn")
    once(f"finding-notice:{finding_arn}", partial(sns.publish, topic, notification))
    return {"outcome": "notified", "service": service}


def _verdict(image: dict) -> ScanVerdict | None:
    scan = image.get("scan")
    return ScanVerdict(scan["counts"], scan["threshold"]) if scan else None


def _registration_text(outcome: str, revision: int | None, reason: str) -> str:
    if outcome == "registered":
        return f"registered as revision {revision} ({reason})"
    if outcome == "already current":
        return f"already the latest revision ({revision})"
    return f"not registered: {outcome}"
