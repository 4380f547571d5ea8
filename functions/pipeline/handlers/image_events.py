"""Image events: ECR pushes and scans, Inspector scans and findings, and the hourly findings
digest. A push (or a passing scan, under the scan gate) becomes a task-definition revision; a
scan becomes a message; a finding is recorded (and, found after its image's scan message, sent
in that image's next hourly digest)."""

from __future__ import annotations

from pipeline.handlers import coldstart

with coldstart.imports():
    from datetime import UTC
    from typing import Any

    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from pipeline.domain.fixes import has_fix
    from pipeline.domain.scans import Finding, inspector_counts, listed_severities, severity_counts
    from pipeline.events.images import (
        DigestScheduled,
        EcrImagePushed,
        EcrImageScanned,
        InspectorCoverageChanged,
        InspectorImageScanned,
        parse_image_event,
    )
    from pipeline.flows.idempotency import register_lambda_context
    from pipeline.flows.images import on_coverage, on_digest_schedule, on_finding, on_push, on_scan
    from pipeline.handlers.observability import logger, metrics, traced
    from pipeline.handlers.outcomes import event_outcomes
    from pipeline.settings import ImageEventsSettings, get_settings


@logger.inject_lambda_context(correlation_id_path="id")
@metrics.log_metrics
@traced
@event_outcomes
def handler(event: dict[str, Any], context: LambdaContext) -> dict:
    register_lambda_context(context)
    settings = get_settings(ImageEventsSettings)
    manifest = settings.manifest()
    parsed = parse_image_event(event)
    if isinstance(parsed, EcrImagePushed):
        d = parsed.detail
        result = on_push(settings, manifest, d.repository_name, d.image_digest, d.image_tag,
                         pushed_at=parsed.time.astimezone(UTC).isoformat())
    elif isinstance(parsed, EcrImageScanned | InspectorImageScanned):
        d2 = parsed.detail
        basic = isinstance(parsed, EcrImageScanned)
        result = on_scan(settings, manifest, repository=d2.repository_name, digest=d2.image_digest,
                         tags=d2.image_tags, status=d2.scan_status, scanner="basic" if basic else "inspector",
                         counts=severity_counts(d2.finding_severity_counts) if basic
                         else inspector_counts(d2.finding_severity_counts),
                         listed=listed_severities(d2.finding_severity_counts))
        _count_scan(result)
    elif isinstance(parsed, InspectorCoverageChanged):
        repository, digest = parsed.image
        status = parsed.detail.scan_status
        result = on_coverage(settings, manifest, repository=repository, digest=digest,
                             status=status.status_code_value, reason=status.reason)
        _count_scan(result)
    elif isinstance(parsed, DigestScheduled):
        result = on_digest_schedule(settings, at=parsed.time)
        if result["sent"]:
            metrics.add_metric(name="FindingDigestsSent", unit=MetricUnit.Count, value=result["sent"])
    else:
        f = parsed.detail
        image = f.resources[0].details.aws_ecr_container_image
        vulnerability = f.package_vulnerability_details
        packages = vulnerability.vulnerable_packages if vulnerability else []
        fixable = has_fix(f.fix_available, [p.fixed_in_version for p in packages])
        # PARTIAL: the package named is one that has a fixed version (the one a rebuild could pick up).
        package = next((p for p in packages if has_fix(f.fix_available, [p.fixed_in_version])),
                       packages[0] if packages else None)
        finding = Finding(
            id=vulnerability.vulnerability_id if vulnerability else f.title, severity=f.severity,
            package=package.name if package else "", version=package.version if package else "",
            fixed_in=package.fixed_in_version if package and f.fix_available != "NO"
            and package.fixed_in_version != "NotAvailable" else "",
        )
        result = on_finding(settings, manifest, repository=image.repository_name, digest=image.image_hash,
                            tags=image.image_tags, finding_arn=f.finding_arn, finding=finding, status=f.status,
                            first_observed_at=f.first_observed_at, fixable=fixable, updated_at=f.updated_at)
    _count(result)
    return result


def _count(result: dict) -> None:
    if result.get("outcome") == "registered":  # registered by this invocation (a replay says "already")
        metrics.add_metric(name="RevisionsRegistered", unit=MetricUnit.Count, value=1)


def _count_scan(result: dict) -> None:
    if result["notified"]:  # once per scanned image, not per delivery
        for severity, count in result.get("counts", {}).items():
            metrics.add_metric(name=f"Findings{severity.title()}", unit=MetricUnit.Count, value=count)
        if result["outcome"] == "held":
            metrics.add_metric(name="ImagesHeld", unit=MetricUnit.Count, value=1)
