"""Build trigger: a CodeCommit push, the nightly schedule or a "Build Requested" event
leads to the repositories and one CodeBuild build per service that needs one."""

from __future__ import annotations

from functools import partial
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from pipeline.domain.manifest import default_manifest
from pipeline.events.triggers import BuildRequested, CodeCommitPush, ScheduledRebuild, parse_build_trigger
from pipeline.flows.builds import start_builds
from pipeline.flows.idempotency import once, register_lambda_context
from pipeline.flows.triggers import plan_for_trigger
from pipeline.handlers.observability import logger, metrics, traced
from pipeline.handlers.outcomes import event_outcomes
from pipeline.settings import BuildTriggerSettings, get_settings


def _handle(trigger: CodeCommitPush | ScheduledRebuild | BuildRequested) -> dict:
    settings = get_settings(BuildTriggerSettings)
    plans = plan_for_trigger(trigger, settings, default_manifest())
    if not plans:
        logger.info("no service changed: nothing to build")
        return {"outcome": "nothing to build", "builds": {}, "started": []}
    result = start_builds(settings, plans)
    outcome = ("started" if result.fresh else "in flight" if result.in_flight
               else "already built" if result.already_built and not result.builds else "already started")
    return {"outcome": outcome, "builds": result.builds, "started": list(result.fresh),
            "alreadyBuilt": list(result.already_built)}


@logger.inject_lambda_context(correlation_id_path="id")
@metrics.log_metrics
@traced
@event_outcomes
def handler(event: dict[str, Any], context: LambdaContext) -> dict:
    get_settings(BuildTriggerSettings)  # checked on the first invocation: a missing variable is one line
    register_lambda_context(context)
    trigger = parse_build_trigger(event)
    # One event, one outcome: a duplicate delivery of this event (even after its build failed)
    # returns the first delivery's result and starts nothing.
    effect = once(f"trigger-event:{trigger.id}", partial(_handle, trigger))
    if effect.state == "in flight" or effect.value is None:
        return {"outcome": "in flight", "builds": {}, "started": []}
    result = effect.value
    if effect.fresh and result["started"]:  # only builds this invocation started
        metrics.add_metric(name="BuildsStarted", unit=MetricUnit.Count, value=len(result["started"]))
    return result if effect.fresh else {**result, "outcome": "duplicate event", "started": []}
