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


def rejected(reason: object) -> dict:
    """An event dropped as one that can never succeed: one error line and EventsRejected."""
    logger.error(f"event rejected: {reason}")
    metrics.add_metric(name="EventsRejected", unit=MetricUnit.Count, value=1)
    return {"outcome": "rejected", "reason": str(reason)}


def event_outcomes(handler: Callable[..., dict]) -> Callable[..., dict]:
    @functools.wraps(handler)
    def wrapper(event: Any, context: Any) -> dict:
        try:
            return handler(event, context)
        except Ignored as exc:
            logger.info(f"event ignored: {exc}")
            return {"outcome": "ignored", "reason": str(exc)}
        except Refused as exc:
            logger.warning(f"event refused: {exc}")
            metrics.add_metric(name="RequestsRefused", unit=MetricUnit.Count, value=1)
            return {"outcome": "refused", "reason": str(exc)}
        except Rejected as exc:
            result = rejected(exc)
            if isinstance(exc, Drift):
                metrics.add_metric(name="ConfigurationDrift", unit=MetricUnit.Count, value=1)
            return result

    return wrapper
