"""Register an image as a new task-definition revision: once per family and digest, never
older over newer, never a duplicate of the latest revision."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from functools import partial

from aws_lambda_powertools import Logger

from pipeline.adapters import ecr, ecs, ledger
from pipeline.domain.manifest import Manifest
from pipeline.domain.naming import is_sha_tag
from pipeline.domain.task_definitions import (
    Image,
    image_digest_of,
    render_task_definition,
    revise_task_definition,
)
from pipeline.flows.idempotency import once
from pipeline.settings import Settings

logger = Logger(child=True)


@dataclass(frozen=True)
class Registration:
    outcome: str  # registered | already registered | already current | older than current | in flight
    family: str
    digest: str
    revision: int | None = None
    arn: str | None = None
    reason: str = ""


def register_image(settings: Settings, manifest: Manifest, service: str, digest: str) -> Registration:
    family = settings.target.family(service)
    effect = once(f"register:{family}@{digest}", partial(_register, settings, manifest, service, digest))
    if effect.state == "in flight":
        return Registration("in flight", family, digest, reason="another invocation is registering this digest")
    registration = Registration(**effect.value) if effect.value else Registration("in flight", family, digest)
    if effect.state == "replayed" and registration.outcome == "registered":
        return replace(registration, outcome="already registered")
    return registration


def _register(settings: Settings, manifest: Manifest, service: str, digest: str) -> dict:
    target = settings.target
    spec = manifest.service(service)
    repository = target.repository(service)
    family = target.family(service)
    table = settings.require("ledger_table")
    pk = settings.ledger_key(service)

    stored = ecr.describe_image(repository, digest)  # ImageGoneError when it was deleted
    image = Image(target.repository_uri(service), digest, next((t for t in stored.tags if is_sha_tag(t)), None))

    current = ledger.read(table, pk, "current")
    if current and current.get("digest") != digest and stored.pushed_at and \
            stored.pushed_at < str(current.get("pushedAt", "")):
        reason = f"pushed {stored.pushed_at}, before the registered {current['digest']} ({current['pushedAt']})"
        logger.info("older image not registered", extra={"family": family, "digest": digest, "reason": reason})
        return asdict(Registration("older than current", family, digest, reason=reason))

    latest = ecs.latest_task_definition(family)
    if latest and image_digest_of(latest[0], image.repository_uri) == digest:
        return _already_current(family, digest, latest[0])
    if latest is None or settings.task_definition_mode == "render":
        arguments = render_task_definition(
            target, spec, image, execution_role_arn=settings.require("task_execution_role_arn")
        )
    else:
        revised = revise_task_definition(latest[0], image, latest[1])
        if revised is None:  # every container from this repository already runs the digest
            return _already_current(family, digest, latest[0])
        arguments = revised
    arn, revision = ecs.register_task_definition(arguments)
    now = ledger.now()
    ledger.record(table, pk, f"image#{digest}", {"revision": revision, "revisionArn": arn, "registeredAt": now})
    ledger.record(table, pk, "current", {
        "digest": digest, "tag": image.sha_tag or "", "revision": revision, "revisionArn": arn,
        "registeredAt": now, "pushedAt": stored.pushed_at,
    })
    logger.info("revision registered", extra={"family": family, "revision": revision, "digest": digest})
    return asdict(Registration("registered", family, digest, revision, arn))


def _already_current(family: str, digest: str, definition: dict) -> dict:
    return asdict(Registration("already current", family, digest, definition.get("revision"),
                               definition.get("taskDefinitionArn")))
