"""Start the planned builds: each once per commit and service, all attempted even when one
fails to start.

A plan of a commit is started with three calls after build avoidance's lookup: the commit's
ledger item is noted and read (`commit_planned`, one UpdateItem that returns it), StartBuild,
and one TransactWriteItems (`build_started`) writing the build's item and, on the commit's
item, the attempt, its build and the plan's entry (its idempotency key -> the build). The
commit's item is the plan's idempotency record (no Powertools record): a plan whose key it
holds is "already started"; the transaction holds only while the commit is as read and holds
no build for the key, so of two starts racing one writes, and the other finds in the
cancellation (ReturnValuesOnConditionCheckFailure) the build that holds its key. A duplicate
start of the same plan gets the same build from StartBuild anyway: its idempotencyToken is
derived from the key (less the inputs) and the attempt, and CodeBuild answers a repeated token
with the build it started for five minutes ("idempotencyToken ... is valid for 5 minutes. If
you repeat the StartBuild request with the same token, but change a parameter, CodeBuild
returns a parameter mismatch error", StartBuild in the CodeBuild API Reference,
https://docs.aws.amazon.com/codebuild/latest/APIReference/API_StartBuild.html).
A plan of a branch (GitHub's schedule when its API does not name the head) has no commit item:
it keeps a Powertools idempotency record (`once`).

What a failure at each point leaves, and what the retry (the message back after the starter's
backoff, or after the queue's visibility timeout of 300 s when the invocation died) does; the
Powertools record it replaces is compared ("before"):
- before StartBuild: nothing started; the retry starts it. Before: the record stayed
  INPROGRESS until the invocation's deadline (or was deleted on an error), and a retry before
  then found the start "in flight" and came back later.
- after StartBuild, before the transaction (the write failed, or the invocation died): the
  build runs, unrecorded. A retry within five minutes of the StartBuild gets the same build
  (same token, same parameters) and records it; a retry later than that starts a second build.
  Before: the same, since the record was deleted on the error or expired at the deadline
  (30 s), and the retry called StartBuild again with the same token. If the commit changed in
  between (another plan took the attempt), the retry's parameters differ (its tags), CodeBuild
  refuses the token until it expires, and then starts a second build, as before.
- after the transaction (the invocation died before returning): recorded; the retry finds the
  key and starts nothing. Before: the record stayed INPROGRESS until the deadline, and a later
  retry ran the effect again (StartBuild with the same token, within five minutes the same
  build, and STARTED written again over the build's item).
- two different plans of one commit racing (a push and a forced request at once): both
  builds run, as before (each has its own token), and both computed the same attempt; the
  first write takes the attempt, and the other build is noted for its plan only
  ("superseded": its duplicates start nothing, but it is not the commit's latest attempt).
- two deliveries of one start racing, one able to read the commit's inputs and one not (a
  transient failure: GitHub's rate limit, the token's secret throttled, a registry out of
  reach): two plan keys (one with the inputs), one token (the key less the inputs, and the
  attempt both read), so CodeBuild answers the second StartBuild with its parameter mismatch
  error (INPUTS_HASH differs) and starts nothing; that start fails and comes back after the
  starter's backoff, when the commit's item names the first's build ("already started", the
  running build of the commit). Before, each had its own token and both builds ran. The build
  that runs is the one that started first, with or without the inputs, as when the two came
  one after the other.
A plan's entry is kept for the idempotency window (IDEMPOTENCY_DAYS, as the Powertools
record's expiry was) and dropped by a later start of the commit after it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Literal

from aws_lambda_powertools import Logger

from pipeline.adapters import codebuild, ecr, ledger, logs
from pipeline.domain.builds import BuildPlan
from pipeline.domain.inputs import inputs_tag
from pipeline.domain.manifest import Manifest
from pipeline.domain.naming import LATEST, commit_of_tag, commit_tag, is_commit, is_sha_tag, short_sha
from pipeline.domain.records import BUILD_FAILED, BUILT, STARTED, BuildRecord, CommitRecord, ReuseRecord
from pipeline.flows.idempotency import once
from pipeline.flows.inputs import known_inputs, source_of
from pipeline.flows.repositories import ensure_repositories
from pipeline.settings import BuildStarterSettings

logger = Logger(child=True)


def _token(settings: BuildStarterSettings, project: str, plan: BuildPlan, attempt: int = 0) -> str:
    """StartBuild's idempotency token, before hashing: the stack's names (two stacks in one account
    never share one) and the plan's key; for a commit, its key less the inputs, and the attempt.
    Two starts of one attempt of a commit that differ only in whether they could read the inputs
    then share a token: CodeBuild refuses the second one's other parameters (INPUTS_HASH) instead
    of starting a second build (a plan with other inputs that builds again has another attempt)."""
    key = f"{replace(plan, inputs='').idempotency_key}#attempt:{attempt}" if attempt else plan.idempotency_key
    return f"{settings.project}/{settings.environment}/{project}/{key}"


def _start_branch(settings: BuildStarterSettings, project: str, plan: BuildPlan) -> str:
    """The effect for a plan of a branch: inside the Powertools guard, so a replay neither starts
    it again nor writes "STARTED" over the build's later status."""
    build_id = codebuild.start_build(project, plan, token=_token(settings, project, plan))
    ledger.build_started(settings.ledger_table, settings.ledger_key(plan.service), BuildRecord(
        build_id=build_id, status=STARTED, commit=plan.source_version, trigger=plan.trigger, at=ledger.now()), 1)
    logger.info("build started", extra={"service": plan.service, "build_id": build_id})
    return build_id


def _start_commit(settings: BuildStarterSettings, plan: BuildPlan, attempt: int, planned: CommitRecord) -> StartResult:
    """Start a plan of a commit once: the commit's ledger item is its idempotency record."""
    earlier = planned.starts.get(plan.idempotency_key)
    if earlier is not None:  # a duplicate delivery (or the retry of a start that was recorded)
        logger.info("already started", extra={"service": plan.service, "build_id": earlier.build})
        return StartResult(plan.service, "already started", earlier.build)
    project = settings.build_project
    build_id = codebuild.start_build(project, plan, token=_token(settings, project, plan, attempt))
    at = ledger.now()
    window = (datetime.now(UTC) - timedelta(days=settings.idempotency_days)).isoformat()
    noted = ledger.build_started(settings.ledger_table, settings.ledger_key(plan.service), BuildRecord(
        build_id=build_id, status=STARTED, commit=plan.source_version, trigger=plan.trigger, at=at),
        attempt, key=plan.idempotency_key, read=planned, forget_before=window)
    if noted.state == "noted before":  # a duplicate start, concurrent with this one, wrote first
        if noted.build != build_id:  # its StartBuild more than five minutes before: the token had expired
            logger.warning("a duplicate start of this plan recorded another build; this one runs unrecorded",
                           extra={"service": plan.service, "build_id": build_id, "recorded": noted.build})
        return StartResult(plan.service, "already started", noted.build)
    if noted.state == "superseded":
        logger.warning("another plan of this commit started a build at the same time and is its latest attempt",
                       extra={"service": plan.service, "build_id": build_id})
    logger.info("build started", extra={"service": plan.service, "build_id": build_id})
    return StartResult(plan.service, "started", build_id)


def _attempt(settings: BuildStarterSettings, plan: BuildPlan,
             tagged: bool = False) -> tuple[BuildPlan | None, int, CommitRecord | None]:
    """What this plan means given the commit's builds so far: nothing to do (built already,
    and not forced), a retry after a failed build, or the first build; and the commit's ledger
    item it was decided on (None for a branch)."""
    if not is_commit(plan.source_version):
        return plan, 1, None
    planned = ledger.commit_planned(settings.ledger_table, settings.ledger_key(plan.service),
                                   plan.source_version, ledger.now())
    if plan.occasion:  # the schedule, or a forced request: a build of its own
        return plan, planned.attempt + 1, planned
    if planned.last_status == STARTED and planned.last_build:
        # The latest attempt runs, as far as the commit's item says; its end may have been
        # recorded on its build's item alone (it ended before its start was noted on the commit,
        # whose write failed and was retried): the build's item says. One read, only while the
        # commit's item says a build runs (a late duplicate, a request during the build).
        ended = ledger.build_status(settings.ledger_table, settings.ledger_key(plan.service), planned.last_build)
        if ended in BUILD_FAILED | BUILT:
            planned = replace(planned, last_status=ended)
    if plan.inputs and (planned.built or tagged):  # built, but no image has these inputs (a base tag moved)
        return plan, planned.attempt + 1, planned
    if planned.built:
        return None, planned.attempt, planned
    if planned.failed:  # a new request after a failed build: one new build per failure
        return replace(plan, after=planned.last_build), planned.attempt + 1, planned
    return plan, max(planned.attempt, 1), planned


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
    plan, attempt, commit = _attempt(settings, planned, tagged)
    if plan is None:
        logger.info("already built at this commit (trigger --force builds it again)",
                    extra={"service": planned.service})
        return StartResult(planned.service, "already built")
    if attempt > 1 and plan.tags:  # a rebuild gets tags of its own: the first image keeps its tag
        plan = replace(plan, tags=(commit_tag(plan.source_version, attempt), LATEST))
    if (commit is not None and commit.last_status == STARTED and not tagged and not plan.occasion
            and not plan.after and plan.idempotency_key not in commit.starts):
        # A build of this commit runs already (started, and no image has the commit's tag yet),
        # from another plan of it (one started before its inputs could be read, say): its image
        # is the commit's, so a duplicate whose plan differs only in what it could read starts
        # nothing. (A forced request or a retry after a failure has an occasion or an `after` of
        # its own, and builds; once the build pushed, a plan with other inputs builds again.)
        logger.info("a build of this commit is running already", extra={"service": plan.service,
                                                                        "build_id": commit.last_build})
        return StartResult(plan.service, "already started", commit.last_build)
    if commit is not None:
        return _start_commit(settings, plan, attempt, commit)
    effect = once(plan.idempotency_key, partial(_start_branch, settings, settings.build_project, plan))
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
