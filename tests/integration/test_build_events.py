"""The build events function: failures become one notification; every end is in the ledger."""

import pytest

from pipeline.handlers import build_events
from tests.support.events import load_event


@pytest.fixture
def builds(stack, calls, monkeypatch, lambda_context):
    stack.use_function("BuildEventsFunction", monkeypatch)
    calls.made.clear()
    return lambda event: build_events.handler(event, lambda_context)


def test_failed_build_names_service_commit_failing_phase_and_log_link(builds, stack):
    """On a final state CodeBuild says `current-phase: COMPLETED`; the phase that failed, and why,
    are in `additional-information.phases`."""
    event = load_event("codebuild-build-failed")
    commit = event["detail"]["additional-information"]["source-version"]
    assert event["detail"]["current-phase"] == "COMPLETED"
    assert builds(event)["outcome"] == "notified"
    (note,) = stack.notifications()
    assert note["subject"] == f"[shipline] langgraph build FAILED at {commit[:7]} (BUILD)"
    assert commit in note["message"]
    assert "Reason:  COMMAND_EXECUTION_ERROR: Error while executing command: bash buildspecs/build-image.sh build. " \
           "Reason: exit status 1" in note["message"]
    assert "logEvent:group=/aws/codebuild/multi-agent-orchestrator-dev-images" in note["message"]


def test_a_failure_before_the_build_phase_names_that_phase(builds, stack):
    event = load_event("codebuild-build-failed")
    phases = event["detail"]["additional-information"]["phases"]
    download = next(p for p in phases if p["phase-type"] == "DOWNLOAD_SOURCE")
    download.update({"phase-status": "FAILED", "phase-context": ["CLIENT_ERROR: reference not found for primary "
                                                                  "source and source version deadbeef"]})
    event["detail"]["additional-information"]["phases"] = phases[:phases.index(download) + 1] + phases[-2:]
    builds(event)
    (note,) = stack.notifications()
    assert note["subject"].endswith("(DOWNLOAD_SOURCE)") and "reference not found" in note["message"]


def test_replayed_failure_is_notified_once(builds, stack):
    builds(load_event("codebuild-build-failed"))
    builds(load_event("codebuild-build-failed"))
    assert len(stack.notifications()) == 1


def test_successful_build_is_recorded_without_a_message(builds, stack):
    assert builds(load_event("codebuild-build-succeeded"))["outcome"] == "recorded"
    assert stack.notifications() == []


def test_build_of_another_project_is_ignored(builds, stack):
    event = load_event("codebuild-build-failed")
    event["detail"]["project-name"] = "someone-else"
    assert builds(event)["outcome"] == "ignored"
    assert stack.notifications() == []


def test_a_build_of_our_project_that_names_no_service_is_ignored_not_drift(builds, stack, calls):
    """A build someone started by hand (the console's "Start build", no SERVICE variable) is not one
    shipline started: ignored with that said, not rejected as "service '' is not in the manifest"
    (which counts as configuration drift and raises its alarm). Nothing is written."""
    event = load_event("codebuild-build-failed")
    event["detail"]["additional-information"]["environment"]["environment-variables"] = []
    result = builds(event)
    build_id = event["detail"]["build-id"]
    assert result == {"outcome": "ignored",
                      "reason": f"build {build_id} has no SERVICE variable: not a build shipline started"}
    assert calls.made == [] and stack.notifications() == []


@pytest.mark.parametrize("field", ["build-id", "project-name"])
def test_a_build_event_with_an_empty_id_or_project_is_rejected_before_any_write(field, builds, stack, calls):
    event = load_event("codebuild-build-failed")
    event["detail"][field] = ""
    result = builds(event)
    assert result == {"outcome": "rejected", "reason": f"detail.{field}: String should have at least 1 character"}
    assert calls.made == [] and stack.notifications() == []
