"""One place that maps domain exceptions to what an asynchronous invocation does (each
exception declares its kind: pipeline.domain.outcomes).

- Input that can never succeed (bad event, unknown service, not ours): one log line, a
  metric, and the event is dropped (returned as "rejected" or "ignored").
- Everything else (AWS failures, partial starts, a bad manifest or configuration) is
  re-raised: Lambda retries the event, then sends it to the function's dead-letter queue.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from pipeline.domain.outcomes import Drift, Ignored, Refused, Rejected
from pipeline.handlers.observability import logger, metrics


def rejected(reason: object, about: str = "event") -> dict:
    """An event dropped as one that can never succeed: one error line and EventsRejected."""
    logger.error(f"{about} rejected: {reason}")
    metrics.add_metric(name="EventsRejected", unit=MetricUnit.Count, value=1)
    return {"outcome": "rejected", "reason": str(reason)}


OUTCOME_KINDS = (Ignored, Refused, Rejected)


def outcome_of(exc: Ignored | Refused | Rejected, about: str = "event") -> dict:
    """What the exception's kind comes to: its log line, its metrics, and the outcome returned.
    `about` names the input in the log line (an event, or one request of a batch)."""
    if isinstance(exc, Ignored):
        logger.info(f"{about} ignored: {exc}")
        return {"outcome": "ignored", "reason": str(exc)}
    if isinstance(exc, Refused):
        logger.warning(f"{about} refused: {exc}")
        metrics.add_metric(name="RequestsRefused", unit=MetricUnit.Count, value=1)
        return {"outcome": "refused", "reason": str(exc)}
    result = rejected(exc, about)
    if isinstance(exc, Drift):
        metrics.add_metric(name="ConfigurationDrift", unit=MetricUnit.Count, value=1)
    return result


def event_outcomes(handler: Callable[..., dict]) -> Callable[..., dict]:
    @functools.wraps(handler)
    def wrapper(event: Any, context: Any) -> dict:
        try:
            return handler(event, context)
        except OUTCOME_KINDS as exc:
            return outcome_of(exc)

    return wrapper
