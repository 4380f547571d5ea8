# ruff: noqa: F811 - the image events tests' fixtures (images, push_image) are imported, then requested by name
"""Inspector findings over time, judged against what AWS does: Inspector sends a finding again,
same ARN, whenever its state changes (Inspector User Guide, "Creating custom responses to Amazon
Inspector findings with Amazon EventBridge"), and EventBridge neither keeps order nor delivers
once. A queued finding that is SUPPRESSED or CLOSED before its hour is not sent; an older state
delivered late changes nothing; a finding in the image the service runs after a rollback is
told; a revert that runs an image again with findings recorded since its scan is judged by them
(held under the scan gate) and, registered, tells them in its digest; under the scan gate, a
revert to an image no completed scan vouches for is held too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import boto3
import pytest

from tests.integration.test_image_events import (  # noqa: F401 - fixtures
    SAMPLE_DIGEST,
    digest_of,
    digest_run,
    images,
    inspector_finding,
    load_event,
    push_event,
    push_image,
    scanned_by_inspector,
)

PK = "multi-agent-orchestrator#dev#langgraph"


def _stamp(at: datetime) -> str:
    return at.strftime("%b %d, %Y, %I:%M:%S %p")


def _restated(observed: datetime, status: str, *, minutes: int) -> dict:
    """Finding 1 (first observed then) sent again by Inspector: its state `status`, that many
    minutes later (same findingArn, a newer updatedAt, an event of its own)."""
    event = inspector_finding(1, observed=observed)
    event["id"] = f"finding-1-{status.lower()}-{minutes}"
    event["detail"].update(status=status, updatedAt=_stamp(observed + timedelta(minutes=minutes)))
    return event


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
    suppressed = _restated(observed, "SUPPRESSED", minutes=5)
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
    closed = _restated(observed, "CLOSED", minutes=5)
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
    closed = _restated(observed, "CLOSED", minutes=5)
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
    # reopened (newer) and queued; the CLOSED state's late unqueueing does not take the reopened one out
    reopened = FindingRecord("arn:f", active.digest, finding, "ACTIVE", updated_at="2026-11-27T10:09:00+00:00")
    assert ledger.finding_seen(table, pk, reopened)[1] is True
    assert ledger.finding_queued(table, pk, outbox, pending, reopened.updated_at) is True
    ledger.finding_unqueued(table, outbox, pending, closed.updated_at)
    assert [p.finding_arn for p in ledger.pending_findings(table, outbox)] == ["arn:f"]


def _revert_to_the_sample_image(images, push_image, stack, gate: str) -> dict:
    """The sample image A is registered (revision 1) and scanned by Inspector (HIGH at worst: it
    passes a CRITICAL threshold); B replaces it (revision 2); a new CRITICAL CVE is then found in
    A, which runs nowhere, so it is recorded, not sent; then a commit reverting to A's inputs is
    served by build avoidance (the ledger's REUSED record, then A retagged with the commit's tag,
    as the build starter does). Returns the result of the retag's push event."""
    from pipeline.adapters import ledger
    from pipeline.domain.records import ReuseRecord
    from tests.integration.test_image_events import SAMPLE_DIGEST, digest_of, load_event
    from tests.integration.test_image_events import push_event as ecr_push

    scan = load_event("inspector2-scan")
    (tag,) = scan["detail"]["image-tags"]
    push_image(tag, seconds_ago=60)
    images(ecr_push(tag, seconds_ago=60), gate=gate)
    images(scan)
    newer = push_image("2c4e6a8", digest_of("B"))
    images(ecr_push("2c4e6a8", newer))
    if gate == "scan":
        scan_b = load_event("inspector2-scan")
        scan_b["id"] = "scan-b"
        scan_b["detail"].update({"image-digest": newer, "image-tags": ["2c4e6a8"]})
        images(scan_b)
    table, pk = stack.refs["LedgerTable"], "multi-agent-orchestrator#dev#langgraph"
    assert ledger.read_current(table, pk).digest == newer
    stack.notifications()
    cve = images(inspector_finding(1, observed=datetime.now(UTC) + timedelta(seconds=2)))
    assert cve["outcome"] == "not running"  # recorded, not sent: A runs nowhere now
    revert = "d" * 40
    ledger.commit_planned(table, pk, revert, ledger.now())
    ledger.commit_reused(table, pk, ReuseRecord(commit=revert, digest=SAMPLE_DIGEST, inputs="e" * 64,
                                                tag=revert[:7], attempt=1, at=ledger.now()))
    push_image(revert[:7], SAMPLE_DIGEST)
    result = images(ecr_push(revert[:7], SAMPLE_DIGEST))
    return result


def test_a_revert_that_runs_an_image_with_a_known_critical_cve_again_tells_someone(images, push_image, stack):
    """Gate none. After the revert, A is the current revision again: it runs with an ACTIVE
    CRITICAL finding recorded while A ran nowhere. Inspector does not send the finding again (its
    state did not change), so the registration queues it for A's next digest."""
    result = _revert_to_the_sample_image(images, push_image, stack, gate="none")
    assert result["outcome"] == "registered"
    assert stack.notifications() == []  # not on its own: in the digest
    assert images(digest_run(datetime.now(UTC) + timedelta(hours=1)))["sent"] == 1
    (digest,) = stack.notifications()
    assert "CVE-2026-0001" in digest["message"] and "revision 3" in digest["message"], digest["message"]


def test_under_the_scan_gate_a_revert_does_not_register_an_image_with_a_known_critical_cve(images, push_image,
                                                                                            stack):
    """Gate scan, threshold CRITICAL: "registers only when it has no finding at or above
    ScanThreshold". The revert's push registers A straight away (flows/images.on_push, the
    _reused_by branch), without the gate, though the ledger holds an ACTIVE CRITICAL finding for
    A; and no message says so."""
    from pipeline.adapters import ledger
    from tests.integration.test_image_events import SAMPLE_DIGEST
    from tests.integration.test_image_events import push_event as ecr_push

    result = _revert_to_the_sample_image(images, push_image, stack, gate="scan")
    assert result["outcome"] == "held", result
    (held,) = stack.notifications()
    assert "CVE-2026-0001" in held["message"] and "held back: commit ddddddd reuses this image" in held["message"]
    assert ledger.read_current(stack.refs["LedgerTable"], "multi-agent-orchestrator#dev#langgraph").digest != (
        SAMPLE_DIGEST)
    # the push delivered again: held again, no second message
    assert images(ecr_push("ddddddd", SAMPLE_DIGEST))["outcome"] == "held"
    assert stack.notifications() == []


def _revert_to_an_unvouched_image(images, push_image, stack, scan: str | None) -> str:
    """A (the sample) registered under gate none (revision 1) with no completed scan in the ledger:
    none at all (scan on push off then, or its scan event lost), or a basic scan ending `scan`; B
    replaces it (revision 2); a commit reverting to A's inputs is reused by build avoidance (the
    ledger's REUSED record, A retagged). Returns B's digest; the revert's push is left to the test."""
    from pipeline.adapters import ledger
    from pipeline.domain.records import ReuseRecord

    table = stack.refs["LedgerTable"]
    push_image("3b6258b", seconds_ago=60)
    images(push_event("3b6258b", seconds_ago=60), gate="none")
    if scan is not None:
        ended = load_event("ecr-image-scan")
        ended["detail"].update({"scan-status": scan, "finding-severity-counts": {}, "image-tags": ["3b6258b"]})
        images(ended)
    newer = push_image("2c4e6a8", digest_of("B"))
    images(push_event("2c4e6a8", newer))
    assert ledger.read_current(table, PK).digest == newer
    stack.notifications()
    revert = "d" * 40
    ledger.commit_planned(table, PK, revert, ledger.now())
    ledger.commit_reused(table, PK, ReuseRecord(commit=revert, digest=SAMPLE_DIGEST, inputs="e" * 64,
                                                tag=revert[:7], attempt=1, at=ledger.now()))
    push_image(revert[:7], SAMPLE_DIGEST)
    return newer


@pytest.mark.parametrize("scan", [None, "FAILED"], ids=["never scanned", "scan failed"])
def test_under_the_scan_gate_a_revert_to_an_image_no_completed_scan_vouches_for_is_held(images, push_image, stack,
                                                                                     scan):
    """The gate is now scan. A revert reusing A, which no completed scan vouches for: A's verdict
    was None (no scan) and no finding was recorded since, so the scan gate registered A unscanned
    (it failed open); a FAILED scan held it, but its message said Inspector had found more. It
    holds A, in one message that says why and what to do; the push delivered again sends no
    second one."""
    from pipeline.adapters import ledger
    from tests.integration.test_image_events import revisions

    table = stack.refs["LedgerTable"]
    newer = _revert_to_an_unvouched_image(images, push_image, stack, scan)

    result = images(push_event("ddddddd", SAMPLE_DIGEST), gate="scan")
    why = "did not complete (it ended FAILED)" if scan else "no completed scan"
    assert result["outcome"] == "held" and why in result["reason"], result
    assert ledger.read_current(table, PK).digest == newer and len(revisions()) == 2  # nothing registered
    (held,) = stack.notifications()
    assert "held back: commit ddddddd reuses this image" in held["message"], held["message"]
    assert why in held["message"] and "scan gate holds it" in held["message"]
    assert "shipline trigger --service langgraph --ref ddddddd --force" in held["message"]
    assert (scan or "NOT SCANNED") in held["subject"], held["subject"]
    # the push delivered again: held again, no second message
    assert images(push_event("ddddddd", SAMPLE_DIGEST))["outcome"] == "held"
    assert stack.notifications() == []
    assert ledger.read_current(table, PK).digest == newer
    # A's scan arriving late registers nothing for the commit, as the message says (A has its
    # revision from its first registration): its own message, and B stays current
    late = load_event("ecr-image-scan-clean")
    late["detail"].update({"image-digest": SAMPLE_DIGEST, "image-tags": ["3b6258b", "ddddddd"]})
    assert images(late)["outcome"] == "recorded"
    (scanned,) = stack.notifications()
    assert "was registered as revision 1" in scanned["message"], scanned["message"]
    assert ledger.read_current(table, PK).digest == newer and len(revisions()) == 2


def test_under_gate_none_a_revert_to_a_never_scanned_image_registers_it(images, push_image, stack):
    """Gate none registers on push, scanned or not: the revert registers A again (revision 3)."""
    from pipeline.adapters import ledger

    _revert_to_an_unvouched_image(images, push_image, stack, None)
    result = images(push_event("ddddddd", SAMPLE_DIGEST))
    assert result["outcome"] == "registered" and result["revision"] == 3, result
    assert ledger.read_current(stack.refs["LedgerTable"], PK).digest == SAMPLE_DIGEST
    assert stack.notifications() == []


def test_a_closed_finding_that_inspector_reopens_is_queued_again(images, push_image, stack):
    """Inspector User Guide, "Understanding Amazon Inspector findings": "Amazon Inspector will
    reopen a remediated finding within seven days of closing the finding if the issue that caused
    the vulnerability reoccurs" (same findingArn, status ACTIVE again, newer updatedAt). The
    finding was queued, then CLOSED (taken out of the queue, never sent); reopened, it is ACTIVE
    in an image that runs, so it must reach the image's digest (the CLOSED state ended its telling:
    not "already reported")."""
    scanned_by_inspector(images, push_image)
    stack.notifications()
    observed = datetime.now(UTC) + timedelta(seconds=2)
    assert images(inspector_finding(1, observed=observed))["outcome"] == "queued for the digest"
    closed = _restated(observed, "CLOSED", minutes=5)
    images(closed)
    reopened = _restated(observed, "ACTIVE", minutes=10)
    result = images(reopened)
    assert result["outcome"] == "queued for the digest", result
    assert images(digest_run(datetime.now(UTC) + timedelta(hours=1)))["sent"] == 1
    (digest,) = stack.notifications()
    assert "CVE-2026-0001" in digest["message"]


def _revert_setup(images, push_image, stack) -> str:
    """A (the sample) registered as revision 1 and scanned; B replaces it (revision 2); a new
    CRITICAL CVE is found in A, which runs nowhere (recorded, not sent); a commit reverting to A's
    inputs is reused by build avoidance (the ledger's REUSED record, A retagged). Returns the
    revert's tag; its push event is left to the test."""
    from pipeline.adapters import ledger
    from pipeline.domain.records import ReuseRecord

    scan = load_event("inspector2-scan")
    (tag,) = scan["detail"]["image-tags"]
    push_image(tag, seconds_ago=60)
    images(push_event(tag, seconds_ago=60), gate="none")
    images(scan)
    newer = push_image("2c4e6a8", digest_of("B"))
    images(push_event("2c4e6a8", newer))
    table = stack.refs["LedgerTable"]
    assert ledger.read_current(table, PK).digest == newer
    stack.notifications()
    cve = images(inspector_finding(1, observed=datetime.now(UTC) + timedelta(seconds=2)))
    assert cve["outcome"] == "not running"
    revert = "d" * 40
    ledger.commit_planned(table, PK, revert, ledger.now())
    ledger.commit_reused(table, PK, ReuseRecord(commit=revert, digest=SAMPLE_DIGEST, inputs="e" * 64,
                                                tag=revert[:7], attempt=1, at=ledger.now()))
    push_image(revert[:7], SAMPLE_DIGEST)
    return revert[:7]


def test_a_revert_whose_queueing_fails_after_it_registered_still_tells_its_findings(images, push_image, stack,
                                                                                     faults):
    """What was found in A since its scan is queued before A registers again: had it been queued
    after, a failed queueing (DynamoDB throttling past botocore's retries) would fail the push
    event, whose retry (at-least-once) finds A current ("already registered") and queues nothing:
    the CRITICAL finding recorded while A ran nowhere would never be told though A runs."""
    from pipeline.adapters import ledger

    tag = _revert_setup(images, push_image, stack)
    faults.inject("dynamodb", "TransactWriteItems", "throttling", times=-1, containing="pending-findings")
    with pytest.raises(Exception):  # noqa: B017 - the invocation fails; its event is retried
        images(push_event(tag, SAMPLE_DIGEST))
    faults.clear()
    assert ledger.read_current(stack.refs["LedgerTable"], PK).digest != SAMPLE_DIGEST  # nothing registered yet
    assert images(push_event(tag, SAMPLE_DIGEST))["outcome"] == "registered"  # the retry: all of it
    assert images(digest_run(datetime.now(UTC) + timedelta(hours=1)))["sent"] == 1
    (digest,) = stack.notifications()
    assert "CVE-2026-0001" in digest["message"], digest["message"]


def test_a_revert_queues_a_finding_recorded_before_findings_had_an_updated_at(images, push_image, stack):
    """A finding item written before this change has no `updatedAt` attribute (the upgrade does not
    migrate items). _register_reused counts it in `since`, then queues it with finding_queued,
    whose condition `updatedAt = :mine` (with :mine "") cannot hold on a missing attribute, and the
    False it returns is ignored: the finding that the revert was judged by is silently not queued."""
    tag = _revert_setup(images, push_image, stack)
    table = stack.refs["LedgerTable"]
    arn = inspector_finding(1, observed=datetime.now(UTC))["detail"]["findingArn"]
    boto3.client("dynamodb").update_item(TableName=table, Key={"pk": {"S": PK}, "sk": {"S": f"finding#{arn}"}},
                                         UpdateExpression="REMOVE updatedAt")  # as written before the upgrade
    assert images(push_event(tag, SAMPLE_DIGEST))["outcome"] == "registered"
    assert images(digest_run(datetime.now(UTC) + timedelta(hours=1)))["sent"] == 1


def test_a_finding_in_an_image_ecs_runs_under_an_older_revision_of_the_same_digest_is_told(images, push_image,
                                                                                           stack):
    """A revert registers A again (revision 3, the same digest as revision 1); C replaces it
    (revision 4). ECS runs revision 1 (the ledger's `running` record: its circuit breaker rolled
    back to the last deployment that completed, or a person ran `shipline rollback --to 1`).
    Revision 1's image is A, so a new CVE in A is in the image the service runs; running_revisions
    compares the running revision with the image's *one* revision in the ledger (3) and says A runs
    nowhere: recorded, never sent."""
    from pipeline.adapters import ledger
    from pipeline.domain.records import RunningRecord

    tag = _revert_setup(images, push_image, stack)
    assert images(push_event(tag, SAMPLE_DIGEST))["outcome"] == "registered"  # revision 3 = A
    images(digest_run(datetime.now(UTC) + timedelta(hours=1)))  # the revert's own digest, sent
    c = push_image("3c3c3c3", digest_of("C"))
    assert images(push_event("3c3c3c3", c))["outcome"] == "registered"  # revision 4 = C
    table = stack.refs["LedgerTable"]
    cluster, name = "multi-agent-orchestrator-dev", "multi-agent-orchestrator-dev-langgraph"
    ledger.running_changed(table, PK, RunningRecord(revision=1, deployment_id="ecs-svc/rollback", state="ROLLED_BACK",
                                                    at=datetime.now(UTC).isoformat(), cluster=cluster,
                                                    service_name=name))
    stack.notifications()
    result = images(inspector_finding(2, observed=datetime.now(UTC) + timedelta(seconds=2)))
    assert result["outcome"] == "queued for the digest", result


def test_iso_updated_at_with_an_offset_is_ordered_by_time_not_by_text(images, push_image, stack):
    """on_finding accepts an ISO 8601 updatedAt (inspector_time's fallback) but stores
    `when.isoformat()` in the event's own offset, and DynamoDB compares strings: 12:00+02:00
    (10:00 UTC) sorts after 10:30+00:00, so the later CLOSED state is refused as older and the
    finding stays queued and is sent."""
    scanned_by_inspector(images, push_image)
    stack.notifications()
    observed = datetime.now(UTC) + timedelta(seconds=2)
    active = inspector_finding(1, observed=observed)
    local = (observed + timedelta(minutes=1)).astimezone(timezone(timedelta(hours=2)))
    active["detail"]["updatedAt"] = local.isoformat()
    assert images(active)["outcome"] == "queued for the digest"
    closed = inspector_finding(1, observed=observed)
    closed["id"] = "finding-1-closed"
    closed["detail"].update(status="CLOSED", updatedAt=(observed + timedelta(minutes=30)).isoformat())
    result = images(closed)
    assert result["outcome"] != "superseded", result
    assert images(digest_run(datetime.now(UTC) + timedelta(hours=1)))["digests"] == {}
