# ruff: noqa: F811 - the image events tests' fixtures (images, push_image) are imported, then requested by name
"""RebuildOnFixAvailable on moto: a later Inspector finding with a fix, in the image a service
runs, puts one Build Requested on shipline's bus; the build starter decides by the head's build
inputs, and the image's findings digest says what it decided."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.domain.inputs import inputs_tag
from pipeline.handlers import image_events
from tests.integration.conftest import AFTER
from tests.integration.test_image_events import (  # noqa: F401 - fixtures
    REPO,
    SAMPLE_DIGEST,
    digest_run,
    images,
    inspector_finding,
    push_event,
    push_image,
    scanned_by_inspector,
)
from tests.support.events import load_event

REBUILD = {"RebuildOnFixAvailable": "true"}


@pytest.fixture
def stack_parameters(request) -> dict[str, str]:
    """RebuildOnFixAvailable=true, unless a test names its own stack."""
    return getattr(request, "param", dict(REBUILD))


def later() -> datetime:
    return datetime.now(UTC) + timedelta(seconds=2)


def rebuild_requests(calls) -> list[dict]:
    """The Build Requested events the image events function put, each as its PutEvents entry."""
    return [entry for params in calls.of("events", "PutEvents") for entry in params["Entries"]
            if entry["DetailType"] == "Build Requested"]


def as_delivered(entry: dict, number: int = 0) -> dict:
    """The entry as EventBridge delivers it to the planner's rule."""
    return {"version": "0", "id": f"rebuild-request-{number}", "detail-type": entry["DetailType"],
            "source": entry["Source"], "account": "123456789012", "time": datetime.now(UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"), "region": "us-east-1", "resources": [], "detail": json.loads(entry["Detail"])}


def no_fix(observed: datetime) -> dict:
    event = load_event("inspector2-finding-no-fix")
    stamp = observed.strftime("%b %d, %Y, %I:%M:%S %p")
    event["detail"].update(firstObservedAt=stamp, lastObservedAt=stamp, updatedAt=stamp)
    return event


def test_a_finding_with_a_fix_in_the_running_image_puts_one_build_requested(images, push_image, stack, calls):
    scanned_by_inspector(images, push_image)
    calls.made.clear()
    result = images(inspector_finding(1, observed=later()))
    assert result["outcome"] == "queued for the digest" and result["rebuild"] == "requested"
    (entry,) = rebuild_requests(calls)
    assert entry["EventBusName"] == stack.refs["BuildRequestsBus"] and entry["Source"] == "shipline"
    detail = json.loads(entry["Detail"])
    assert detail["services"] == ["langgraph"] and detail["branch"] == "main" and detail["trigger"] == "finding"
    assert detail["reason"]["digest"] == SAMPLE_DIGEST and detail["reason"]["vulnerability"] == "CVE-2026-0001"
    assert "commit" not in detail and "force" not in detail  # the head, never forced: its inputs decide


def test_many_findings_in_an_hour_and_duplicate_deliveries_ask_once(images, push_image, stack, calls):
    scanned_by_inspector(images, push_image)
    calls.made.clear()
    first = inspector_finding(1, observed=later())
    outcomes = [images(first)["rebuild"], images(first)["rebuild"], images(inspector_finding(2, observed=later()))[
        "rebuild"]]
    assert outcomes == ["requested", None, "requested before"]  # the duplicate is "already reported": not asked
    assert len(rebuild_requests(calls)) == 1


def test_a_finding_without_a_fix_asks_for_nothing(images, push_image, stack, calls):
    scanned_by_inspector(images, push_image)
    calls.made.clear()
    result = images(no_fix(later()))
    assert result["outcome"] == "queued for the digest" and result["rebuild"] is None
    assert rebuild_requests(calls) == []


def test_a_finding_with_a_fix_in_an_image_that_runs_nowhere_asks_for_nothing(images, push_image, stack, calls):
    scanned_by_inspector(images, push_image, registered=False)
    calls.made.clear()
    assert images(inspector_finding(1, observed=later()))["outcome"] == "not running"
    assert rebuild_requests(calls) == []


@pytest.mark.parametrize("stack_parameters", [{}], indirect=True)
def test_with_the_parameter_false_nothing_is_asked_and_the_function_may_not(images, push_image, stack, calls):
    scanned_by_inspector(images, push_image)
    stack.notifications()
    calls.made.clear()
    assert images(inspector_finding(1, observed=later()))["rebuild"] is None
    assert calls.of("events", "PutEvents") == []
    assert images(digest_run(datetime.now(UTC) + timedelta(hours=1)))["sent"] == 1
    (note,) = stack.notifications()
    assert "Rebuild:" not in note["message"]
    policy = stack.model.function_policies({"ImageEventsFunction": None})["ImageEventsFunction"]
    assert not [s for s in policy if "events:PutEvents" in json.dumps(s.get("Action"))]
    assert stack.provisioned.functions["ImageEventsFunction"].environment.get("EVENT_BUS", "") == ""


def test_a_failed_request_fails_the_invocation_and_its_retry_asks_once(images, push_image, stack, calls, faults):
    from pipeline.adapters.errors import AwsCallError

    scanned_by_inspector(images, push_image)
    calls.made.clear()
    finding = inspector_finding(1, observed=later())
    faults.inject("events", "PutEvents", "access-denied", times=-1)
    with pytest.raises(AwsCallError, match="AccessDenied"):
        images(finding)
    faults.clear()
    assert images(finding)["rebuild"] == "requested"  # Lambda's retry: the finding was not queued, so it asks
    assert images(finding)["outcome"] == "already reported"
    assert len(rebuild_requests(calls)) == 2  # the refused one and the retry's
    assert images(digest_run(datetime.now(UTC) + timedelta(hours=1)))["sent"] == 1


def _decide(pipeline, calls, entry: dict) -> dict:
    """The request through the planner and the build starter, as the requests bus's rule delivers it."""
    return pipeline(as_delivered(entry))


def _known_inputs(emulation) -> str:
    """The head's files in the emulated CodeCommit history; returns the inputs' hash at the head."""
    from pipeline.domain.manifest import default_manifest
    from pipeline.flows import inputs
    from tests.support.sources import source_files

    (name, history) = next(iter(emulation.codecommit.histories.items()))
    history.files[AFTER] = source_files()
    hashed = inputs.service_inputs(name, default_manifest(), "langgraph", AFTER)
    inputs.reset()
    return hashed


def _findings_message(images, stack) -> str:
    assert images(digest_run(datetime.now(UTC) + timedelta(hours=1)))["sent"] == 1
    (note,) = stack.notifications()
    return note["message"]


def test_unchanged_inputs_build_nothing_and_the_digest_says_update_the_pin(
        images, push_image, stack, calls, pipeline, emulation, monkeypatch):
    scanned_by_inspector(images, push_image)
    stack.notifications()
    emulation.ecr.seed_image(REPO, SAMPLE_DIGEST, inputs_tag(_known_inputs(emulation)))  # the running image's inputs
    images(inspector_finding(1, observed=later()))
    (entry,) = rebuild_requests(calls)
    result = _decide(pipeline, calls, entry)
    assert result["alreadyBuilt"] == ["langgraph"] and not emulation.codebuild.builds
    stack.use_function("ImageEventsFunction", monkeypatch)
    text = _findings_message(images, stack)
    assert ("Rebuild:      no rebuild: the inputs are unchanged (base images pinned by digest); update the pin "
            f"(the inputs at {AFTER[:7]} are this image's") in text


def test_changed_inputs_start_one_rebuild_and_the_digest_says_so(
        images, push_image, stack, calls, pipeline, emulation, monkeypatch):
    scanned_by_inspector(images, push_image)
    stack.notifications()
    _known_inputs(emulation)  # the running image has no inputs- tag: the head's inputs have no image
    images(inspector_finding(1, observed=later()))
    (entry,) = rebuild_requests(calls)
    result = _decide(pipeline, calls, entry)
    assert result["started"] == ["langgraph"] and len(emulation.codebuild.builds) == 1
    again = _decide(pipeline, calls, {**entry})  # the same request delivered again: planned once
    assert again["outcome"] == "duplicate event" and len(emulation.codebuild.builds) == 1
    stack.use_function("ImageEventsFunction", monkeypatch)
    text = _findings_message(images, stack)
    assert f"Rebuild:      rebuild requested: building {AFTER[:7]}, whose inputs differ from this image's" in text
    assert text.splitlines()[0] == "Running:      langgraph in dev, revision 1"


def test_an_image_the_rebuild_replaced_before_the_digest_still_gets_it_saying_so(
        images, push_image, stack, calls, pipeline, emulation, monkeypatch):
    """Without a rebuild its findings would be withdrawn (the image runs nowhere now); the request
    and its decision are still told, with the revision that runs now."""
    scanned_by_inspector(images, push_image)
    stack.notifications()
    _known_inputs(emulation)
    images(inspector_finding(1, observed=later()))
    (entry,) = rebuild_requests(calls)
    assert _decide(pipeline, calls, entry)["started"] == ["langgraph"]
    stack.use_function("ImageEventsFunction", monkeypatch)
    rebuilt = push_image(f"{AFTER[:7]}-b2", "sha256:" + "c" * 64)  # the rebuild's image, pushed and registered
    assert images(push_event(f"{AFTER[:7]}-b2", rebuilt))["outcome"] == "registered"
    stack.notifications()
    text = _findings_message(images, stack)
    assert text.splitlines()[0] == ("Running:      no longer: langgraph in dev runs revision 2 now, registered since "
                                    "these findings")
    assert "Registration: replaced by revision 2" in text and "Rebuild:      rebuild requested: building" in text


@pytest.mark.parametrize("stack_parameters", [{**REBUILD, "SourceProvider": "GitHub",
                                               "GitHubRepositoryUrl": "https://github.com/example-org/"
                                                                      "multi-agent-orchestrator.git"}], indirect=True)
def test_where_the_inputs_cannot_be_read_nothing_is_built(images, push_image, stack, calls, pipeline, emulation,
                                                          monkeypatch):
    scanned_by_inspector(images, push_image)
    stack.notifications()
    images(inspector_finding(1, observed=later()))
    (entry,) = rebuild_requests(calls)
    result = _decide(pipeline, calls, entry)
    assert result["started"] == [] and not emulation.codebuild.builds
    stack.use_function("ImageEventsFunction", monkeypatch)
    text = _findings_message(images, stack)
    assert "Rebuild:      no rebuild: the inputs at main cannot be read before a build here" in text


def test_a_digest_sent_before_the_starter_decided_says_it_was_requested(images, push_image, stack, calls):
    scanned_by_inspector(images, push_image)
    stack.notifications()
    images(inspector_finding(1, observed=later()))
    text = _findings_message(images, stack)
    assert "Rebuild:      rebuild requested at the branch head; the build starter had not decided" in text


def test_the_image_events_function_refuses_to_start_without_the_bus(stack, monkeypatch, lambda_context):
    from pipeline.settings import ConfigurationError

    stack.use_function("ImageEventsFunction", monkeypatch)
    monkeypatch.delenv("EVENT_BUS")
    with pytest.raises(ConfigurationError, match="EVENT_BUS .* is required when REBUILD_ON_FIX_AVAILABLE is true"):
        image_events.handler(load_event("schedule-findings-digest"), lambda_context)


def test_a_partial_fix_asks_and_the_digest_names_the_package_that_has_one(images, push_image, stack, calls):
    """fixAvailable PARTIAL (Amazon Inspector API Reference, "Finding"): some of the finding's
    packages have a fixed version; the first listed here has none."""
    scanned_by_inspector(images, push_image)
    stack.notifications()
    event = inspector_finding(1, observed=later())
    details = event["detail"]
    details["fixAvailable"] = "PARTIAL"
    (fixed,) = details["packageVulnerabilityDetails"]["vulnerablePackages"]
    unfixed = {**fixed, "name": "libssl3", "fixedInVersion": "NotAvailable"}
    details["packageVulnerabilityDetails"]["vulnerablePackages"] = [unfixed, fixed]
    assert images(event)["rebuild"] == "requested"
    text = _findings_message(images, stack)
    assert "CVE-2026-0001        openssl 3.0.15, fixed in 3.0.15-1~deb12u2" in text
