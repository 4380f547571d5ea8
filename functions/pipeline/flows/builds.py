"""Start the planned builds: each once per commit and service, all attempted even when one
fails to start."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Literal

from aws_lambda_powertools import Logger

from pipeline.adapters import codebuild, ledger, logs, sqs
from pipeline.domain.builds import BuildPlan, BuildStart
from pipeline.domain.naming import LATEST, commit_tag, is_commit
from pipeline.domain.records import BuildRecord
from pipeline.flows.idempotency import once
from pipeline.flows.repositories import ensure_repositories
from pipeline.settings import BuildStarterSettings

logger = Logger(child=True)


def _start(settings: BuildStarterSettings, project: str, plan: BuildPlan, attempt: int) -> str:
    """The effect: start the build and note it in the ledger. Inside the idempotency guard, so
    a replay neither starts it again nor writes "STARTED" over the build's later status."""
    token = f"{settings.project}/{settings.environment}/{project}/{plan.idempotency_key}"
    build_id = codebuild.start_build(project, plan, token=token)
    ledger.build_started(settings.ledger_table, settings.ledger_key(plan.service), BuildRecord(
        build_id=build_id, status="STARTED", commit=plan.source_version, trigger=plan.trigger, at=ledger.now()),
        attempt)
    logger.info("build started", extra={"service": plan.service, "build_id": build_id})
    return build_id


def _attempt(settings: BuildStarterSettings, plan: BuildPlan) -> tuple[BuildPlan | None, int]:
    """What this plan means given the commit's builds so far: nothing to do (built already,
    and not forced), a retry after a failed build, or the first build."""
    if not is_commit(plan.source_version):
        return plan, 1
    planned = ledger.commit_planned(settings.ledger_table, settings.ledger_key(plan.service),
                                   plan.source_version, ledger.now())
    if plan.occasion:  # the schedule, or a forced request: a build of its own
        return plan, planned.attempt + 1
    if planned.built:
        return None, planned.attempt
    if planned.failed:  # a new request after a failed build: one new build per failure
        return replace(plan, after=planned.last_build), planned.attempt + 1
    return plan, max(planned.attempt, 1)


StartState = Literal["started", "already started", "in flight", "already built"]


@dataclass(frozen=True)
class StartResult:
    service: str
    state: StartState
    build: str = ""  # the build's ARN (started now, or before for this commit)


def start_one(settings: BuildStarterSettings, planned: BuildPlan) -> StartResult:
    """Ensure the service's repository and log group, then start its build once: a commit is
    built again only after a failure, or when the schedule or a forced request asks."""
    ensure_repositories(settings, [planned.service])
    logs.ensure_log_group(settings.target.log_group(planned.service), settings.service_log_retention_days)
    plan, attempt = _attempt(settings, planned)
    if plan is None:
        logger.info("already built at this commit (trigger --force builds it again)",
                    extra={"service": planned.service})
        return StartResult(planned.service, "already built")
    if attempt > 1 and plan.tags:  # a rebuild gets tags of its own: the first image keeps its tag
        plan = replace(plan, tags=(commit_tag(plan.source_version, attempt), LATEST))
    effect = once(plan.idempotency_key, partial(_start, settings, settings.build_project, plan, attempt))
    if effect.state == "in flight":
        return StartResult(plan.service, "in flight")
    return StartResult(plan.service, "started" if effect.fresh else "already started", str(effect.value))


def queue_builds(queue_url: str, plans: Sequence[BuildPlan], event: str) -> list[str]:
    """The planner's effect: one message per service, the commit fixed now (ten to a request)."""
    sqs.send_batch(queue_url, [BuildStart.of(plan, event).model_dump_json(by_alias=True) for plan in plans])
    return [plan.service for plan in plans]
