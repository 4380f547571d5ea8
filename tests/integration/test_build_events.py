"""The build events function: failures become one notification; every end is in the ledger."""

import pytest

from pipeline.handlers import build_events
from tests.support.events import load_event


@pytest.fixture
def builds(stack, calls, monkeypatch, lambda_context):
    stack.use_function("BuildEventsFunction", monkeypatch)
    calls.made.clear()
    return lambda event: build_events.handler(event, lambda_context)


def test_failed_build_names_service_commit_phase_and_log_link(builds, stack):
    assert builds(load_event("codebuild-build-failed"))["outcome"] == "notified"
    (note,) = stack.notifications()
    assert note["subject"] == "[shipline] langgraph build FAILED at 3b6258b (BUILD)"
    assert "3b6258b2d01afe2f989c7f7a5af86223f7aaa9f2" in note["message"]
    assert "logEvent:group=/aws/codebuild/multi-agent-orchestrator-dev-images" in note["message"]


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
