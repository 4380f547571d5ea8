"""Inspector's findings: folded into the scan message, or waiting for the image's hourly digest."""

from datetime import UTC, datetime

import pytest

from pipeline.domain.digests import due_digests, hour_of, inspector_time, route_finding, running_revisions
from pipeline.domain.records import CurrentRecord, PendingFinding, RunningRevision
from pipeline.domain.scans import Finding

SCANNED = "2026-11-20T10:33:20+00:00"


def route(**overrides) -> str:
    arguments = dict(status="ACTIVE", severity="CRITICAL", threshold="CRITICAL", scanned_at=SCANNED,
                     first_observed_at="Nov 21, 2026, 6:02:30 AM", queued=False, running=True) | overrides
    return route_finding(**arguments)


def pending(service: str, digest: str, arn: str, severity: str = "CRITICAL", hour: str = "2026-11-21T06",
            tags: tuple[str, ...] = ("1279bbb",)) -> PendingFinding:
    return PendingFinding(service, digest, tags, arn, Finding(id=f"CVE-{arn}", severity=severity), hour)


def test_a_finding_before_its_image_scan_is_folded_into_the_scan_message():
    assert route(scanned_at=None) == "folded into the scan message"


def test_a_finding_the_initial_scan_observed_is_folded_even_when_its_event_comes_late():
    assert route(first_observed_at="Nov 20, 2026, 10:33:10 AM") == "folded into the scan message"


def test_a_finding_observed_after_the_scan_message_is_queued_once():
    assert route() == "queued for the digest"
    assert route(queued=True) == "already reported"


def test_a_later_finding_for_an_image_that_runs_nowhere_is_recorded_not_queued():
    assert route(running=False) == "not running"


def test_a_finding_the_scan_message_carries_is_folded_whether_or_not_the_image_runs():
    assert route(running=False, scanned_at=None) == "folded into the scan message"


def test_an_image_runs_where_it_is_the_current_revision():
    current = CurrentRecord(digest="sha256:a", revision=7, revision_arn="arn", registered_at="")
    assert running_revisions(current, service="langgraph", environment="dev", digest="sha256:a") == (
        RunningRevision("langgraph", "dev", 7),)
    assert RunningRevision("langgraph", "dev", 7).describe() == "langgraph in dev, revision 7"


def test_an_image_runs_nowhere_when_another_revision_is_current_or_none_is():
    current = CurrentRecord(digest="sha256:b", revision=8, revision_arn="arn", registered_at="")
    assert running_revisions(current, service="langgraph", environment="dev", digest="sha256:a") == ()
    assert running_revisions(None, service="langgraph", environment="dev", digest="sha256:a") == ()


def test_an_image_runs_where_ecs_runs_its_revision_after_a_rollback():
    current = CurrentRecord(digest="sha256:b", revision=8, revision_arn="arn", registered_at="")
    assert running_revisions(current, service="langgraph", environment="dev", digest="sha256:a", running=7,
                             running_digest="sha256:a") == (RunningRevision("langgraph", "dev", 7, on_ecs=True),)
    assert RunningRevision("langgraph", "dev", 7, on_ecs=True).describe() == (
        "langgraph in dev, revision 7 (the ECS service runs it)")
    # ECS runs another revision than the image's: not there
    assert running_revisions(current, service="langgraph", environment="dev", digest="sha256:a", running=6,
                             running_digest="sha256:c") == ()
    # current and run by ECS: said once
    same = CurrentRecord(digest="sha256:a", revision=7, revision_arn="arn", registered_at="")
    assert running_revisions(same, service="langgraph", environment="dev", digest="sha256:a", running=7,
                             running_digest="sha256:a") == (RunningRevision("langgraph", "dev", 7),)


@pytest.mark.parametrize("status", ["CLOSED", "SUPPRESSED"])
def test_a_finding_no_longer_active_is_not_reported(status):
    assert route(status=status) == "not reported"


def test_a_finding_below_the_threshold_is_not_reported():
    assert route(severity="HIGH") == "not reported"
    assert route(severity="HIGH", threshold="HIGH") == "queued for the digest"


def test_an_unreadable_observation_time_counts_as_later():
    assert route(first_observed_at="") == "queued for the digest"


def test_inspector_times_read_as_its_events_write_them():
    assert inspector_time("Dec 3, 2021, 6:02:30 PM") == datetime(2021, 12, 3, 18, 2, 30, tzinfo=UTC)
    assert inspector_time("2021-12-03T18:02:30+00:00") == datetime(2021, 12, 3, 18, 2, 30, tzinfo=UTC)
    assert inspector_time("yesterday") is None


def test_the_hour_is_utc():
    assert hour_of(datetime.fromisoformat("2026-11-21T08:59:59+02:00")) == "2026-11-21T06"


def test_one_digest_per_image_of_the_findings_queued_before_the_hour():
    queued = [pending("langgraph", "sha256:a", "1", "HIGH"), pending("langgraph", "sha256:a", "2"),
              pending("langgraph", "sha256:b", "3"), pending("langfuse", "sha256:c", "4"),
              pending("langgraph", "sha256:a", "5", hour="2026-11-21T07")]
    digests = due_digests(queued, "2026-11-21T07")
    assert [(d.service, d.digest, [p.finding_arn for p in d.pending]) for d in digests] == [
        ("langfuse", "sha256:c", ["4"]), ("langgraph", "sha256:a", ["2", "1"]), ("langgraph", "sha256:b", ["3"])]
    assert digests[1].counts() == {"CRITICAL": 1, "HIGH": 1}


def test_nothing_is_due_in_the_hour_it_was_queued():
    assert due_digests([pending("langgraph", "sha256:a", "1")], "2026-11-21T06") == []
