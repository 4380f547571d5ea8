"""After a registration: the registered image carries `live-<environment>`, and the family's
ACTIVE revisions beyond the newest `RevisionsToKeep` are deregistered.

Retention is housekeeping: a deregistration that fails (throttled, or anything else) is one
warning and the registration stands; what is left is retried by the next registration.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from aws_lambda_powertools import Logger

from pipeline.adapters import ecr, ecs, ledger
from pipeline.adapters.errors import AwsCallError
from pipeline.domain.naming import live_tag
from pipeline.domain.records import CurrentRecord
from pipeline.domain.retention import revisions_to_deregister
from pipeline.settings import ImageEventsSettings

logger = Logger(child=True)


def mark_live(settings: ImageEventsSettings, service: str, digest: str, tags: Collection[str], *,
              manifest: ecr.StoredManifest | None = None) -> None:
    """Make sure the registered digest carries `live-<environment>`. A failure to tag fails the
    invocation (its retry finds the revision current and tags again): until tagged, the live
    image is protected only by its commit tag's place in the count. `manifest`, when the caller
    read it already, is not read again."""
    tag = live_tag(settings.environment)
    if tag in tags:
        return
    repository = settings.target.repository(service)
    outcome = ecr.tag_image(repository, digest, tag, manifest=manifest)
    if outcome == "tags immutable":
        logger.warning("live tag not moved: the repository's tags are immutable", extra={
            "repository": repository, "digest": digest, "tag": tag})


@dataclass(frozen=True)
class Retention:
    deregistered: tuple[int, ...] = ()
    failed: tuple[int, ...] = ()


def retire_revisions(settings: ImageEventsSettings, service: str, registered: int, *,
                     current: CurrentRecord | None = None) -> Retention:
    """Deregister the family's ACTIVE revisions beyond the newest `RevisionsToKeep`, except the
    one just `registered` and the one the ledger records as the service's current revision
    (another invocation may have registered a newer image since; `current`, when the caller
    has just written it, is not read again). Stops at the first failure (a throttled ECS is not
    pressed further).

    Revision numbers start at 1 and only grow, so a family whose newest revision is at most
    `RevisionsToKeep` cannot hold more ACTIVE revisions than that: then nothing is listed. (A
    newer revision registered meanwhile by another invocation runs its own retention.)"""
    family = settings.target.family(service)
    if registered <= settings.revisions_to_keep:
        return Retention()
    if current is None:
        current = ledger.read_current(settings.ledger_table, settings.ledger_key(service))
    protected = {registered} | ({current.revision} if current else set())
    try:
        active = ecs.active_revisions(family)
    except AwsCallError as exc:
        logger.warning("revision retention skipped: the revisions could not be listed",
                       extra={"family": family, "error": str(exc)})
        return Retention()
    retire = revisions_to_deregister(active, settings.revisions_to_keep, protected)
    done: list[int] = []
    for revision in retire:
        try:
            ecs.deregister_task_definition(family, revision)
        except AwsCallError as exc:
            logger.warning("revision not deregistered; the next registration tries again",
                           extra={"family": family, "revision": revision, "error": str(exc)})
            return Retention(tuple(done), tuple(r for r in retire if r not in done))
        done.append(revision)
    if done:
        logger.info("old revisions deregistered", extra={"family": family, "revisions": done})
    return Retention(tuple(done))
