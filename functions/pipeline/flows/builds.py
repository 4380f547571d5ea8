"""Start the planned builds: each once per commit and service, all attempted even when one
fails to start."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from aws_lambda_powertools import Logger

from pipeline.adapters import codebuild, ledger
from pipeline.adapters.errors import AwsCallError
from pipeline.domain.builds import BuildPlan
from pipeline.flows.idempotency import once
from pipeline.flows.repositories import RepositoryOutcome, ensure_repositories
from pipeline.settings import Settings

logger = Logger(child=True)


class BuildsNotStartedError(RuntimeError):
    """Some builds did not start. The invocation fails so that EventBridge retries it (the
    builds that did start are not started again) or dead-letters it."""

    def __init__(self, failures: dict[str, str], started: dict[str, str]):
        self.failures = failures
        self.started = started
        names = ", ".join(f"{service} ({reason})" for service, reason in failures.items())
        super().__init__(f"{len(failures)} of {len(failures) + len(started)} builds did not start: {names}")


def _start(settings: Settings, project: str, plan: BuildPlan) -> str:
    """The effect: start the build and note it in the ledger. Inside the idempotency guard, so
    a replay neither starts it again nor writes "STARTED" over the build's later status."""
    build_id = codebuild.start_build(project, plan)
    if settings.ledger_table:
        ledger.record(settings.ledger_table, settings.ledger_key(plan.service), f"build#{build_id}", {
            "buildId": build_id, "status": "STARTED", "commit": plan.source_version, "trigger": plan.trigger,
            "at": ledger.now(),
        })
    logger.info("build started", extra={"service": plan.service, "build_id": build_id})
    return build_id


@dataclass(frozen=True)
class BuildsStarted:
    builds: dict[str, str]  # service -> build id (started now, or before for this commit)
    repositories: list[RepositoryOutcome]
    fresh: tuple[str, ...] = ()  # the services whose build this invocation started
    in_flight: tuple[str, ...] = ()  # being started by another invocation of the same event


def start_builds(settings: Settings, plans: Sequence[BuildPlan]) -> BuildsStarted:
    """Ensure the repositories, then start one build per plan."""
    repositories = ensure_repositories(settings, [plan.service for plan in plans])
    project = settings.require("build_project")
    started: dict[str, str] = {}
    failures: dict[str, str] = {}
    fresh: list[str] = []
    in_flight: list[str] = []
    for plan in plans:
        try:
            effect = once(plan.idempotency_key, partial(_start, settings, project, plan))
        except AwsCallError as exc:
            logger.error("build did not start", extra={"service": plan.service, "reason": str(exc)})
            failures[plan.service] = str(exc)
            continue
        if effect.state == "in flight":
            in_flight.append(plan.service)
            continue
        started[plan.service] = str(effect.value)
        if effect.fresh:
            fresh.append(plan.service)
    if failures:
        raise BuildsNotStartedError(failures, started)
    return BuildsStarted(started, repositories, tuple(fresh), tuple(in_flight))
