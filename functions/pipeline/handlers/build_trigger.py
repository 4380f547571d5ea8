"""Build trigger: a CodeCommit push, the nightly schedule or a "Build Requested" event
leads to the repositories and one CodeBuild build per service that needs one."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from pipeline.domain.manifest import default_manifest
from pipeline.events.triggers import parse_build_trigger
from pipeline.flows.builds import start_builds
from pipeline.flows.idempotency import register_lambda_context
from pipeline.flows.triggers import plan_for_trigger
from pipeline.handlers.observability import logger, metrics, traced
from pipeline.handlers.outcomes import event_outcomes
from pipeline.settings import get_settings


@logger.inject_lambda_context(correlation_id_path="id")
@metrics.log_metrics
@traced
@event_outcomes
def handler(event: dict[str, Any], context: LambdaContext) -> dict:
    register_lambda_context(context)
    settings = get_settings()
    plans = plan_for_trigger(parse_build_trigger(event), settings, default_manifest())
    if not plans:
        logger.info("no service changed: nothing to build")
        return {"outcome": "nothing to build", "builds": {}}
    result = start_builds(settings, plans)
    if result.fresh:  # only builds this invocation started: a replay or a duplicate counts none
        metrics.add_metric(name="BuildsStarted", unit=MetricUnit.Count, value=len(result.fresh))
    outcome = "started" if result.fresh else "in flight" if result.in_flight else "already started"
    return {"outcome": outcome, "builds": result.builds, "started": list(result.fresh)}
