# ruff: noqa: F811 - the image events tests' fixtures (images, push_image) are imported, then requested by name
"""Inspector findings over time, judged against what AWS does: Inspector sends a finding again,
same ARN, whenever its state changes (Inspector User Guide, "Creating custom responses to Amazon
Inspector findings with Amazon EventBridge"), and EventBridge neither keeps order nor delivers
once. A queued finding that is SUPPRESSED or CLOSED before its hour is not sent; an older state
delivered late changes nothing; a finding in the image the service runs after a rollback is
told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.integration.test_image_events import (  # noqa: F401 - fixtures
    digest_run,
    images,
    inspector_finding,
    push_image,
    scanned_by_inspector,
)


def _stamp(at: datetime) -> str:
    return at.strftime("%b %d, %Y, %I:%M:%S %p")


def test_a_queued_finding_suppressed_before_the_hour_is_not_sent(images, push_image, stack):
    """Amazon Inspector sends the same finding (same findingArn) again when its state changes
    (Inspector User Guide, "Creating custom responses to Amazon Inspector findings with Amazon
    EventBridge"). A suppression rule made after the finding was queued turns it SUPPRESSED:
    the README says SUPPRESSED findings are recorded, not sent."""
    scanned_by_inspector(images, push_image)
    stack.notifications()
    observed = datetime.now(UTC) + timedelta(seconds=2)
    active = inspector_finding(1, observed=observed)
    assert images(active)["outcome"] == "queued for the digest"
    suppressed = inspector_finding(1, observed=observed)
    suppressed["id"] = "finding-1-suppressed"
    suppressed["detail"].update(status="SUPPRESSED", updatedAt=_stamp(observed + timedelta(minutes=5)))
    assert images(suppressed)["outcome"] == "not reported"
    result = images(digest_run(datetime.now(UTC) + timedelta(hours=1)))
    assert result["digests"] == {}, result
    assert stack.notifications() == []


def test_a_queued_finding_closed_before_the_hour_is_not_sent(images, push_image, stack):
    """The same for CLOSED (the vulnerability no longer found in the image)."""
    scanned_by_inspector(images, push_image)
    stack.notifications()
    observed = datetime.now(UTC) + timedelta(seconds=2)
    assert images(inspector_finding(1, observed=observed))["outcome"] == "queued for the digest"
    closed = inspector_finding(1, observed=observed)
    closed["id"] = "finding-1-closed"
    closed["detail"].update(status="CLOSED", updatedAt=_stamp(observed + timedelta(minutes=5)))
    images(closed)
    result = images(digest_run(datetime.now(UTC) + timedelta(hours=1)))
    assert result["digests"] == {}, result
    assert stack.notifications() == []


def test_an_old_active_event_delivered_after_its_closed_update_neither_reopens_nor_sends(images, push_image, stack):
    """EventBridge does not promise order (and delivers at least once): the ACTIVE event of a
    finding may arrive after the event of its later CLOSED update. The ledger takes the last
    delivery as the finding's state, whatever its updatedAt, so a closed finding is queued and
    sent, and the ledger records it ACTIVE."""
    scanned_by_inspector(images, push_image)
    stack.notifications()
    observed = datetime.now(UTC) + timedelta(seconds=2)
    closed = inspector_finding(1, observed=observed)
    closed["id"] = "finding-1-closed"
    closed["detail"].update(status="CLOSED", updatedAt=_stamp(observed + timedelta(minutes=5)))
    images(closed)
    late_active = inspector_finding(1, observed=observed)  # updatedAt == firstObservedAt: older
    images(late_active)
    result = images(digest_run(datetime.now(UTC) + timedelta(hours=1)))
    assert result["digests"] == {}, result
    assert stack.notifications() == []


def test_a_finding_in_the_image_the_service_runs_after_a_rollback_is_sent(images, push_image, stack):
    """Rollout on: revision 2's deployment failed and ECS's circuit breaker rolled the service back
    to revision 1 (the ledger's `running` record says so, as the rollout flow writes it; retention
    keeps revision 1 for it). A new CVE in revision 1's image is in the image the service runs,
    yet on_finding asks only the ledger's `current` record (revision 2), so the finding is "not
    running": recorded, never sent; while a finding in revision 2's image, which runs nowhere,
    would be sent as "Running: langgraph in dev, revision 2"."""
    import boto3

    from pipeline.adapters import ledger
    from pipeline.domain.records import RunningRecord
    from tests.integration.test_image_events import digest_of
    from tests.integration.test_image_events import push_event as ecr_push

    scanned_by_inspector(images, push_image)  # the sample image: revision 1, scanned
    stack.notifications()
    newer = push_image("2c4e6a8", digest_of("a build whose deployment failed"))
    assert images(ecr_push("2c4e6a8", newer))["outcome"] == "registered"  # revision 2, current
    cluster, name = "multi-agent-orchestrator-dev", "multi-agent-orchestrator-dev-langgraph"
    ecs = boto3.client("ecs")
    ecs.create_cluster(clusterName=cluster)
    ecs.create_service(cluster=cluster, serviceName=name, taskDefinition=f"{name}:1", desiredCount=1)
    ledger.running_changed(stack.refs["LedgerTable"], "multi-agent-orchestrator#dev#langgraph", RunningRecord(
        revision=1, deployment_id="ecs-svc/rollback", state="ROLLED_BACK", at=datetime.now(UTC).isoformat(),
        cluster=cluster, service_name=name))
    result = images(inspector_finding(1, observed=datetime.now(UTC) + timedelta(seconds=2)))
    assert result["outcome"] == "queued for the digest", result
    assert result["running"] == ["langgraph in dev, revision 1 (the ECS service runs it)"]
    assert images(digest_run(datetime.now(UTC) + timedelta(hours=1)))["sent"] == 1
    (digest,) = stack.notifications()
    assert "langgraph in dev, revision 1 (the ECS service runs it)" in digest["message"], digest["message"]
    # and a finding in revision 2's image (current, not what ECS runs) is still told as current
    in_current = inspector_finding(2, observed=datetime.now(UTC) + timedelta(seconds=2))
    in_current["detail"]["resources"] = _on(newer)
    assert images(in_current)["running"] == ["langgraph in dev, revision 2"]


def _on(digest: str) -> list[dict]:
    from tests.integration.test_image_events import load_event

    resources = load_event("inspector2-finding")["detail"]["resources"]
    resources[0]["details"]["awsEcrContainerImage"]["imageHash"] = digest
    return resources


def test_a_finding_whose_newer_state_was_recorded_meanwhile_is_not_queued(stack):
    """Two deliveries racing: the ACTIVE state is written, then a newer CLOSED state, then the
    ACTIVE one's queueing: the queueing's condition (ACTIVE, as of its own updatedAt) cancels it."""
    from pipeline.adapters import ledger
    from pipeline.domain.records import FindingRecord, PendingFinding
    from pipeline.domain.scans import Finding

    table, pk, outbox = stack.refs["LedgerTable"], "p#dev#langgraph", "p#dev#~pending-findings"
    finding = Finding(id="CVE-2026-0001", severity="CRITICAL", package="openssl", version="3.0.1", fixed_in="")
    active = FindingRecord("arn:f", "sha256:" + "a" * 64, finding, "ACTIVE", updated_at="2026-11-27T10:00:00+00:00")
    assert ledger.finding_seen(table, pk, active)[1] is True
    closed = FindingRecord("arn:f", "sha256:" + "a" * 64, finding, "CLOSED", updated_at="2026-11-27T10:05:00+00:00")
    assert ledger.finding_seen(table, pk, closed)[1] is True
    pending = PendingFinding(service="langgraph", digest=active.digest, tags=(), finding_arn="arn:f", finding=finding,
                             hour="2026-11-27T10")
    assert ledger.finding_queued(table, pk, outbox, pending, active.updated_at) is False
    assert ledger.pending_findings(table, outbox) == []
    # the older state delivered again changes nothing
    (stored, newest) = ledger.finding_seen(table, pk, active)
    assert (stored.status, newest) == ("CLOSED", False)
