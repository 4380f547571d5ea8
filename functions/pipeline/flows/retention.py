"""After a registration: the registered image carries `live-<environment>`, the family's
ACTIVE revisions beyond the newest `RevisionsToKeep` are deregistered, and (with
`DeleteInactiveAfterDays`) the revisions retention deregistered that many days ago are deleted.

Retention is housekeeping: a deregistration that fails (throttled, or anything else) is one
warning and the registration stands; what is left is retried by the next registration.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from aws_lambda_powertools import Logger

from pipeline.adapters import ecr, ecs, ledger
from pipeline.adapters.errors import AwsCallError
from pipeline.domain.naming import live_tag
from pipeline.domain.records import CurrentRecord
from pipeline.domain.retention import revisions_to_delete, revisions_to_deregister
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
    deleted: tuple[int, ...] = ()


def retire_revisions(settings: ImageEventsSettings, service: str, registered: int, *,
                     current: CurrentRecord | None = None, retired: Mapping[int, str] | None = None) -> Retention:
    """Deregister the family's ACTIVE revisions beyond the newest `RevisionsToKeep`, except the
    one just `registered` and the one the ledger records as the service's current revision
    (another invocation may have registered a newer image since; `current`, when the caller
    has just written it, is not read again). Stops at the first failure (a throttled ECS is not
    pressed further). Then delete what is due (see delete_retired).

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
    failed: tuple[int, ...] = ()
    for revision in retire:
        try:
            ecs.deregister_task_definition(family, revision)
        except AwsCallError as exc:
            logger.warning("revision not deregistered; the next registration tries again",
                           extra={"family": family, "revision": revision, "error": str(exc)})
            failed = tuple(r for r in retire if r not in done)
            break
        done.append(revision)
    if done:
        logger.info("old revisions deregistered", extra={"family": family, "revisions": done})
    deleted = delete_retired(settings, service, protected, done, retired)
    return Retention(tuple(done), failed, deleted)


def delete_retired(settings: ImageEventsSettings, service: str, protected: Collection[int],
                   deregistered: Collection[int], retired: Mapping[int, str] | None) -> tuple[int, ...]:
    """With `DeleteInactiveAfterDays` (0: off, nothing is written or asked): note the revisions
    just deregistered in the ledger, and delete (DeleteTaskDefinitions, at most 10 a run) those
    retention deregistered at least that many days ago. Only revisions shipline deregistered
    are deleted; one deregistered by hand stays INACTIVE. Housekeeping, like deregistering: a
    failure is a warning, and the next registration tries again."""
    days = settings.delete_inactive_after_days
    if days < 1:
        return ()
    family = settings.target.family(service)
    table, pk = settings.ledger_table, settings.ledger_key(service)
    try:
        known = dict(retired) if retired is not None else ledger.read_retired(table, pk)
        if deregistered:
            now = ledger.now()
            ledger.revisions_retired(table, pk, {r: now for r in deregistered})
        due = revisions_to_delete(known, datetime.now(UTC), days, protected)
        if not due:
            return ()
        deleted, refused = ecs.delete_task_definitions(family, due)
        # Refused: still ACTIVE (registered again? a revision cannot be) or no longer there: forget both.
        ledger.revisions_forgotten(table, pk, deleted + [r for r in refused if r in due])
    except AwsCallError as exc:
        logger.warning("inactive revisions not deleted; the next registration tries again",
                       extra={"family": family, "error": str(exc)})
        return ()
    if refused:
        logger.warning("ECS refused to delete some revisions", extra={"family": family, "refused": refused})
    if deleted:
        logger.info("inactive revisions deleted", extra={"family": family, "revisions": deleted})
    return tuple(deleted)
