"""The template's EventBridge patterns, run by moto's EventBridge against the sample events:
each sample reaches exactly the rule that should take it."""

import json

import boto3
import pytest

from tests.support.events import deliver, load_event

SAMPLES = {
    "codecommit-push": "CodeCommitPush",
    "codecommit-branch-created": "CodeCommitPush",
    "build-requested": "BuildRequested",
}


@pytest.fixture
def rules(stack):
    events, sqs = boto3.client("events"), boto3.client("sqs")
    queues = {}
    for logical, pattern in stack.model.event_patterns("BuildTriggerFunction").items():
        name = logical.removeprefix("BuildTriggerFunction")
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name=name, EventPattern=json.dumps(pattern))
        events.put_targets(Rule=name, Targets=[{"Id": "q", "Arn": arn}])
        queues[name] = url
    return queues


def _received(rules) -> set[str]:
    sqs = boto3.client("sqs")
    return {name for name, url in rules.items() if sqs.receive_message(QueueUrl=url).get("Messages")}


@pytest.mark.parametrize("sample, rule", SAMPLES.items())
def test_sample_event_matches_its_rule_only(rules, sample, rule):
    deliver(load_event(sample))
    assert _received(rules) == {rule}


def test_push_to_another_branch_matches_no_rule(rules):
    event = load_event("codecommit-push")
    event["detail"]["referenceName"] = "feature"
    deliver(event)
    assert _received(rules) == set()


def test_build_request_for_another_project_matches_no_rule(rules):
    event = load_event("build-requested")
    event["detail"]["project"] = "someone-else"
    deliver(event)
    assert _received(rules) == set()


@pytest.mark.parametrize(("status", "matched"), [
    ("SUCCEEDED", True), ("FAILED", True), ("STOPPED", True), ("FAULT", True), ("TIMED_OUT", True),
    ("IN_PROGRESS", False)])
def test_every_final_build_status_reaches_the_build_events_function(stack, status, matched):
    """What the model and the ledger count as a build's end (FAULT and TIMED_OUT are failures
    too) is what the rule lets in: a final status the rule dropped would be a failure no one hears of."""
    from pipeline.domain.records import BUILD_FAILED, BUILT

    events, sqs = boto3.client("events"), boto3.client("sqs")
    (pattern,) = stack.model.event_patterns("BuildEventsFunction").values()
    url = sqs.create_queue(QueueName="build-ends")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="build-ends", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="build-ends", Targets=[{"Id": "q", "Arn": arn}])
    event = load_event("codebuild-build-failed")
    event["detail"]["build-status"] = status
    deliver(event)
    assert bool(sqs.receive_message(QueueUrl=url).get("Messages")) is matched
    assert matched == (status in BUILD_FAILED | BUILT - {"REUSED"})
