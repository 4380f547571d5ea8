"""GitHub push webhook, on a Lambda Function URL: verify, decide, put "Build Requested".

It never starts builds itself; the build trigger function does, from the event.
"""

from __future__ import annotations

import base64
import binascii

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.data_classes import LambdaFunctionUrlEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from pipeline.adapters.eventbridge import put_event
from pipeline.domain.manifest import default_manifest
from pipeline.domain.requests import BUILD_REQUESTED, SOURCE
from pipeline.domain.webhook import WebhookDecision, decide
from pipeline.handlers.observability import logger, metrics, tracer
from pipeline.settings import get_settings

SECRET_MAX_AGE = 300  # seconds a fetched secret is reused; a rotated secret applies within this


def webhook_secret() -> bytes:
    secret = parameters.get_secret(get_settings().require("webhook_secret_arn"), max_age=SECRET_MAX_AGE)
    return secret.encode() if isinstance(secret, str) else bytes(secret)


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
@event_source(data_class=LambdaFunctionUrlEvent)
def handler(event: LambdaFunctionUrlEvent, context: LambdaContext) -> dict:
    settings = get_settings()
    raw = event.body or ""
    try:
        body = base64.b64decode(raw, validate=True) if event.is_base64_encoded else raw.encode()
    except (binascii.Error, ValueError):
        decision = WebhookDecision(400, "malformed body: not base64")
    else:
        decision = decide(
            manifest=default_manifest(),
            environment=settings.environment,
            branch=settings.branch,
            secret=webhook_secret(),
            body=body,
            headers=dict(event.headers or {}),
        )
    if decision.request is not None:
        event_id = put_event(SOURCE, BUILD_REQUESTED, decision.request.detail(), bus=settings.event_bus)
        logger.info("build requested", extra={"event_id": event_id, "request": decision.request.detail()})
        metrics.add_metric(name="WebhookPushesAccepted", unit=MetricUnit.Count, value=1)
    else:
        log = logger.warning if decision.status >= 400 else logger.info
        log(f"webhook answered {decision.status}: {decision.message}")
    return decision.response()
