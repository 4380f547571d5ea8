"""The GitHub webhook function against moto: secret from Secrets Manager, the accepted push
stored on the deliveries queue; the delivery function turns it into Build Requested."""

import base64
import json

import pytest

from pipeline.domain.webhook import sign
from pipeline.handlers import github_webhook
from tests.support.events import LOCAL_WEBHOOK_SECRET, load_event
from tests.support.stacks import GITHUB


@pytest.fixture
def stack_parameters():
    return GITHUB  # the webhook and the delivery function exist only in a GitHub stack


@pytest.fixture
def webhook(stack, calls, monkeypatch, lambda_context):
    stack.use_function("GitHubWebhookFunction", monkeypatch)
    calls.made.clear()
    return lambda event: github_webhook.handler(event, lambda_context)


def _body(response: dict) -> dict:
    return json.loads(response["body"])


def _stored(calls) -> list[dict]:
    return [json.loads(m["MessageBody"]) for m in calls.of("sqs", "SendMessage")]


def test_signed_push_is_stored_before_the_202(webhook, calls):
    response = webhook(load_event("github-push"))
    assert response["statusCode"] == 202
    (stored,) = _stored(calls)
    assert stored == {"delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
                      "commit": json.loads(load_event("github-push")["body"])["after"],
                      "paths": ["docker/langgraph/Dockerfile"], "repository": "example-org/multi-agent-orchestrator",
                      "pusher": "dev"}
    assert calls.of("events", "PutEvents") == []  # the delivery function puts Build Requested, from the queue


def test_a_queue_that_cannot_store_the_push_is_a_503_github_shows_as_failed(webhook, faults):
    faults.inject("sqs", "SendMessage", "access-denied", times=-1)
    response = webhook(load_event("github-push"))
    assert response["statusCode"] == 503 and "redeliver it from GitHub" in _body(response)["message"]


def test_the_delivery_function_requests_the_build_on_shiplines_bus_once_per_delivery(webhook, calls, stack,
                                                                                        monkeypatch, lambda_context):
    """A delivery handled twice (a duplicated message) is put on the bus twice, each carrying its
    X-GitHub-Delivery; the build trigger plans it once (its record is keyed on the delivery)."""
    from pipeline.handlers import build_trigger, github_delivery

    webhook(load_event("github-push"))
    (message,) = calls.of("sqs", "SendMessage")
    batch = {"Records": [{"messageId": "m1", "body": message["MessageBody"], "eventSource": "aws:sqs"},
                         {"messageId": "m2", "body": message["MessageBody"], "eventSource": "aws:sqs"}]}
    stack.use_function("GitHubDeliveryFunction", monkeypatch)
    assert github_delivery.handler(batch, lambda_context) == {"batchItemFailures": []}
    puts = calls.of("events", "PutEvents")
    assert len(puts) == 2 and calls.of("dynamodb", "PutItem") == []  # no record of its own
    entry = puts[0]["Entries"][0]
    assert (entry["Source"], entry["DetailType"]) == ("shipline", "Build Requested")
    assert entry["EventBusName"] == "shipline-multi-agent-orchestrator-dev-requests"
    assert json.loads(entry["Detail"]) == {
        "project": "multi-agent-orchestrator", "environment": "dev",
        "commit": json.loads(load_event("github-push")["body"])["after"], "services": ["langgraph"],
        "trigger": "github", "requestedBy": "example-org/multi-agent-orchestrator",
        "delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    }
    stack.use_function("BuildTriggerFunction", monkeypatch)
    outcomes = []
    for number, put in enumerate(puts):
        (sent,) = put["Entries"]
        event = {**load_event("build-requested"), "id": f"event-{number}", "detail": json.loads(sent["Detail"])}
        outcomes.append(build_trigger.handler(event, lambda_context))
    assert [o["outcome"] for o in outcomes] == ["planned", "duplicate event"]
    assert outcomes[0]["planned"] == ["langgraph"] and outcomes[1]["planned"] == []


def test_an_unreadable_stored_delivery_is_reported_failed_for_the_dead_letter_queue(stack, monkeypatch,
                                                                                      lambda_context):
    from pipeline.handlers import github_delivery

    stack.use_function("GitHubDeliveryFunction", monkeypatch)
    batch = {"Records": [{"messageId": "bad", "body": "{not json", "eventSource": "aws:sqs"}]}
    assert github_delivery.handler(batch, lambda_context) == {"batchItemFailures": [{"itemIdentifier": "bad"}]}


def test_bad_signature_returns_401_and_starts_nothing(webhook, calls):
    response = webhook(load_event("github-push-bad-signature"))
    assert response["statusCode"] == 401
    assert _body(response) == {"message": "signature missing or wrong"}
    assert calls.of("sqs", "SendMessage") == [] and calls.of("codebuild", "StartBuild") == []


def test_missing_signature_returns_401(webhook, calls):
    event = load_event("github-push")
    del event["headers"]["x-hub-signature-256"]
    assert webhook(event)["statusCode"] == 401
    assert calls.of("sqs", "SendMessage") == []


def test_ping_returns_200_ignored(webhook, calls):
    response = webhook(load_event("github-ping"))
    assert response["statusCode"] == 200 and _body(response)["message"] == "ignored: ping"
    assert calls.of("sqs", "SendMessage") == []


def test_malformed_json_returns_400(webhook, calls):
    event = load_event("github-push")
    event["body"] = '{"ref": "refs/heads/main",'
    event["headers"]["x-hub-signature-256"] = sign(LOCAL_WEBHOOK_SECRET, event["body"].encode())
    response = webhook(event)
    assert response["statusCode"] == 400 and _body(response)["message"].startswith("malformed push payload")
    assert calls.of("sqs", "SendMessage") == []


def test_base64_body_is_verified_over_the_decoded_bytes(webhook):
    event = load_event("github-push")
    event["body"] = base64.b64encode(event["body"].encode()).decode()
    event["isBase64Encoded"] = True
    assert webhook(event)["statusCode"] == 202


def test_push_to_an_untracked_branch_returns_200_ignored(webhook, calls):
    event = load_event("github-push")
    body = json.loads(event["body"])
    body["ref"] = "refs/heads/experiment"
    event["body"] = json.dumps(body)
    event["headers"]["x-hub-signature-256"] = sign(LOCAL_WEBHOOK_SECRET, event["body"].encode())
    response = webhook(event)
    assert response["statusCode"] == 200 and "not the tracked branch" in _body(response)["message"]
    assert calls.of("sqs", "SendMessage") == []


def test_secret_is_read_once_per_warm_container(webhook, calls):
    webhook(load_event("github-push"))
    webhook(load_event("github-ping"))
    assert len(calls.of("secretsmanager", "GetSecretValue")) == 1


def test_request_that_is_not_a_function_url_request_returns_400(webhook, calls):
    event = load_event("github-push")
    event["headers"] = ["not", "a", "map"]
    response = webhook(event)
    assert response["statusCode"] == 400 and _body(response)["message"].startswith("malformed request: headers")
    assert calls.of("sqs", "SendMessage") == []


def test_a_stack_whose_project_name_is_not_the_manifests_fails_the_webhook_instead_of_a_202(
        stack, calls, monkeypatch, lambda_context):
    """The invocation fails (the Function URL answers 5xx, GitHub shows the delivery failed, the
    error alarm fires): never a 202 for a push no rule of this stack would build."""
    from pipeline.settings import ConfigurationError

    stack.use_function("GitHubWebhookFunction", monkeypatch, PROJECT_NAME="billing")
    with pytest.raises(ConfigurationError, match="'multi-agent-orchestrator' but the stack's ProjectName .* 'billing'"):
        github_webhook.handler(load_event("github-push"), lambda_context)
    assert calls.of("sqs", "SendMessage") == []
