"""From a trigger (CodeCommit push, schedule, Build Requested) to the builds it needs."""

from __future__ import annotations

from collections.abc import Sequence

from aws_lambda_powertools import Logger

from pipeline.adapters import codecommit, sqs
from pipeline.domain.builds import BuildPlan, BuildStart, plan_builds
from pipeline.domain.changes import changed_paths
from pipeline.domain.fixes import RebuildReason
from pipeline.domain.manifest import Manifest
from pipeline.domain.requests import UntrackedSourceError
from pipeline.events.envelope import NotOursError
from pipeline.events.triggers import BuildRequested, CodeCommitPush, ScheduledRebuild
from pipeline.flows.inputs import known_head, source_of
from pipeline.settings import BuildTriggerSettings

logger = Logger(child=True)


def plan_for_trigger(
    trigger: CodeCommitPush | ScheduledRebuild | BuildRequested, settings: BuildTriggerSettings, manifest: Manifest
) -> tuple[BuildPlan, ...]:
    target = settings.target
    if isinstance(trigger, CodeCommitPush):
        detail = trigger.detail
        if detail.repository_name != settings.codecommit_repository or detail.reference_name != settings.branch:
            raise NotOursError(f"push to {detail.repository_name}:{detail.reference_name} is not tracked")
        # A new branch has no "before": every service is built.
        paths = (
            changed_paths(codecommit.differences(detail.repository_name, detail.old_commit_id, detail.commit_id))
            if detail.old_commit_id
            else None
        )
        return plan_builds(
            manifest, target, source_version=detail.commit_id, trigger="codecommit", changed_paths=paths
        )
    if isinstance(trigger, ScheduledRebuild):
        # A reconciler: the build starter builds a service only when no image has its inputs at
        # the head, so an unchanged head builds nothing and a missed push is caught. Where the
        # inputs cannot be read (GitHub's API out of reach), the night's occasion makes it a
        # build of its own, as before build avoidance.
        head = settings.branch
        if settings.source_provider == "CodeCommit":
            head = codecommit.branch_head(settings.repository, settings.branch)
        else:
            head = _github_head(settings)
        return plan_builds(manifest, target, source_version=head, trigger="schedule", occasion=trigger.id)
    request = trigger.detail
    if (request.project, request.environment) != (settings.project, settings.environment):
        raise NotOursError(f"request for {request.project}/{request.environment} is not for this stack")
    source = _tracked_commit(settings, request.commit, request.branch)
    return plan_builds(
        manifest, target, source_version=source, trigger=request.trigger, services=request.services,
        occasion=trigger.id, force=request.force,
    )


def _tracked_commit(settings: BuildTriggerSettings, commit: str | None, branch: str | None) -> str:
    """What a Build Requested may build: the tracked branch, or a commit it holds. Anything else
    is refused, before a repository is made or a build started."""
    if branch is not None and branch != settings.branch:
        raise UntrackedSourceError(f"branch {branch} is not the tracked branch {settings.branch}: only it is built")
    if settings.source_provider != "CodeCommit":
        # GitHub: the buildspec refuses a commit the branch does not hold. No commit: the branch's
        # head, when GitHub's API names it (else the branch, which CodeBuild resolves).
        return commit or _github_head(settings)
    repository = settings.repository
    if commit is None:
        return codecommit.branch_head(repository, settings.branch)
    try:
        held = codecommit.contains(repository, settings.branch, commit)
    except codecommit.TooFarBehindError:
        # Not shown to be on the branch, so not built (the gate fails closed), and said as it is.
        raise UntrackedSourceError(
            f"commit {commit} is too far behind the head of {settings.branch} for CodeCommit to compare them "
            "(TipsDivergenceExceededException), so it cannot be shown to be on the tracked branch and is not "
            "built; to run that commit's image again, use `shipline rollback --to REVISION`") from None
    if not held:
        raise UntrackedSourceError(f"commit {commit} is not in the history of {settings.branch}: only the tracked "
                                   "branch's commits are built")
    return commit


def _github_head(settings: BuildTriggerSettings) -> str:
    """The commit the tracked branch points at on GitHub, or the branch when its API does not say."""
    repository = source_of(settings)
    return (known_head(repository, settings.branch) if repository else "") or settings.branch


def queue_builds(queue_url: str, plans: Sequence[BuildPlan], event: str,
                 reason: RebuildReason | None = None) -> list[str]:
    """The planner's effect: one message per service, the commit fixed now (ten to a request);
    a rebuild for a finding carries its reason to the starter."""
    sqs.send_batch(queue_url, [BuildStart.of(plan, event, reason).model_dump_json(by_alias=True, exclude_none=True)
                               for plan in plans])
    return [plan.service for plan in plans]
