"""Start the planned builds: each once per commit and service, all attempted even when one
fails to start."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from typing import Literal

from aws_lambda_powertools import Logger

from pipeline.adapters import codebuild, ecr, ledger, logs
from pipeline.domain.builds import BuildPlan
from pipeline.domain.inputs import inputs_tag
from pipeline.domain.manifest import Manifest
from pipeline.domain.naming import LATEST, commit_of_tag, commit_tag, is_commit, is_sha_tag, short_sha
from pipeline.domain.records import BuildRecord, ReuseRecord
from pipeline.flows.idempotency import once
from pipeline.flows.inputs import known_inputs, source_of
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


def _attempt(settings: BuildStarterSettings, plan: BuildPlan, tagged: bool = False) -> tuple[BuildPlan | None, int]:
    """What this plan means given the commit's builds so far: nothing to do (built already,
    and not forced), a retry after a failed build, or the first build."""
    if not is_commit(plan.source_version):
        return plan, 1
    planned = ledger.commit_planned(settings.ledger_table, settings.ledger_key(plan.service),
                                   plan.source_version, ledger.now())
    if plan.occasion:  # the schedule, or a forced request: a build of its own
        return plan, planned.attempt + 1
    if plan.inputs and (planned.built or tagged):  # built, but no image has these inputs (a base tag moved)
        return plan, planned.attempt + 1
    if planned.built:
        return None, planned.attempt
    if planned.failed:  # a new request after a failed build: one new build per failure
        return replace(plan, after=planned.last_build), planned.attempt + 1
    return plan, max(planned.attempt, 1)


# "inputs unknown": a rebuild for a finding (trigger finding) where the head's inputs cannot be read: not built.
StartState = Literal["started", "already started", "in flight", "already built", "reused", "inputs unknown"]


@dataclass(frozen=True)
class StartResult:
    service: str
    state: StartState
    build: str = ""  # the build's ARN (started now, or before for this commit)
    image: str = ""  # the digest reused, when an image already had the commit's build inputs


def start_one(settings: BuildStarterSettings, planned: BuildPlan, manifest: Manifest | None = None) -> StartResult:
    """Ensure the service's repository and log group, then build the commit once, or reuse the
    image already built from the same inputs: a commit is built again only after a failure,
    when its inputs changed (a base image tag moved), or when a forced request (or, without
    known inputs, the schedule) asks."""
    ensure_repositories(settings, [planned.service])
    logs.ensure_log_group(settings.target.log_group(planned.service), settings.service_log_retention_days)
    tagged = False  # whether an image carries the commit's tag already (its build, from other inputs)
    if manifest is not None and not planned.after and not (planned.occasion and planned.trigger != "schedule"):
        inputs = _inputs(settings, manifest, planned)
        if inputs:
            reused, tagged = _reuse(settings, planned, inputs)
            if reused is not None:
                return reused
            # Known inputs decide: the schedule's occasion no longer makes a build of its own.
            occasion = "" if planned.trigger == "schedule" else planned.occasion
            planned = replace(planned, inputs=inputs, occasion=occasion)
    if planned.trigger == "finding" and not planned.inputs:
        # RebuildOnFixAvailable rebuilds only when the inputs change; where they cannot be read, nothing.
        logger.info("no rebuild for the finding: the head's build inputs cannot be read here",
                    extra={"service": planned.service})
        return StartResult(planned.service, "inputs unknown")
    plan, attempt = _attempt(settings, planned, tagged)
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


def _inputs(settings: BuildStarterSettings, manifest: Manifest, plan: BuildPlan) -> str:
    """The build inputs' hash, where they can be read before the build: a commit of the stack's
    CodeCommit or GitHub repository."""
    source = source_of(settings)
    if source is None or not is_commit(plan.source_version):
        return ""
    return known_inputs(source, manifest, plan.service, plan.source_version)


def _reuse(settings: BuildStarterSettings, plan: BuildPlan, inputs: str) -> tuple[StartResult | None, bool]:
    """When an image was built from these inputs: it is this commit's image. It gets the tags a
    build would have pushed (the commit's tag and `latest`), each PutImage an ECR push event as a
    build's push is, and the ledger records the commit as REUSED. None when no image has them;
    and whether an image carries the commit's tag already (a build of it from other inputs)."""
    repository = settings.target.repository(plan.service)
    wanted = inputs_tag(inputs)
    sha = short_sha(plan.source_version)
    found = ecr.images_by_tag(repository, [wanted, sha])
    image, holder = found.get(wanted), found.get(sha)
    if image is None:
        return None, holder is not None
    if holder is not None and (holder.digest == image.digest or any(
            is_sha_tag(t) and commit_of_tag(t) == sha for t in ecr.describe_image(repository, image.digest).tags)):
        # Built (or reused) at this commit before: under the commit's tag, or (a rebuild from other
        # inputs than the first build's, e.g. a moved base tag) under its `<sha>-b<N>`.
        logger.info("already built at this commit from the same inputs", extra={"service": plan.service})
        return StartResult(plan.service, "already built", image=image.digest), True
    table, pk = settings.ledger_table, settings.ledger_key(plan.service)
    planned = ledger.commit_planned(table, pk, plan.source_version, ledger.now())
    # The commit's own tag, unless an image of another build of this commit has it (a rebuild's).
    attempt = planned.attempt + 1 if holder is not None else max(planned.attempt, 1)
    tag = commit_tag(plan.source_version, attempt)
    # The ledger first: the push events of the tags below may reach the image events function at
    # once, and it asks the ledger whether the commit reused this digest. A failed PutImage fails
    # the start, and its retry writes the same record and tags again.
    ledger.commit_reused(table, pk, ReuseRecord(commit=plan.source_version, digest=image.digest, inputs=inputs,
                                                tag=tag, attempt=attempt, at=ledger.now()))
    # `latest` first, the commit tag last: once the commit tag is on the image, the reuse is whole
    # (a retry after a failure between the two finds the commit tag missing and puts both again).
    for name in (LATEST, tag):
        ecr.put_tag(repository, image, name)
    logger.info("reused the image built from the same inputs", extra={
        "service": plan.service, "digest": image.digest, "tags": [tag, LATEST]})
    return StartResult(plan.service, "reused", image=image.digest), True
