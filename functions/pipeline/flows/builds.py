"""Start the planned builds: each once per commit and service, all attempted even when one
fails to start."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial

from aws_lambda_powertools import Logger

from pipeline.adapters import codebuild, ledger
from pipeline.adapters.errors import AwsCallError
from pipeline.domain.builds import BuildPlan
from pipeline.domain.naming import LATEST, commit_tag, is_commit
from pipeline.domain.records import BuildRecord
from pipeline.flows.idempotency import once
from pipeline.flows.repositories import RepositoryOutcome, ensure_repositories
from pipeline.settings import BuildTriggerSettings

logger = Logger(child=True)


class BuildsNotStartedError(RuntimeError):
    """Some builds did not start. The invocation fails so that EventBridge retries it (the
    builds that did start are not started again) or dead-letters it."""

    def __init__(self, failures: dict[str, str], started: dict[str, str]):
        self.failures = failures
        self.started = started
        names = ", ".join(f"{service} ({reason})" for service, reason in failures.items())
        super().__init__(f"{len(failures)} of {len(failures) + len(started)} builds did not start: {names}")


def _start(settings: BuildTriggerSettings, project: str, plan: BuildPlan, attempt: int) -> str:
    """The effect: start the build and note it in the ledger. Inside the idempotency guard, so
    a replay neither starts it again nor writes "STARTED" over the build's later status."""
    token = f"{settings.project}/{settings.environment}/{project}/{plan.idempotency_key}"
    build_id = codebuild.start_build(project, plan, token=token)
    ledger.build_started(settings.ledger_table, settings.ledger_key(plan.service), BuildRecord(
        build_id=build_id, status="STARTED", commit=plan.source_version, trigger=plan.trigger, at=ledger.now()),
        attempt)
    logger.info("build started", extra={"service": plan.service, "build_id": build_id})
    return build_id


def _attempt(settings: BuildTriggerSettings, plan: BuildPlan) -> tuple[BuildPlan | None, int]:
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


@dataclass(frozen=True)
class BuildsStarted:
    builds: dict[str, str]  # service -> build id (started now, or before for this commit)
    repositories: list[RepositoryOutcome]
    fresh: tuple[str, ...] = ()  # the services whose build this invocation started
    in_flight: tuple[str, ...] = ()  # being started by another invocation of the same event
    already_built: tuple[str, ...] = ()  # built successfully at this commit before: nothing to do


def start_builds(settings: BuildTriggerSettings, plans: Sequence[BuildPlan]) -> BuildsStarted:
    """Ensure the repositories, then start one build per plan."""
    repositories = ensure_repositories(settings, [plan.service for plan in plans])
    project = settings.build_project
    started: dict[str, str] = {}
    failures: dict[str, str] = {}
    fresh: list[str] = []
    in_flight: list[str] = []
    built: list[str] = []
    for planned in plans:
        try:
            plan, attempt = _attempt(settings, planned)
            if plan is None:
                built.append(planned.service)
                continue
            if attempt > 1 and plan.tags:  # a rebuild gets tags of its own: the first image keeps its tag
                plan = replace(plan, tags=(commit_tag(plan.source_version, attempt), LATEST))
            effect = once(plan.idempotency_key, partial(_start, settings, project, plan, attempt))
        except AwsCallError as exc:
            logger.error("build did not start", extra={"service": planned.service, "reason": str(exc)})
            failures[planned.service] = str(exc)
            continue
        if effect.state == "in flight":
            in_flight.append(plan.service)
            continue
        started[plan.service] = str(effect.value)
        if effect.fresh:
            fresh.append(plan.service)
    if failures:
        raise BuildsNotStartedError(failures, started)
    if built:
        logger.info("already built at this commit (trigger --force builds it again)", extra={"services": built})
    return BuildsStarted(started, repositories, tuple(fresh), tuple(in_flight), tuple(built))
