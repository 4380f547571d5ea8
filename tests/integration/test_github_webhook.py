"""The GitHub webhook function against moto: secret from Secrets Manager, event on the bus."""

import base64
import json

import pytest

from pipeline.domain.webhook import sign
from pipeline.handlers import github_webhook
from tests.support.events import LOCAL_WEBHOOK_SECRET, load_event


@pytest.fixture
def webhook(stack, calls, monkeypatch, lambda_context):
    stack.use_function("GitHubWebhookFunction", monkeypatch)
    calls.made.clear()
    return lambda event: github_webhook.handler(event, lambda_context)


def _body(response: dict) -> dict:
    return json.loads(response["body"])


def test_signed_push_is_accepted_and_requests_a_langgraph_build(webhook, calls):
    response = webhook(load_event("github-push"))
    assert response["statusCode"] == 202
    (put,) = calls.of("events", "PutEvents")
    (entry,) = put["Entries"]
    assert (entry["Source"], entry["DetailType"], entry["EventBusName"]) == ("shipline", "Build Requested", "default")
    detail = json.loads(entry["Detail"])
    assert detail == {
        "project": "multi-agent-orchestrator",
        "environment": "dev",
        "commit": json.loads(load_event("github-push")["body"])["after"],
        "services": ["langgraph"],
        "trigger": "github",
        "requestedBy": "example-org/multi-agent-orchestrator",
    }


def test_bad_signature_returns_401_and_starts_nothing(webhook, calls):
    response = webhook(load_event("github-push-bad-signature"))
    assert response["statusCode"] == 401
    assert _body(response) == {"message": "signature missing or wrong"}
    assert calls.of("events", "PutEvents") == [] and calls.of("codebuild", "StartBuild") == []


def test_missing_signature_returns_401(webhook, calls):
    event = load_event("github-push")
    del event["headers"]["x-hub-signature-256"]
    assert webhook(event)["statusCode"] == 401
    assert calls.of("events", "PutEvents") == []


def test_ping_returns_200_ignored(webhook, calls):
    response = webhook(load_event("github-ping"))
    assert response["statusCode"] == 200 and _body(response)["message"] == "ignored: ping"
    assert calls.of("events", "PutEvents") == []


def test_malformed_json_returns_400(webhook, calls):
    event = load_event("github-push")
    event["body"] = '{"ref": "refs/heads/main",'
    event["headers"]["x-hub-signature-256"] = sign(LOCAL_WEBHOOK_SECRET, event["body"].encode())
    response = webhook(event)
    assert response["statusCode"] == 400 and _body(response)["message"].startswith("malformed push payload")
    assert calls.of("events", "PutEvents") == []


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
    assert calls.of("events", "PutEvents") == []


def test_secret_is_read_once_per_warm_container(webhook, calls):
    webhook(load_event("github-push"))
    webhook(load_event("github-ping"))
    assert len(calls.of("secretsmanager", "GetSecretValue")) == 1


def test_request_that_is_not_a_function_url_request_returns_400(webhook, calls):
    event = load_event("github-push")
    event["headers"] = ["not", "a", "map"]
    response = webhook(event)
    assert response["statusCode"] == 400 and _body(response)["message"].startswith("malformed request: headers")
    assert calls.of("events", "PutEvents") == []
