"""GitHub push webhook, on a Lambda Function URL: verify, decide, put "Build Requested".

It never starts builds itself; the build trigger function does, from the event.
"""

from __future__ import annotations

import base64
import binascii

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from pipeline.adapters.eventbridge import put_event
from pipeline.domain.manifest import default_manifest
from pipeline.domain.requests import BUILD_REQUESTED, SOURCE
from pipeline.domain.webhook import WebhookDecision, decide
from pipeline.events.envelope import describe
from pipeline.events.webhook import FunctionUrlRequest
from pipeline.handlers.observability import logger, metrics, traced
from pipeline.settings import get_settings

SECRET_MAX_AGE = 300  # seconds a fetched secret is reused; a rotated secret applies within this


def webhook_secret() -> bytes:
    secret = parameters.get_secret(get_settings().require("webhook_secret_arn"), max_age=SECRET_MAX_AGE)
    return secret.encode() if isinstance(secret, str) else bytes(secret)


def _request(event: dict) -> tuple[bytes, dict[str, str]] | WebhookDecision:
    """The raw body and headers of a Function URL request, or the 400 for one that is not."""
    try:
        request = FunctionUrlRequest.model_validate(event)
    except ValidationError as exc:
        return WebhookDecision(400, f"malformed request: {describe(exc)}")
    raw = request.body or ""
    try:
        body = base64.b64decode(raw, validate=True) if request.is_base64_encoded else raw.encode()
    except (binascii.Error, ValueError):
        return WebhookDecision(400, "malformed body: not base64")
    return body, dict(request.headers or {})


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@metrics.log_metrics
@traced
def handler(event: dict, context: LambdaContext) -> dict:
    settings = get_settings()
    request = _request(event)
    if isinstance(request, WebhookDecision):
        decision = request
    else:
        body, headers = request
        decision = decide(
            manifest=default_manifest(),
            environment=settings.environment,
            branch=settings.branch,
            secret=webhook_secret(),
            body=body,
            headers=headers,
        )
    if decision.request is not None:
        event_id = put_event(SOURCE, BUILD_REQUESTED, decision.request.detail(), bus=settings.event_bus)
        logger.info("build requested", extra={"event_id": event_id, "request": decision.request.detail()})
        metrics.add_metric(name="WebhookPushesAccepted", unit=MetricUnit.Count, value=1)
    else:
        log = logger.warning if decision.status >= 400 else logger.info
        log(f"webhook answered {decision.status}: {decision.message}")
    return decision.response()
