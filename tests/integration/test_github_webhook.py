"""The GitHub webhook function against moto: secret from Secrets Manager, the accepted push
planned there and its build starts queued (one SendMessageBatch) before the 202."""

import base64
import json

import pytest

from pipeline.domain.webhook import sign
from pipeline.handlers import github_webhook
from tests.support.events import LOCAL_WEBHOOK_SECRET, load_event
from tests.support.stacks import GITHUB


@pytest.fixture
def stack_parameters():
    return GITHUB  # the webhook exists only in a GitHub stack


@pytest.fixture
def webhook(stack, calls, monkeypatch, lambda_context):
    stack.use_function("GitHubWebhookFunction", monkeypatch)
    calls.made.clear()
    return lambda event: github_webhook.handler(event, lambda_context)


def _body(response: dict) -> dict:
    return json.loads(response["body"])


def _queued(calls) -> list[dict]:
    """The build starts the webhook wrote, in order."""
    return [json.loads(entry["MessageBody"]) for batch in calls.of("sqs", "SendMessageBatch")
            for entry in batch["Entries"]]


def _signed(body: dict) -> dict:
    event = load_event("github-push")
    event["body"] = json.dumps(body)
    event["headers"]["x-hub-signature-256"] = sign(LOCAL_WEBHOOK_SECRET, event["body"].encode())
    return event


def test_signed_push_queues_its_build_starts_before_the_202(webhook, calls, stack):
    response = webhook(load_event("github-push"))
    after = json.loads(load_event("github-push")["body"])["after"]
    assert response["statusCode"] == 202
    assert _body(response) == {"message": f"accepted: push of {after[:7]}, builds queued: langgraph",
                               "services": ["langgraph"]}
    (batch,) = calls.of("sqs", "SendMessageBatch")
    assert batch["QueueUrl"] == stack.refs["BuildStartsQueue"]
    # The build start the planner would have queued for the push: the starter reads it as any other.
    assert _queued(calls) == [{"service": "langgraph", "sourceVersion": after, "trigger": "github",
                               "occasion": "", "event": "72d3162e-cc78-11e3-81ab-4c9367dc0958"}]
    # One call after the secret: no deliveries queue, no bus, no planner record.
    assert [c for c in calls.made if c[0] != "secretsmanager"] == [("sqs", "SendMessageBatch", batch)]


def test_a_push_of_every_service_is_queued_ten_to_a_request(webhook, calls, stack, monkeypatch, tmp_path,
                                                            lambda_context):
    """Twelve services changed: two SendMessageBatch calls (SQS takes ten entries a request)."""
    from tests.support.paths import MANIFEST

    extra = "".join(f'\n[services.extra-{n:02d}]\ndockerfile = "docker/extra-{n:02d}/Dockerfile"\n'
                    f'paths = ["docker/extra-{n:02d}/"]\nport = {9000 + n}\n'
                    f'health_check = {{command = "true"}}\n' for n in range(8))
    manifest = tmp_path / "services.toml"
    manifest.write_text(MANIFEST.read_text() + extra)
    stack.use_function("GitHubWebhookFunction", monkeypatch, SHIPLINE_MANIFEST=str(manifest))
    body = json.loads(load_event("github-push")["body"])
    body["commits"][0]["modified"] = ["workload/common/config.py"]  # a shared path: every service
    calls.made.clear()
    response = github_webhook.handler(_signed(body), lambda_context)
    assert response["statusCode"] == 202 and len(_body(response)["services"]) == 12
    assert [len(b["Entries"]) for b in calls.of("sqs", "SendMessageBatch")] == [10, 2]
    assert sorted(s["service"] for s in _queued(calls)) == sorted(_body(response)["services"])


def test_a_push_that_changes_no_service_is_a_202_and_queues_nothing(webhook, calls):
    body = json.loads(load_event("github-push")["body"])
    body["commits"][0]["modified"] = ["README.md"]
    response = webhook(_signed(body))
    assert response["statusCode"] == 202
    assert _body(response)["message"].startswith("no service changed") and _body(response)["services"] == []
    assert [c for c in calls.made if c[0] != "secretsmanager"] == []


def test_a_queue_that_cannot_take_the_starts_is_a_503_github_shows_as_failed(webhook, faults, calls):
    faults.inject("sqs", "SendMessageBatch", "access-denied", times=-1)
    response = webhook(load_event("github-push"))
    assert response["statusCode"] == 503 and "redeliver it from GitHub" in _body(response)["message"]


def test_a_redelivery_queues_the_same_start_and_the_starter_builds_once(webhook, calls, stack, monkeypatch,
                                                                        lambda_context, emulation):
    """GitHub's "Redeliver" sends the same delivery again: the same build start is queued twice,
    and the build starter starts the commit's build of the service once."""
    from pipeline.handlers import build_starter

    event = load_event("github-push")
    assert webhook(event)["statusCode"] == 202 and webhook(event)["statusCode"] == 202
    starts = _queued(calls)
    assert len(starts) == 2 and starts[0] == starts[1]
    stack.use_function("BuildStarterFunction", monkeypatch)
    records = [{"messageId": f"m{n}", "body": json.dumps(start), "eventSource": "aws:sqs"}
               for n, start in enumerate(starts)]
    for record in records:  # one batch each, as two starter instances would
        build_starter.handler({"Records": [record]}, lambda_context)
    assert len(calls.of("codebuild", "StartBuild")) == 1


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
