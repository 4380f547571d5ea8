"""Trust: only the tracked branch is built, a failed build can be retried, the gate fails
closed, drift is loud, an older commit never replaces a newer one, and only commit images
register. Each test here failed before the change that made it pass."""

import hashlib
import time

import boto3
import pytest

from pipeline.handlers import build_events, image_events
from tests.integration.conftest import AFTER, BEFORE
from tests.support.events import load_event

REPO = "multi-agent-orchestrator-dev-langgraph"
SAMPLE_DIGEST = load_event("ecr-image-push")["detail"]["image-digest"]


def digest_of(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


# ---------------------------------------------------------------------------- the tracked branch
@pytest.fixture
def trigger(pipeline):
    """The planner, then the starter on every build start it queued."""
    return pipeline


def _request(**detail) -> dict:
    event = load_event("build-requested")
    event["detail"].update(detail)
    event["id"] = f"request-{sorted(detail.items())}"
    return event


def _started(calls) -> list[dict]:
    return calls.of("codebuild", "StartBuild")


def test_a_request_for_another_branch_is_refused_and_touches_nothing(trigger, calls):
    event = _request(branch="feature/x")
    del event["detail"]["commit"]
    result = trigger(event)
    assert result["outcome"] == "refused" and "not the tracked branch main" in result["reason"]
    assert _started(calls) == [] and calls.of("ecr", "CreateRepository") == []


def test_a_request_for_a_commit_the_branch_does_not_hold_is_refused(trigger, calls, codecommit_history):
    stray = "f" * 40
    codecommit_history.ancestors[stray] = {stray}  # a commit of another branch
    result = trigger(_request(commit=stray))
    assert result["outcome"] == "refused" and "is not in the history of main" in result["reason"]
    assert _started(calls) == [] and calls.of("ecr", "CreateRepository") == []


def test_a_request_for_a_commit_too_far_behind_to_compare_is_refused_and_says_why(trigger, calls, codecommit_history):
    codecommit_history.diverged.add(BEFORE)  # on the branch, but CodeCommit will not compare it with the head
    result = trigger(_request(commit=BEFORE))
    assert result["outcome"] == "refused"
    assert "too far behind the head of main" in result["reason"] and "shipline rollback --to" in result["reason"]
    assert _started(calls) == [] and calls.of("ecr", "CreateRepository") == []


def test_a_request_for_a_commit_of_the_tracked_branch_builds_it(trigger, calls):
    assert trigger(_request(commit=BEFORE))["started"] == ["langgraph"]
    (build,) = _started(calls)
    assert build["sourceVersion"] == BEFORE


def test_a_request_for_the_tracked_branch_builds_its_head_commit(trigger, calls):
    event = _request(branch="main")
    del event["detail"]["commit"]
    trigger(event)
    (build,) = _started(calls)
    assert build["sourceVersion"] == AFTER  # the head, resolved once when planning


# ---------------------------------------------------------------------------- retries and force
def _end(stack, monkeypatch, lambda_context, build_arn: str, status: str) -> None:
    event = load_event("codebuild-build-failed" if status == "FAILED" else "codebuild-build-succeeded")
    event["detail"]["build-id"] = build_arn
    event["detail"]["build-status"] = status
    event["detail"]["additional-information"]["source-version"] = AFTER
    stack.use_function("BuildEventsFunction", monkeypatch)
    build_events.handler(event, lambda_context)
    stack.use_function("BuildTriggerFunction", monkeypatch)


def test_a_new_request_after_a_failed_build_builds_again_once(trigger, calls, stack, monkeypatch, lambda_context):
    first = trigger(_request(commit=AFTER))["builds"]["langgraph"]
    _end(stack, monkeypatch, lambda_context, first, "FAILED")
    retry = _request(commit=AFTER, requestedBy="someone, again")
    retry["id"] = "a-new-request"
    second = trigger(retry)
    assert second["started"] == ["langgraph"] and second["builds"]["langgraph"] != first
    again = _request(commit=AFTER)
    again["id"] = "yet-another-request"
    assert trigger(again)["started"] == []  # the retry is running: one build per failure
    assert len(_started(calls)) == 2


def test_the_same_event_twice_starts_one_build_even_after_its_build_failed(trigger, calls, stack, monkeypatch,
                                                                           lambda_context):
    event = _request(commit=AFTER)
    build = trigger(event)["builds"]["langgraph"]
    _end(stack, monkeypatch, lambda_context, build, "FAILED")
    assert trigger(event)["outcome"] == "duplicate event"
    assert len(_started(calls)) == 1


def test_a_commit_built_successfully_is_not_built_again_unless_forced(trigger, calls, stack, monkeypatch,
                                                                      lambda_context):
    build = trigger(_request(commit=AFTER))["builds"]["langgraph"]
    _end(stack, monkeypatch, lambda_context, build, "SUCCEEDED")
    again = _request(commit=AFTER)
    again["id"] = "later"
    assert trigger(again)["outcome"] == "already built"
    forced = _request(commit=AFTER, force=True)
    assert trigger(forced)["started"] == ["langgraph"]
    assert trigger(forced)["started"] == []  # the same forced event twice: one build
    assert len(_started(calls)) == 2


def test_the_start_build_token_names_the_stack(trigger, calls):
    trigger(_request(commit=AFTER))
    (build,) = _started(calls)
    plain = hashlib.sha256(f"langgraph@{AFTER}".encode()).hexdigest()
    ours = hashlib.sha256(f"multi-agent-orchestrator/dev/multi-agent-orchestrator-dev-images/langgraph@{AFTER}"
                          "#attempt:1".encode()).hexdigest()  # a commit's: its plan's key less the inputs, its attempt
    assert build["idempotencyToken"] == ours != plain


def test_builds_started_counts_only_builds_started(trigger, capsys):
    event = _request(commit=AFTER)
    trigger(event)
    trigger(event)
    emitted = [line for line in capsys.readouterr().out.splitlines() if '"BuildsStarted"' in line]
    assert len(emitted) == 1 and '"BuildsStarted":[1.0]' in emitted[0]


# ---------------------------------------------------------------------------- the gate fails closed
@pytest.fixture
def images(stack, emulation, calls, monkeypatch, lambda_context):
    boto3.client("ecr").create_repository(repositoryName=REPO, imageScanningConfiguration={"scanOnPush": True})
    stack.use_function("ImageEventsFunction", monkeypatch, REGISTRATION_GATE="scan")

    def run(event):
        return image_events.handler(event, lambda_context)

    return run


@pytest.fixture
def push(emulation):
    def push(tags=("3b6258b",), digest=SAMPLE_DIGEST, seconds_ago=0):
        now = time.time()
        emulation.ecr.clock = lambda: now - seconds_ago
        for tag in tags:
            emulation.ecr.seed_image(REPO, digest, tag)
        return digest

    return push


def _scan(status="COMPLETE", counts=None, tags=("3b6258b",), digest=SAMPLE_DIGEST) -> dict:
    event = load_event("ecr-image-scan-clean")
    event["detail"].update({"scan-status": status, "image-tags": list(tags), "image-digest": digest,
                            "finding-severity-counts": counts or {}})
    if status != "COMPLETE":
        del event["detail"]["finding-severity-counts"]
    event["id"] = f"scan-{status}-{sorted((counts or {}).items())}-{digest[-4:]}"
    return event


def _inspector(counts, digest=SAMPLE_DIGEST, status="INITIAL_SCAN_COMPLETE") -> dict:
    event = load_event("inspector2-scan")
    event["detail"].update({"finding-severity-counts": counts, "image-digest": digest, "scan-status": status,
                            "image-tags": ["3b6258b"]})
    event["id"] = f"inspector-{sorted(counts.items())}-{status}"
    return event


def _revisions() -> list:
    return boto3.client("ecs").list_task_definitions()["taskDefinitionArns"]


def test_a_failed_scan_holds_the_image_and_says_so(images, push, stack):
    push()
    result = images(_scan("FAILED"))
    assert result["outcome"] == "held" and not result["passed"]
    assert _revisions() == []
    (note,) = stack.notifications()
    assert "ended FAILED" in note["message"] and "scan FAILED, no result" in note["message"]


def test_a_scan_naming_an_unknown_severity_holds_the_image_and_says_so(images, push, stack):
    """Not "no findings": the gate fails closed on a severity it does not know."""
    push()
    result = images(_scan(counts={"SEVERE": 4}))
    assert result["outcome"] == "held" and not result["passed"] and result["counts"] == {"SEVERE": 4}
    assert _revisions() == []
    (note,) = stack.notifications()
    assert "SEVERE 4" in note["message"] and "no findings" not in note["subject"]


def test_a_scan_count_too_large_to_record_is_rejected_in_one_line(images, push, stack, calls):
    push()
    calls.made.clear()
    result = images(_scan(counts={"CRITICAL": 10**41}))
    assert result["outcome"] == "rejected"
    assert result["reason"].startswith("ECR Image Scan.detail.finding-severity-counts.CRITICAL: Input should be less")
    assert calls.made == [] and _revisions() == []


def _coverage(reason="UNSUPPORTED_OS", status="INACTIVE", digest=SAMPLE_DIGEST) -> dict:
    event = load_event("inspector2-coverage")
    repository = event["resources"][0].rpartition("/")[0]
    event["resources"] = [f"{repository}/{digest}"]
    event["detail"]["scanStatus"] = {"reason": reason, "statusCodeValue": status}
    event["id"] = f"coverage-{reason}-{status}"
    return event


def test_an_image_inspector_cannot_scan_is_held_and_said_not_left_waiting(images, push, stack):
    """No Inspector2 Scan comes for an image Amazon Inspector does not scan (its coverage event says
    INACTIVE, UNSUPPORTED_OS): it is a scan that will not complete, held with one message naming the
    reason, not an image waiting for a scan for ever in silence."""
    push()
    result = images(_coverage())
    assert result["outcome"] == "held" and not result["completed"] and result["notified"]
    assert _revisions() == []
    (note,) = stack.notifications()
    assert "Amazon Inspector does not scan this image (UNSUPPORTED_OS" in note["message"]
    images(_coverage())  # the same event again: no second message
    assert stack.notifications() == []


def test_coverage_that_ends_after_the_images_inspector_scan_changes_nothing(images, push, stack):
    """Inspector stops covering an image it has scanned (access to it denied since, say): its scan
    result stands and no message is sent."""
    push()
    assert images(_inspector({"TOTAL": 0}))["outcome"] == "registered"
    stack.notifications()
    result = images(_coverage("ACCESS_DENIED"))
    assert result["outcome"] == "ignored" and "after its Amazon Inspector scan" in result["reason"]
    assert stack.notifications() == [] and len(_revisions()) == 1


def test_coverage_of_the_build_cache_sends_nothing_and_never_registers_it(images, push, stack, monkeypatch):
    """The build cache (tag buildcache: a cache manifest, which Inspector does not scan either) is
    not an image to gate or register, even with RegisterManualPushes: its coverage is ignored, as
    its scan is."""
    stack.use_function("ImageEventsFunction", monkeypatch, REGISTRATION_GATE="none", REGISTER_MANUAL_PUSHES="true")
    push(tags=("buildcache",))
    assert images(_coverage())["outcome"] == "ignored"
    assert stack.notifications() == [] and _revisions() == []


@pytest.mark.parametrize("reason", ["RESOURCE_TERMINATED", "SCAN_ELIGIBILITY_EXPIRED"])
def test_coverage_that_ends_for_a_held_image_is_not_a_second_message(images, push, stack, reason):
    """Held once (Inspector does not scan it); when the image is deleted or its scanning lapses,
    Inspector says INACTIVE again with that reason: nothing more to say about it."""
    push()
    assert images(_coverage())["outcome"] == "held"
    stack.notifications()
    assert images(_coverage(reason))["outcome"] == "ignored"
    assert stack.notifications() == []


def test_coverage_of_an_image_deleted_since_is_ignored(images, stack):
    """The image is not in ECR (deleted before the event was handled): nothing to hold or say."""
    result = images(_coverage())
    assert result["outcome"] == "ignored" and "no longer exists" in result["reason"]
    assert stack.notifications() == []


def test_a_coverage_event_with_a_resource_that_is_not_an_image_is_rejected_in_one_line(images, stack, calls):
    event = _coverage()
    event["resources"] = ["i-087d63509b8c97098"]
    calls.made.clear()
    result = images(event)
    assert result["outcome"] == "rejected" and result["reason"].startswith("Inspector2 Coverage.resources.0:")
    assert calls.made == []


def test_an_undocumented_inspector_status_holds_the_image(images, push, stack):
    push()
    assert images(_inspector({"TOTAL": 0}, status="SCAN_FAILED"))["outcome"] == "held"
    assert _revisions() == []


@pytest.mark.parametrize(("found", "counts", "outcome"), [
    ({"LOW": 3, "INFORMATIONAL": 1}, {"LOW": 3, "INFORMATIONAL": 1}, "registered"),  # told apart: below MEDIUM
    ({"UNTRIAGED": 1, "LOW": 3}, {"UNTRIAGED": 1, "LOW": 3}, "held"),  # unrated ranks with MEDIUM
    (None, {"UNLISTED": 4}, "held"),  # the findings cannot be read: not known to be harmless
])
def test_inspector_total_beyond_the_listed_severities_is_told_apart_by_the_images_findings(
        images, push, stack, emulation, monkeypatch, found, counts, outcome):
    """Inspector's scan event lists CRITICAL, HIGH and MEDIUM and a TOTAL of every severity: what
    TOTAL counts beyond them may be LOW, INFORMATIONAL or UNTRIAGED (which ranks with MEDIUM). The
    image's findings say which; what they cannot is UNLISTED and holds a MEDIUM gate (fails closed)."""
    monkeypatch.setenv("SCAN_THRESHOLD", "MEDIUM")
    from pipeline.settings import get_settings
    get_settings.cache_clear()
    push()
    if found is not None:
        emulation.ecr.report(REPO, SAMPLE_DIGEST, found)
    result = images(_inspector({"CRITICAL": 0, "HIGH": 0, "MEDIUM": 0, "TOTAL": 4}))
    assert result["counts"] == counts and result["outcome"] == outcome
    (note,) = stack.notifications()
    assert ", ".join(f"{name} {n}" for name, n in counts.items()) in note["message"]


def test_an_unlisted_count_does_not_hold_a_high_gate(images, push, stack, monkeypatch):
    """Whatever the unlisted findings are, none ranks at HIGH: unread, they stay UNLISTED and pass."""
    monkeypatch.setenv("SCAN_THRESHOLD", "HIGH")
    from pipeline.settings import get_settings
    get_settings.cache_clear()
    push()
    result = images(_inspector({"CRITICAL": 0, "HIGH": 0, "MEDIUM": 0, "TOTAL": 4}))
    assert result["counts"] == {"UNLISTED": 4} and result["outcome"] == "registered"


def test_untriaged_findings_are_counted_and_shown(images, push, stack):
    push()
    result = images(_inspector({"UNTRIAGED": 2, "TOTAL": 2}))
    assert result["counts"] == {"UNTRIAGED": 2}
    (note,) = stack.notifications()
    assert "UNTRIAGED 2" in note["message"]


def test_a_clean_scan_by_one_scanner_does_not_clear_a_critical_finding_of_the_other(images, push):
    push()
    assert images(_scan(counts={"CRITICAL": 1}))["outcome"] == "held"
    assert images(_inspector({"TOTAL": 0}))["outcome"] == "held"
    assert _revisions() == []


def test_a_worse_rescan_of_the_registered_digest_sends_a_new_message_saying_so(images, push, stack):
    push()
    assert images(_scan())["outcome"] == "registered"
    assert images(_scan(counts={"CRITICAL": 2}))["outcome"] == "recorded"
    first, second = stack.notifications()
    assert "no findings" in first["subject"] and "CRITICAL" in second["subject"]
    assert "this digest was registered as revision 1" in second["message"]
    images(_scan(counts={"CRITICAL": 2}))  # the same result again: no new message
    assert stack.notifications() == []


def test_a_scan_of_the_build_cache_registers_nothing(images, push, stack):
    push(tags=("buildcache",))
    result = images(_scan("FAILED", tags=("buildcache",)))
    assert result["outcome"] == "ignored"
    assert stack.notifications() == [] and _revisions() == []


# ---------------------------------------------------------------------------- drift is loud
def test_a_family_without_our_container_sends_a_message_and_counts_as_drift(images, push, stack, capsys,
                                                                           monkeypatch):
    ecs = boto3.client("ecs")
    ecs.register_task_definition(family=REPO, containerDefinitions=[{"name": "other", "image": "nginx",
                                                                     "memory": 128}])
    stack.use_function("ImageEventsFunction", monkeypatch, REGISTRATION_GATE="none")
    push()
    result = images(load_event("ecr-image-push"))
    assert result["outcome"] == "rejected"
    (note,) = stack.notifications()
    assert note["subject"] == "[shipline] langgraph: configuration drift, not registered"
    assert '"ConfigurationDrift"' in capsys.readouterr().out


# ---------------------------------------------------------------------------- order and commit images
def test_a_late_push_of_an_older_commit_does_not_replace_the_newer_one(images, push, stack, monkeypatch,
                                                                         lambda_context):
    from pipeline.adapters import ledger
    from pipeline.settings import get_settings

    stack.use_function("ImageEventsFunction", monkeypatch, REGISTRATION_GATE="none")
    settings = get_settings()
    pk = settings.ledger_key("langgraph")
    ledger.commit_planned(settings.ledger_table, pk, BEFORE, "2026-11-20T10:00:00+00:00")
    ledger.commit_planned(settings.ledger_table, pk, AFTER, "2026-11-20T11:00:00+00:00")
    newer, older = digest_of("newer"), digest_of("older")
    push(tags=(AFTER[:7],), digest=newer, seconds_ago=60)  # the newer commit's build was faster
    push(tags=(BEFORE[:7],), digest=older)
    for digest, tag in ((newer, AFTER[:7]), (older, BEFORE[:7])):
        event = load_event("ecr-image-push")
        event["detail"].update({"image-digest": digest, "image-tag": tag})
        event["id"] = f"push-{tag}"
        result = images(event)
    assert result["outcome"] == "older than current" and "was planned at" in result["reason"]
    (arn,) = _revisions()
    assert boto3.client("ecs").describe_task_definition(taskDefinition=arn)["taskDefinition"][
        "containerDefinitions"][0]["image"].endswith(newer)


def test_an_image_pushed_by_hand_without_a_commit_tag_is_not_registered(images, push, stack, monkeypatch):
    stack.use_function("ImageEventsFunction", monkeypatch, REGISTRATION_GATE="none")
    push(tags=("debug",))
    event = load_event("ecr-image-push")
    event["detail"]["image-tag"] = "debug"
    result = images(event)
    assert result["outcome"] == "not a commit image" and "no commit tag" in result["reason"]
    assert _revisions() == []


def test_register_manual_pushes_registers_it(images, push, stack, monkeypatch):
    stack.use_function("ImageEventsFunction", monkeypatch, REGISTRATION_GATE="none", REGISTER_MANUAL_PUSHES="true")
    push(tags=("latest",))
    event = load_event("ecr-image-push-latest")
    assert images(event)["outcome"] == "registered"


def test_a_rebuild_of_a_commit_gets_a_tag_of_its_own_so_the_first_image_keeps_its_tag(trigger, calls, stack,
                                                                                       monkeypatch, lambda_context):
    build = trigger(_request(commit=AFTER))["builds"]["langgraph"]
    _end(stack, monkeypatch, lambda_context, build, "SUCCEEDED")
    trigger(_request(commit=AFTER, force=True))
    first, second = (_overrides(b)["IMAGE_TAGS"] for b in _started(calls))
    assert first == f"{AFTER[:7]} latest" and second == f"{AFTER[:7]}-b2 latest"


def _overrides(params: dict) -> dict:
    return {v["name"]: v["value"] for v in params["environmentVariablesOverride"]}
