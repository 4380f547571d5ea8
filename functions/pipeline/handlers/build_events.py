"""CodeBuild state changes of our project: recorded in the ledger; failures notified."""

from __future__ import annotations

from pipeline.handlers import coldstart

with coldstart.imports():
    from typing import Any

    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from pipeline.events.builds import parse_build_state
    from pipeline.flows.build_events import on_build_state
    from pipeline.flows.idempotency import register_lambda_context
    from pipeline.handlers.observability import logger, metrics, traced
    from pipeline.handlers.outcomes import event_outcomes
    from pipeline.settings import BuildEventsSettings, get_settings


@logger.inject_lambda_context(correlation_id_path="id")
@metrics.log_metrics
@traced
@event_outcomes
def handler(event: dict[str, Any], context: LambdaContext) -> dict:
    register_lambda_context(context)
    settings = get_settings(BuildEventsSettings)
    result = on_build_state(settings, settings.manifest(), parse_build_state(event).detail)
    if result["outcome"] == "notified":
        metrics.add_metric(name="BuildsFailed", unit=MetricUnit.Count, value=1)
    return result
