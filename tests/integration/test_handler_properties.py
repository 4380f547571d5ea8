"""Every handler, on damaged versions of every sample event: a defined outcome (a response,
"rejected", "ignored", or an AWS failure that sends the event to the dead-letter queue),
never an unhandled exception."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.adapters.errors import AwsCallError
from pipeline.handlers import build_events, build_trigger, github_webhook, image_events
from tests.support.paths import EVENTS
from tests.support.properties import TRIED, mutated, one_printable_line, property_settings
from tests.support.stacks import GITHUB

pytestmark = pytest.mark.property

SAMPLES = {path.stem: json.loads(path.read_text()) for path in EVENTS.glob("*.json")}
ENVELOPES = [s for s in SAMPLES.values() if "detail-type" in s]
REQUESTS = [s for s in SAMPLES.values() if "requestContext" in s]
DEAD_LETTER = (AwsCallError,)  # retried, then dead-lettered: defined
HANDLERS = {
    "BuildTriggerFunction": build_trigger.handler,
    "ImageEventsFunction": image_events.handler,
    "BuildEventsFunction": build_events.handler,
}
PROPERTY = property_settings(60, fixtures=True)


@pytest.mark.parametrize("function", HANDLERS)
def test_asynchronous_handlers_give_a_defined_outcome_for_any_damaged_event(function, stack, codecommit_history,
                                                                           monkeypatch, lambda_context):
    stack.use_function(function, monkeypatch)

    @PROPERTY
    @given(st.sampled_from(ENVELOPES).flatmap(mutated))
    def check(event):
        TRIED[f"{function}, damaged events"] += 1
        try:
            result = HANDLERS[function](event, lambda_context)
        except DEAD_LETTER:
            return
        assert isinstance(result, dict) and result.get("outcome")
        assert one_printable_line(result.get("reason", "-"))

    check()


@pytest.mark.parametrize("stack_parameters", [GITHUB])  # the webhook exists only in a GitHub stack
def test_webhook_answers_any_damaged_request(stack, monkeypatch, lambda_context):
    stack.use_function("GitHubWebhookFunction", monkeypatch)

    @PROPERTY
    @given(st.sampled_from(REQUESTS).flatmap(mutated))
    def check(request):
        TRIED["GitHubWebhookFunction, damaged requests"] += 1
        response = github_webhook.handler(request, lambda_context)
        assert response["statusCode"] in {200, 202, 400, 401}
        assert one_printable_line(json.loads(response["body"])["message"])

    check()
