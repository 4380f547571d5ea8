"""Rollouts (the stack's Rollout is not none): queued rollout requests, one per registered
revision, each becoming one UpdateService; and the ECS services' deployment events, which move
the ledger and tell a person how each deployment ended.

A request whose UpdateService failed (throttled past its retries, a 5xx, access denied) comes
back later (BuildStartRetrySeconds, doubling with each receive); after the queue's
maxReceiveCount it lands in the dead-letter queue. A request for a service that does not
exist is reported once and dropped.
"""

from __future__ import annotations

from pipeline.handlers import coldstart

with coldstart.imports():
    from typing import Any

    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from pipeline.adapters import sqs
    from pipeline.events.deployments import DeploymentStateChanged, parse_service_event
    from pipeline.events.queue import is_queue_batch, parse_queue_batch, parse_rollout_request
    from pipeline.flows.idempotency import register_lambda_context
    from pipeline.flows.rollout import on_deployment_event, on_service_action, roll_out
    from pipeline.handlers.observability import logger, metrics, traced
    from pipeline.handlers.outcomes import OUTCOME_KINDS, event_outcomes, outcome_of
    from pipeline.settings import RolloutSettings, get_settings


@logger.inject_lambda_context
@metrics.log_metrics
@traced
def handler(event: dict[str, Any], context: LambdaContext) -> dict:
    register_lambda_context(context)
    if is_queue_batch(event):
        return _rollouts(event)
    return _service_event(event, context)


def _rollouts(event: dict[str, Any]) -> dict:
    settings = get_settings(RolloutSettings)
    manifest = settings.manifest()
    failures: list[dict[str, str]] = []
    outcomes: list[dict] = []
    for record in parse_queue_batch(event):
        try:
            result = roll_out(settings, manifest, parse_rollout_request(record.body))
        except OUTCOME_KINDS as exc:  # never retried into success (an unknown service: drift too)
            outcomes.append(outcome_of(exc, f"rollout request {record.message_id}"))
            continue
        except Exception as exc:  # noqa: BLE001 - this request alone comes back later; the others go on
            delay = sqs.backoff(settings.build_start_retry_seconds, record.receive_count)
            logger.warning(f"rollout failed, again in {delay} s: {exc}", extra={"message_id": record.message_id})
            if record.receipt_handle and settings.rollout_queue_url:
                sqs.retry_later(settings.rollout_queue_url, record.receipt_handle, delay)
            failures.append({"itemIdentifier": record.message_id})
            continue
        outcomes.append(result)
        if result["outcome"] == "rolling out":
            metrics.add_metric(name="RolloutsStarted", unit=MetricUnit.Count, value=1)
        elif result["outcome"] in ("service missing", "another controller"):
            metrics.add_metric(name="RolloutsRefused", unit=MetricUnit.Count, value=1)
    return {"outcome": "rollouts", "rollouts": outcomes, "batchItemFailures": failures}


@event_outcomes
def _service_event(event: dict[str, Any], context: LambdaContext) -> dict:
    settings = get_settings(RolloutSettings)
    manifest = settings.manifest()
    parsed = parse_service_event(event)
    if isinstance(parsed, DeploymentStateChanged):
        d = parsed.detail
        result = on_deployment_event(settings, manifest, service_arn=parsed.service_arn, deployment_id=d.deployment_id,
                                     event_name=d.event_name, reason=d.reason,
                                     updated_at=d.instant(parsed.time))
        if result.get("notified"):
            name = {"COMPLETED": "DeploymentsCompleted", "ROLLED_BACK": "DeploymentsRolledBack"}.get(
                str(result.get("state")), "DeploymentsFailed")
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
        return result
    a = parsed.detail
    return on_service_action(settings, manifest, service_arn=parsed.service_arn, event_name=a.event_name,
                             event_type=a.event_type, reason=a.reason, at=a.created_at or parsed.time.isoformat())
