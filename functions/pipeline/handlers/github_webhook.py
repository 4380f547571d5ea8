"""GitHub push webhook, on a Lambda Function URL: verify, decide, queue the push's builds.

Once the signature checks out, an accepted push is planned here and its build starts (one per
changed service) are written to the build-starts queue before GitHub gets its 202; the build
starter takes them from there, and a start it cannot make ends in the dead-letter queue, never
in nothing. GitHub waits 10 s for the answer and does not redeliver a failed delivery on its
own (GitHub Docs, "Handling failed webhook deliveries"): a 5xx here (the secret or the queue out
of reach) shows as a failed delivery that a person redelivers from the webhook's settings, and
a redelivery queues the same starts again, which the build starter starts once.
"""

from __future__ import annotations

from pipeline.handlers import coldstart

with coldstart.imports():
    import base64
    import binascii

    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.utilities import parameters
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from pydantic import ValidationError

    from pipeline.adapters.errors import AwsCallError
    from pipeline.domain.webhook import WebhookDecision, decide
    from pipeline.events.envelope import describe
    from pipeline.events.webhook import FunctionUrlRequest
    from pipeline.flows.webhook import queue_push
    from pipeline.handlers.observability import logger, metrics, traced
    from pipeline.settings import WebhookSettings, get_settings

SECRET_MAX_AGE = 300  # seconds a fetched secret is reused; a rotated secret applies within this


def webhook_secret() -> bytes:
    secret = parameters.get_secret(get_settings(WebhookSettings).webhook_secret_arn, max_age=SECRET_MAX_AGE)
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
    settings = get_settings(WebhookSettings)
    request = _request(event)
    if isinstance(request, WebhookDecision):
        decision = request
    else:
        body, headers = request
        try:
            secret = webhook_secret()
        except GetParameterError as exc:  # before the signature: nothing is accepted, GitHub shows it failed
            logger.error(f"webhook secret unavailable: {exc}")
            return WebhookDecision(503, "the webhook cannot check signatures now: redeliver it from GitHub").response()
        decision = decide(branch=settings.branch, secret=secret, body=body, headers=headers,
                          repository_url=settings.github_repository_url or "")
    if decision.delivery is not None:
        delivery = decision.delivery
        try:
            decision = queue_push(settings, delivery)
        except AwsCallError as exc:
            logger.error(f"build starts not queued: {exc}")
            return WebhookDecision(503, "the push's builds could not be queued: redeliver it from GitHub").response()
        services = list(decision.services or ())
        logger.info("push accepted", extra={"delivery": delivery.delivery, "commit": delivery.commit,
                                            "services": services, "pusher": delivery.pusher})
        metrics.add_metric(name="WebhookPushesAccepted", unit=MetricUnit.Count, value=1)
        if services:  # what the planner counted for a GitHub push when it planned it
            metrics.add_metric(name="BuildsPlanned", unit=MetricUnit.Count, value=len(services))
            metrics.add_metric(name="BuildsRequested", unit=MetricUnit.Count, value=1)
    else:
        log = logger.warning if decision.status >= 400 else logger.info
        log(f"webhook answered {decision.status}: {decision.message}")
    return decision.response()
