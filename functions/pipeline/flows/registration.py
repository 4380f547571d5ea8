"""Register an image as a new task-definition revision: once per family and digest, never
older over newer, never a duplicate of the latest revision."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from functools import partial
from typing import Literal

from aws_lambda_powertools import Logger

from pipeline.adapters import ecr, ecs, ledger
from pipeline.domain.manifest import Manifest
from pipeline.domain.naming import commit_of_tag, is_sha_tag
from pipeline.domain.records import CommitRecord, CurrentRecord
from pipeline.domain.task_definitions import (
    Image,
    image_digest_of,
    render_task_definition,
    revise_task_definition,
)
from pipeline.flows.idempotency import once
from pipeline.flows.retention import mark_live, retire_revisions
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


def register_image(settings: ImageEventsSettings, manifest: Manifest, service: str, digest: str,
                   tag: str | None = None) -> Registration:
    """`tag`: the commit tag a reused image got (build avoidance); that commit's registration of
    the digest is one of its own, after the digest's first."""
    family = settings.target.family(service)
    key = f"register:{family}@{digest}" + (f"#{tag}" if tag else "")
    effect = once(key, partial(_register, settings, manifest, service, digest, tag))
    if effect.state == "in flight":
        return Registration("in flight", family, digest, reason="another invocation is registering this digest")
    registration = Registration(**effect.value) if effect.value else Registration("in flight", family, digest)
    if effect.state == "replayed" and registration.outcome == "registered":
        return replace(registration, outcome="already registered")
    return registration


def _register(settings: ImageEventsSettings, manifest: Manifest, service: str, digest: str,
              tag: str | None = None) -> dict:
    target = settings.target
    spec = manifest.service(service)
    repository = target.repository(service)
    family = target.family(service)
    table = settings.ledger_table
    pk = settings.ledger_key(service)

    stored = ecr.describe_image(repository, digest)  # ImageGoneError when it was deleted
    sha = tag if tag in stored.tags else next((t for t in stored.tags if is_sha_tag(t)), None)
    if sha is None and not settings.register_manual_pushes:
        reason = f"tags {', '.join(stored.tags) or '(none)'}: no commit tag, so not a build of a commit"
        logger.warning("image without a commit tag not registered", extra={"family": family, "digest": digest,
                                                                          "reason": reason})
        return asdict(Registration("not a commit image", family, digest, reason=reason))
    image = Image(target.repository_uri(service), digest, sha)

    current = ledger.read_current(table, pk)
    commit = ledger.read_commit(table, pk, commit_of_tag(sha)) if sha else None  # a rebuild's tag: its commit
    if current and current.digest != digest:
        reason = _older(commit, current, stored.pushed_at)
        if reason:
            logger.info("older image not registered", extra={"family": family, "digest": digest, "reason": reason})
            return asdict(Registration("older than current", family, digest, reason=reason))

    latest = ecs.latest_task_definition(family)
    if latest and image_digest_of(latest[0], image.repository_uri) == digest:
        mark_live(settings, service, digest, stored.tags)
        return _already_current(family, digest, latest[0])
    arguments = render_task_definition(target, spec, image, execution_role_arn=settings.task_execution_role_arn)
    if latest is not None and settings.task_definition_mode == "clone":
        revised = revise_task_definition(latest[0], arguments, latest[1])
        if revised is None:  # the latest revision already holds the image and the manifest's fields
            mark_live(settings, service, digest, stored.tags)
            return _already_current(family, digest, latest[0])
        arguments = revised
    arn, revision = ecs.register_task_definition(arguments)
    ledger.registered(table, pk, CurrentRecord(
        digest=digest, revision=revision, revision_arn=arn, registered_at=ledger.now(), tag=sha or "",
        pushed_at=stored.pushed_at, commit=commit.commit if commit else "", planned_at=commit.planned_at if commit
        else ""))
    logger.info("revision registered", extra={"family": family, "revision": revision, "digest": digest})
    mark_live(settings, service, digest, stored.tags)
    retire_revisions(settings, service, revision)
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
