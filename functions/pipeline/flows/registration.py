"""Register an image as a new task-definition revision: once per family and digest, never
older over newer, never a duplicate of the latest revision."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Literal

from aws_lambda_powertools import Logger

from pipeline.adapters import ecr, ecs, ledger
from pipeline.domain.manifest import Manifest, ServiceSpec
from pipeline.domain.naming import commit_of_tag, is_sha_tag
from pipeline.domain.records import CommitRecord, CurrentRecord, ImageRecord, RegistrationClaim
from pipeline.domain.task_definitions import (
    Image,
    image_digest_of,
    render_task_definition,
    revise_task_definition,
)
from pipeline.flows.idempotency import deadline, once
from pipeline.flows.retention import mark_live, retire_revisions
from pipeline.flows.rollout import request_rollout
from pipeline.settings import ImageEventsSettings

logger = Logger(child=True)

RegistrationOutcome = Literal["registered", "already registered", "already current", "older than current",
                              "in flight", "not a commit image"]


@dataclass(frozen=True)
class Registration:
    outcome: RegistrationOutcome
    family: str
    digest: str
    revision: int | None = None
    arn: str | None = None
    reason: str = ""


class RegistrationBusyError(RuntimeError):
    """Another image of the service is being registered: this event fails and is retried."""


# How long a registration that failed after ECS registered its revision keeps the service's
# lease: past Lambda's retries of the event (one minute, then two), so its retry records that
# revision before any other image of the service is registered. No longer: if that failure was
# the event's last attempt, the other images of the service wait this out (their own retries
# may run out meanwhile: then they are dead-lettered, to be replayed).
LEASE_HELD_AFTER_FAILURE = timedelta(minutes=4)


def new_claim() -> RegistrationClaim:
    """A claim for this invocation, good until its deadline."""
    return RegistrationClaim(token=uuid.uuid4().hex, until=deadline().isoformat())


def register_image(settings: ImageEventsSettings, manifest: Manifest, service: str, digest: str, *,
                   tags: Collection[str] = (), pushed_at: str = "",
                   claimed: tuple[RegistrationClaim, ImageRecord] | None = None,
                   reused_tag: str | None = None) -> Registration:
    """Register the image once: the invocation holding the image's registration claim in the
    ledger registers it, and the ledger's write of the revision ends the claim (the ledger is
    the idempotency record: no separate one). `claimed`: the claim made already, with the
    image record that write returned (a push claims with its own ledger write). `tags` and
    `pushed_at`, when the caller knows them (a push event: its tag, its time, and the tags the
    ledger holds), spare ECR's DescribeImages when they include a commit tag. `reused_tag`: the
    commit tag a reused image got (build avoidance, a revert); that commit's registration of the
    digest is one of its own, after the digest's first, so it is made once per digest and tag
    (an idempotency record), not under the image's claim."""
    family = settings.target.family(service)
    if reused_tag:
        effect = once(f"register:{family}@{digest}#{reused_tag}",
                      partial(_register, settings, manifest, service, digest, (reused_tag,), pushed_at, reused_tag))
        if effect.state == "in flight" or not effect.value:
            return Registration("in flight", family, digest, reason="another invocation is registering this digest")
        registration = Registration(**effect.value)
        if effect.state == "replayed" and registration.outcome == "registered":
            return replace(registration, outcome="already registered")
        return registration
    table, pk = settings.ledger_table, settings.ledger_key(service)
    if claimed is None:
        claim = new_claim()
        image = ledger.claim_registration(table, pk, digest, claim)
    else:
        claim, image = claimed
    if image.revision:
        return Registration("already registered", family, digest, image.revision, image.revision_arn or None)
    if image.registering != claim.token:
        if image.registering_until > datetime.now(UTC).isoformat() or not ledger.take_over_registration(
                table, pk, digest, image.registering, claim):
            return Registration("in flight", family, digest, reason="another invocation is registering this digest")
    try:
        registration = Registration(**_register(settings, manifest, service, digest, tuple(tags), pushed_at))
    except BaseException:
        ledger.release_registration(table, pk, digest, claim)  # its retry (or another event) registers it
        raise
    if registration.outcome != "registered":  # nothing registered: the next event may
        ledger.release_registration(table, pk, digest, claim)
    return registration


def _register(settings: ImageEventsSettings, manifest: Manifest, service: str, digest: str,
              known_tags: tuple[str, ...] = (), known_pushed_at: str = "", prefer: str | None = None) -> dict:
    target = settings.target
    spec = manifest.service(service)  # UnknownServiceError before anything
    repository = target.repository(service)
    family = target.family(service)
    table = settings.ledger_table
    pk = settings.ledger_key(service)

    # What the image is: from the push event and the ledger when they name a commit tag (the
    # image's manifest, read now for its live tag, also proves it still exists); otherwise
    # from ECR (DescribeImages). Either way a deleted image is ImageGoneError, before anything.
    stored_manifest: ecr.StoredManifest | None = None
    sha = next((t for t in known_tags if is_sha_tag(t)), None)
    if sha and known_pushed_at:
        stored_manifest = ecr.image_manifest(repository, digest)
        tags, pushed_at = tuple(known_tags), known_pushed_at
    else:
        stored = ecr.describe_image(repository, digest)
        tags, pushed_at = stored.tags, stored.pushed_at
        sha = prefer if prefer in tags else next((t for t in tags if is_sha_tag(t)), None)
    if sha is None and not settings.register_manual_pushes:
        reason = f"tags {', '.join(tags) or '(none)'}: no commit tag, so not a build of a commit"
        logger.warning("image without a commit tag not registered", extra={"family": family, "digest": digest,
                                                                          "reason": reason})
        return asdict(Registration("not a commit image", family, digest, reason=reason))
    image = Image(target.repository_uri(service), digest, sha)

    # One registration of the service at a time (the ledger's lease): what follows reads the
    # current revision, registers and records it, and an older image's registration must not
    # interleave with a newer one's. Held by another: this event fails, and Lambda retries it
    # (a minute later, then two).
    lease = new_claim()
    if not ledger.lease_registration(table, pk, digest, lease):
        raise RegistrationBusyError(f"another image of {service} is being registered now; this event is retried")
    progress = _Progress()
    try:
        result = _register_leased(settings, manifest, spec, digest, image, tags, pushed_at, stored_manifest,
                                  lease, progress)
    except BaseException:
        # Failed after ECS registered the revision: the lease stays (for this digest) past the
        # event's retries, so that no other image is registered before the retry records it.
        hold = (datetime.now(UTC) + LEASE_HELD_AFTER_FAILURE).isoformat() if progress.registered else None
        ledger.release_lease(table, pk, lease, hold_until=hold)
        raise
    if not progress.released:
        ledger.release_lease(table, pk, lease)
    return result


@dataclass
class _Progress:
    registered: bool = False  # ECS registered the revision (RegisterTaskDefinition returned)
    released: bool = False  # the ledger's record of the revision gave the lease up


def _register_leased(settings: ImageEventsSettings, manifest: Manifest, spec: ServiceSpec, digest: str,
                     image: Image, tags: tuple[str, ...], pushed_at: str, stored_manifest: ecr.StoredManifest | None,
                     lease: RegistrationClaim, progress: _Progress) -> dict:
    target = settings.target
    service = spec.name
    family = target.family(service)
    table = settings.ledger_table
    pk = settings.ledger_key(service)
    sha = image.sha_tag

    # a rebuild's tag: its commit
    # (and, for retention, in the same request: what it deregistered and the in-use tags it put)
    reads = ledger.read_current_and_commit(table, pk, commit_of_tag(sha) if sha else None,
                                           retired=settings.delete_inactive_after_days > 0, in_use_tags=True)
    current, commit = reads.current, reads.commit
    if current and current.digest != digest:
        reason = _older(commit, current, pushed_at)
        if reason:
            logger.info("older image not registered", extra={"family": family, "digest": digest, "reason": reason})
            return asdict(Registration("older than current", family, digest, reason=reason))

    def record(revision: int, arn: str) -> CurrentRecord:
        return CurrentRecord(digest=digest, revision=revision, revision_arn=arn, registered_at=ledger.now(),
                             tag=sha or "", pushed_at=pushed_at, commit=commit.commit if commit else "",
                             planned_at=commit.planned_at if commit else "")

    def already_current(definition: dict) -> dict:
        """The family's latest revision runs this digest: a retry after the revision was registered
        and something after it failed. What follows the registration is done again (each once)."""
        revision, arn = int(definition["revision"]), str(definition["taskDefinitionArn"])
        progress.registered = True  # ECS has this digest's revision: a failure below keeps the lease for it
        mark_live(settings, service, digest, tags, manifest=stored_manifest)
        request_rollout(settings, service, family, revision, arn)
        if current is None or current.digest != digest or current.revision != revision:
            ledger.registered(table, pk, record(revision, arn), lease)  # registered, but the ledger never heard
            progress.released = True
        return _already_current(family, digest, definition)

    latest = ecs.latest_task_definition(family)
    if latest and image_digest_of(latest[0], image.repository_uri) == digest:
        return already_current(latest[0])
    arguments = render_task_definition(target, spec, image, execution_role_arn=settings.task_execution_role_arn)
    if latest is not None and settings.task_definition_mode == "clone":
        revised = revise_task_definition(latest[0], arguments, latest[1])
        if revised is None:  # the latest revision already holds the image and the manifest's fields
            return already_current(latest[0])
        arguments = revised
    arn, revision = ecs.register_task_definition(arguments)
    progress.registered = True
    # What follows a registration (the live tag, the rollout request) comes before the ledger's
    # record of it: once the ledger has the revision, an event's retry stops at "already
    # registered", so a step after that write that failed would never be done.
    mark_live(settings, service, digest, tags, manifest=stored_manifest)
    request_rollout(settings, service, family, revision, arn)
    registered = record(revision, arn)
    ledger.registered(table, pk, registered, lease)
    progress.released = True
    logger.info("revision registered", extra={"family": family, "revision": revision, "digest": digest})
    retire_revisions(settings, service, revision, current=registered, retired=reads.retired,
                     in_use_tags=reads.in_use_tags, manifest=manifest)
    return asdict(Registration("registered", family, digest, revision, arn))


def _older(commit: CommitRecord | None, current: CurrentRecord, pushed_at: str) -> str:
    """Why the image is older than the registered one, or "" when it is not. By the build
    ledger's order of commits (when shipline first planned each) when it knows both; otherwise,
    by push time."""
    if commit and commit.planned_at and current.planned_at:
        if commit.planned_at < current.planned_at:
            return (f"commit {commit.commit[:7]} was planned at {commit.planned_at}, before the registered commit "
                    f"{current.commit[:7]} ({current.planned_at})")
        return ""
    if pushed_at and current.pushed_at and pushed_at < current.pushed_at:
        return f"pushed {pushed_at}, before the registered {current.digest} ({current.pushed_at})"
    return ""


def _already_current(family: str, digest: str, definition: dict) -> dict:
    return asdict(Registration("already current", family, digest, definition.get("revision"),
                               definition.get("taskDefinitionArn")))
