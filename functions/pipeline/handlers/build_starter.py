"""Build starter: queued build starts (one per service and commit, from the planner), each
started once, within CodeBuild's quota.

When CodeBuild has no room (AccountLimitExceeded: its queue is full) or an AWS call fails, the
message comes back later, with a backoff that grows with each receive; after the queue's
maxReceiveCount it lands in the dead-letter queue, that service alone. The mapping's
MaximumConcurrency keeps the starter's own invocations below the build quota.
"""

from __future__ import annotations

from pipeline.handlers import coldstart

with coldstart.imports():
    from typing import Any

    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from pydantic import ValidationError

    from pipeline.adapters import sqs
    from pipeline.adapters.errors import AwsCallError, CapacityError
    from pipeline.domain.builds import BuildStart
    from pipeline.domain.manifest import UnknownServiceError
    from pipeline.domain.requests import UntrackedSourceError
    from pipeline.events.envelope import describe
    from pipeline.events.queue import NOT_A_BATCH, is_queue_batch, parse_queue_batch
    from pipeline.flows.builds import start_one
    from pipeline.flows.fixes import rebuild_decided
    from pipeline.flows.idempotency import register_lambda_context
    from pipeline.handlers.observability import logger, metrics, traced
    from pipeline.handlers.outcomes import rejected
    from pipeline.settings import BuildStarterSettings, get_settings


@logger.inject_lambda_context
@metrics.log_metrics
@traced
def handler(event: dict[str, Any], context: LambdaContext) -> dict:
    settings = get_settings(BuildStarterSettings)  # checked on the first invocation
    register_lambda_context(context)
    manifest = settings.manifest()
    if not is_queue_batch(event):  # invoked directly: one line, not a traceback (a damaged record in a
        # batch still fails the whole batch, so its good starts come back rather than being deleted)
        return {**rejected(NOT_A_BATCH), "batchItemFailures": [], "builds": {}, "states": {}}
    failures: list[dict[str, str]] = []
    states: dict[str, str] = {}
    builds: dict[str, str] = {}
    for record in parse_queue_batch(event):
        try:
            start = BuildStart.model_validate_json(record.body)
            result = start_one(settings, start.plan(manifest, settings.target, settings.branch), manifest)
            rebuild_decided(settings, start, result)  # a rebuild for a finding: its decision, for the digest
        except (ValidationError, UnknownServiceError, UntrackedSourceError) as exc:  # never retried into success
            reason = describe(exc) if isinstance(exc, ValidationError) else str(exc)
            logger.error(f"build start {record.message_id} unusable: {reason}")
            failures.append({"itemIdentifier": record.message_id})
            continue
        except Exception as exc:  # noqa: BLE001 - this start alone waits and tries again; the others go on
            # (failing the batch would hold every start in it for the queue's visibility timeout)
            delay = sqs.backoff(settings.build_start_retry_seconds, record.receive_count)
            if isinstance(exc, AwsCallError):
                kind = "no room in CodeBuild" if isinstance(exc, CapacityError) else "failed"
                logger.warning(f"build start {kind}, again in {delay} s: {exc}",
                               extra={"message_id": record.message_id})
            else:
                logger.exception(f"build start failed ({type(exc).__name__}), again in {delay} s: {exc}",
                                 extra={"message_id": record.message_id})
            if record.receipt_handle:
                sqs.retry_later(settings.build_starts_queue_url, record.receipt_handle, delay)
            failures.append({"itemIdentifier": record.message_id})
            continue
        if result.state == "in flight":  # the same build being started now: look again later
            failures.append({"itemIdentifier": record.message_id})
        states[result.service] = result.state
        if result.build:
            builds[result.service] = result.build
    started = sum(1 for state in states.values() if state == "started")
    if started:  # only builds this invocation started
        metrics.add_metric(name="BuildsStarted", unit=MetricUnit.Count, value=started)
    reused = sum(1 for state in states.values() if state == "reused")
    if reused:  # builds avoided: an image with the same build inputs got the commit's tags instead
        metrics.add_metric(name="ImagesReused", unit=MetricUnit.Count, value=reused)
    # Lambda reads batchItemFailures; the rest is for the logs and the local account's report.
    return {"batchItemFailures": failures, "builds": builds, "states": states}
