"""Build trigger, the planner: a CodeCommit push, the nightly schedule or a "Build Requested"
becomes one queued build start per service that needs a build, the commit fixed now.

Planning is cheap whatever the number of services (one change detection, one queue write per
ten services); starting the builds is the build starter's work, one service at a time.
"""

from __future__ import annotations

from pipeline.handlers import coldstart

with coldstart.imports():
    from functools import partial
    from typing import Any

    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from pipeline.events.triggers import BuildRequested, CodeCommitPush, ScheduledRebuild, parse_build_trigger
    from pipeline.flows.idempotency import once, register_lambda_context
    from pipeline.flows.triggers import plan_for_trigger, queue_builds
    from pipeline.handlers.observability import logger, metrics, traced
    from pipeline.handlers.outcomes import event_outcomes
    from pipeline.settings import BuildTriggerSettings, get_settings


def _plan(trigger: CodeCommitPush | ScheduledRebuild | BuildRequested) -> dict:
    settings = get_settings(BuildTriggerSettings)
    plans = plan_for_trigger(trigger, settings, settings.manifest())
    if not plans:
        logger.info("no service changed: nothing to build")
        return {"outcome": "nothing to build", "planned": []}
    reason = trigger.detail.reason if isinstance(trigger, BuildRequested) else None  # a rebuild for a finding
    planned = queue_builds(settings.build_starts_queue_url, plans, trigger.id, reason)
    logger.info("builds planned", extra={"services": planned, "commit": plans[0].source_version})
    return {"outcome": "planned", "planned": planned, "sourceVersion": plans[0].source_version}


def plan_key(trigger: CodeCommitPush | ScheduledRebuild | BuildRequested) -> str:
    """What makes two triggers one: the event id. (A GitHub push is planned by the webhook.)"""
    return f"trigger-event:{trigger.id}"


@logger.inject_lambda_context(correlation_id_path="id")
@metrics.log_metrics
@traced
@event_outcomes
def handler(event: dict[str, Any], context: LambdaContext) -> dict:
    get_settings(BuildTriggerSettings)  # checked on the first invocation: a missing variable is one line
    register_lambda_context(context)
    trigger = parse_build_trigger(event)
    # One event, one plan: a duplicate delivery (or a retry, once the plan was queued) queues
    # nothing again, and the commit a branch or schedule resolved to stays the one planned.
    effect = once(plan_key(trigger), partial(_plan, trigger))
    if effect.state == "in flight" or effect.value is None:
        return {"outcome": "in flight", "planned": []}
    result = effect.value
    if effect.fresh and result["planned"]:
        metrics.add_metric(name="BuildsPlanned", unit=MetricUnit.Count, value=len(result["planned"]))
    return result if effect.fresh else {**result, "outcome": "duplicate event", "planned": []}
