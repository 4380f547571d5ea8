"""Stored GitHub pushes (the deliveries queue): each becomes one "Build Requested" for the
services its paths changed, on shipline's own bus, carrying its delivery (X-GitHub-Delivery).
A redelivery or a duplicated message puts the request again, and the build trigger plans once
per delivery, so nothing is asked twice (this function keeps no record of its own: two fewer
DynamoDB calls per push). A message it cannot handle is retried and then lands in the
dead-letter queue."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from pipeline.adapters import sqs
from pipeline.adapters.errors import AwsCallError
from pipeline.adapters.eventbridge import put_event
from pipeline.adapters.sqs import backoff
from pipeline.domain.requests import BUILD_REQUESTED, SOURCE
from pipeline.domain.webhook import Delivery, plan_delivery
from pipeline.events.envelope import describe
from pipeline.events.queue import parse_queue_batch
from pipeline.handlers.observability import logger, metrics, traced
from pipeline.settings import DeliverySettings, get_settings


def _request(delivery: Delivery) -> str:
    """The effect: put the delivery's Build Requested on the bus (or nothing, when no service changed)."""
    settings = get_settings(DeliverySettings)
    request = plan_delivery(settings.manifest(), settings.environment, delivery)
    if request is None:
        logger.info("no service's paths changed", extra={"delivery": delivery.delivery})
        return ""
    return put_event(SOURCE, BUILD_REQUESTED, request.detail(), bus=settings.event_bus)


@logger.inject_lambda_context
@metrics.log_metrics
@traced
def handler(event: dict[str, Any], context: LambdaContext) -> dict:
    settings = get_settings(DeliverySettings)  # checked on the first invocation
    failures = []
    for record in parse_queue_batch(event):
        try:
            delivery = Delivery.model_validate_json(record.body)
        except ValidationError as exc:  # never retried into success: to the dead-letter queue at once
            logger.error(f"delivery {record.message_id} unreadable: {describe(exc)}")
            failures.append({"itemIdentifier": record.message_id})
            continue
        try:
            _request(delivery)
        except AwsCallError as exc:
            delay = backoff(settings.build_start_retry_seconds, record.receive_count)
            logger.error(f"delivery {delivery.delivery} not handled, again in {delay} s: {exc}")
            if record.receipt_handle:
                sqs.retry_later(settings.deliveries_queue_url, record.receipt_handle, delay)
            failures.append({"itemIdentifier": record.message_id})
    return {"batchItemFailures": failures}
