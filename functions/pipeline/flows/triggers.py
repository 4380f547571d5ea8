"""From a trigger (CodeCommit push, schedule, Build Requested) to the builds it needs."""

from __future__ import annotations

from aws_lambda_powertools import Logger

from pipeline.adapters import codecommit
from pipeline.domain.builds import BuildPlan, plan_builds
from pipeline.domain.manifest import Manifest
from pipeline.events.envelope import InvalidEventError, NotOursError
from pipeline.events.triggers import BuildRequested, CodeCommitPush, ScheduledRebuild
from pipeline.settings import Settings

logger = Logger(child=True)


def plan_for_trigger(
    trigger: CodeCommitPush | ScheduledRebuild | BuildRequested, settings: Settings, manifest: Manifest
) -> tuple[BuildPlan, ...]:
    target = settings.target
    if isinstance(trigger, CodeCommitPush):
        detail = trigger.detail
        if detail.repository_name != settings.codecommit_repository or detail.reference_name != settings.branch:
            raise NotOursError(f"push to {detail.repository_name}:{detail.reference_name} is not tracked")
        # A new branch has no "before": every service is built.
        paths = (
            codecommit.changed_paths(detail.repository_name, detail.old_commit_id, detail.commit_id)
            if detail.old_commit_id
            else None
        )
        return plan_builds(
            manifest, target, source_version=detail.commit_id, trigger="codecommit", changed_paths=paths
        )
    if isinstance(trigger, ScheduledRebuild):
        head = settings.branch
        if settings.source_provider == "CodeCommit":
            head = codecommit.branch_head(settings.require("codecommit_repository"), settings.branch)
        return plan_builds(manifest, target, source_version=head, trigger="schedule", occasion=trigger.id)
    request = trigger.detail
    if (request.project, request.environment) != (settings.project, settings.environment):
        raise NotOursError(f"request for {request.project}/{request.environment} is not for this stack")
    source = request.commit or request.branch
    if source is None:  # the model guarantees one of them
        raise InvalidEventError("detail: neither commit nor branch")
    return plan_builds(
        manifest, target, source_version=source, trigger=request.trigger, services=request.services,
        occasion=trigger.id,
    )
