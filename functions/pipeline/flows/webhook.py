"""An accepted GitHub push: its build starts, queued before GitHub gets its 202.

The webhook plans the push itself (the planner's `plan_builds`, as for any trigger) and writes
one build start per service to the build-starts queue: SQS keeps them as durably as it kept
the delivery, and the build starter takes them from there. A GitHub redelivery, or the same push
answered twice, queues the same starts again; the build starter starts a commit and service once.
"""

from __future__ import annotations

from pipeline.adapters import sqs
from pipeline.domain.builds import BuildStart
from pipeline.domain.webhook import Delivery, WebhookDecision, plan_push, queued
from pipeline.settings import WebhookSettings


def queue_push(settings: WebhookSettings, delivery: Delivery) -> WebhookDecision:
    """Queue the push's build starts (none when it changed no service) and say which.

    One SendMessageBatch per ten services: SQS takes at most 10 entries a request, their bodies
    together within the maximum message size (1 MiB today, 256 KiB in older references), and a
    build start is a few hundred bytes (SQS API Reference, SendMessageBatch). The webhook does not import
    `flows.builds.queue_builds` for this: that module brings the build starter's adapters and
    Powertools' idempotency into the webhook's cold start; the message is the same `BuildStart`.
    """
    plans = plan_push(settings.manifest(), settings.target, delivery)
    if plans:
        sqs.send_batch(settings.build_starts_queue_url, [
            BuildStart.of(plan, delivery.delivery).model_dump_json(by_alias=True, exclude_none=True)
            for plan in plans])
    return queued(delivery, tuple(plan.service for plan in plans))
