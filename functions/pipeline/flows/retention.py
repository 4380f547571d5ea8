"""After a registration: the registered image carries `live-<environment>`, the family's
ACTIVE revisions beyond the newest `RevisionsToKeep` are deregistered unless in use (by the ECS
service, its scheduled tasks, the ledger's current or running revision), and (with
`DeleteInactiveAfterDays`) the revisions retention deregistered that many days ago are deleted.
When it read what is in use, the image of each revision in use carries
`live-<environment>-r<revision>`, which the lifecycle policy never expires, and an image no
revision in use runs any more loses it.

Retention is housekeeping: a deregistration that fails (throttled, or anything else) is one
warning and the registration stands; what is left is retried by the next registration. When
what is in use cannot be read, nothing is deregistered or deleted (one warning).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, partial
from typing import Literal

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError

from pipeline.adapters import ecr, ecs, ledger, schedules, sns
from pipeline.adapters.ecs import ServiceMissingError
from pipeline.adapters.errors import AwsCallError
from pipeline.adapters.schedules import ScheduledTaskMissingError
from pipeline.domain.manifest import Manifest
from pipeline.domain.naming import in_use_tag, live_tag
from pipeline.domain.notifications import untagged_in_use_notification
from pipeline.domain.records import CurrentRecord
from pipeline.domain.retention import (
    InUse,
    in_use_tag_changes,
    may_remove_tag,
    revisions_named,
    revisions_to_delete,
    revisions_to_deregister,
)
from pipeline.domain.task_definitions import image_reference_of, resolved_digest_of
from pipeline.flows.idempotency import once
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


RetentionSkip = Literal["revisions not listed", "use not known"]


@dataclass(frozen=True)
class Retention:
    deregistered: tuple[int, ...] = ()
    failed: tuple[int, ...] = ()
    deleted: tuple[int, ...] = ()
    kept_in_use: tuple[int, ...] = ()  # beyond the newest N, kept because something uses them
    skipped: RetentionSkip | None = None  # nothing deregistered or deleted this time, and why
    tagged_in_use: tuple[int, ...] = ()  # revisions whose images got their in-use tag now
    untagged: tuple[int, ...] = ()  # revisions no longer in use whose images lost their in-use tag now


class UseUnknownError(RuntimeError):
    """What uses the family's revisions could not be read (throttled, denied, a 5xx): retention
    deregisters nothing this time, and the next registration reads again."""


def retire_revisions(settings: ImageEventsSettings, service: str, registered: int, *,
                     current: CurrentRecord | None = None, retired: Mapping[int, str] | None = None,
                     in_use_tags: Mapping[int, str] | None = None, manifest: Manifest | None = None) -> Retention:
    """Deregister the family's ACTIVE revisions beyond the newest `RevisionsToKeep`, except the
    one just `registered`, the one the ledger records as the service's current revision
    (another invocation may have registered a newer image since; `current`, when the caller
    has just written it, is not read again), and those in use (see revisions_in_use: read only
    when something would be deregistered or deleted; when it cannot be read, nothing is).
    Stops at the first failure (a throttled ECS is not pressed further). Then delete what is
    due (see delete_retired). When what is in use was read, its images carry their in-use tags
    (see tag_in_use; `in_use_tags`, the ledger's record of them, when the caller read it already).

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
        return Retention(skipped="revisions not listed")
    # read at most once a registration: deregistering and deleting share it
    in_use = cache(partial(revisions_in_use, settings, manifest or settings.manifest(), service))
    retire = revisions_to_deregister(active, settings.revisions_to_keep, protected)
    kept: tuple[int, ...] = ()
    if retire:
        try:
            used = in_use()
        except UseUnknownError as exc:
            logger.warning("revision retention skipped: what uses the revisions could not be read; the next "
                           "registration tries again", extra={"family": family, "error": str(exc)})
            return Retention(skipped="use not known")
        kept = tuple(r for r in retire if r in used.revisions)
        if kept:
            logger.info("revisions beyond RevisionsToKeep kept: in use", extra={
                "family": family, "kept": {str(r): list(used.users[r]) for r in kept}})
        retire = revisions_to_deregister(active, settings.revisions_to_keep, protected | used.revisions)
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
    deleted = delete_retired(settings, service, protected, done, retired, in_use=in_use)
    tagged: tuple[int, ...] = ()
    untagged: tuple[int, ...] = ()
    if in_use.cache_info().currsize:  # read above (a failed read is not cached): no new reads
        tagged, untagged = tag_in_use(settings, service, in_use(), in_use_tags, manifest=manifest)
    return Retention(tuple(done), failed, deleted, kept, tagged_in_use=tagged, untagged=untagged)


def tag_in_use(settings: ImageEventsSettings, service: str, used: InUse,
               known: Mapping[int, str] | None = None, *,
               manifest: Manifest | None = None) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Make the image of each revision in use carry `live-<environment>-r<revision>`, so that the
    lifecycle policy never expires it (its first rule keeps every `live-` image; ECR User Guide,
    "Lifecycle policy evaluation rules": an image a higher-priority rule's tags match is not
    expired by a lower one), and take that tag off the image of a revision no longer in use.
    The ledger's `in-use-tags` (`known`, when the caller read it) says which revisions have one:
    when nothing changed, nothing is asked. Tagging a revision's image: DescribeTaskDefinition
    (its image from this service's repository, by digest or by tag), BatchGetImage of its
    manifest, PutImage under the tag. A revision that names its image by tag gets the tag on the
    digest ECS resolved for it when the ECS service deployed it (ListServiceDeployments and
    DescribeServiceRevisions: see _resolved_digest); when ECS does not say, on no image, and a
    person is told once (untagged_in_use_notification). Untagging: DescribeImages of its digest, then
    BatchDeleteImage of the tag, only when the image keeps a commit tag (may_remove_tag: removing
    an image's last tag deletes it); otherwise the tag stays, with a warning, and is forgotten.
    Housekeeping: a failure is a warning, and the next retention that reads what is in use tries
    again. Returns the revisions tagged and untagged now."""
    table, pk = settings.ledger_table, settings.ledger_key(service)
    try:
        tagged = dict(known) if known is not None else ledger.read_in_use_tags(table, pk)
    except AwsCallError as exc:
        logger.warning("in-use tags not checked: the ledger could not be read", extra={"error": str(exc)})
        return (), ()
    to_tag, to_untag = in_use_tag_changes(used.revisions, tagged)
    if not to_tag and not to_untag:
        return (), ()
    family, repository = settings.target.family(service), settings.target.repository(service)
    added: dict[int, str] = {}
    gone: list[int] = []
    for revision in to_tag:
        try:
            added[revision] = _tag_revision_image(settings, service, revision, used, manifest)
        except AwsCallError as exc:
            logger.warning("image of a revision in use not tagged; the next retention tries again", extra={
                "family": family, "revision": revision, "error": str(exc)})
    for revision in to_untag:
        tag, digest = in_use_tag(settings.environment, revision), tagged[revision]
        try:
            if digest and not _untag(repository, digest, tag):
                logger.warning("in-use tag left on an image with no commit tag: removing an image's last tag "
                               "deletes it; remove the tag by hand once nothing runs the image", extra={
                                   "repository": repository, "digest": digest, "tag": tag})
        except AwsCallError as exc:
            logger.warning("in-use tag not removed; the next retention tries again", extra={
                "repository": repository, "tag": tag, "error": str(exc)})
            continue
        gone.append(revision)
    try:
        ledger.in_use_tags_changed(table, pk, added, gone)
    except AwsCallError as exc:  # the next retention finds the tags as they are, and records them
        logger.warning("in-use tags not recorded in the ledger", extra={"family": family, "error": str(exc)})
    if added or gone:
        logger.info("in-use tags changed", extra={"family": family, "tagged": sorted(added), "untagged": gone})
    return tuple(sorted(r for r, d in added.items() if d)), tuple(gone)


def _tag_revision_image(settings: ImageEventsSettings, service: str, revision: int, used: InUse,
                        manifest: Manifest | None = None) -> str:
    """Tag the image the revision runs from the service's repository; its digest, or "" when the
    revision is gone, runs no image of that repository, or names it by tag and ECS does not say
    which digest it resolved (nothing it can keep)."""
    family, repository = settings.target.family(service), settings.target.repository(service)
    reference = revision_image(settings, service, revision)
    if reference is None:
        return ""
    tag = in_use_tag(settings.environment, revision)
    kind, name = reference
    if kind != "digest":
        # ECS resolved the tag to a digest when it deployed the revision and runs that digest
        # since (ECS API Reference, "ContainerImage"); the tag has likely moved on (every build
        # moves `latest`). The image the tag names now is not the one that runs: ask ECS which
        # digest it resolved (the service's service revision of it), or tag nothing rather than
        # protect the wrong image (shipline registers by digest; this revision was made elsewhere).
        resolved = _resolved_digest(settings, manifest or settings.manifest(), service, revision, used)
        if resolved is None:
            logger.warning("a revision in use names its image by tag: the image ECS runs for it (the digest it "
                           "resolved at deployment) is not known here and is not tagged; it is kept by "
                           "ImagesToKeep's count alone", extra={"family": family, "revision": revision, "tag": name})
            notice = untagged_in_use_notification(target=settings.target, service=service, revision=revision,
                                                  image=f"{settings.target.repository_uri(service)}:{name}")
            once(f"in-use-by-tag:{family}:{revision}", partial(sns.publish, settings.notification_topic_arn, notice))
            return ""
        logger.info("a revision in use names its image by tag: tagging the digest ECS resolved for it", extra={
            "family": family, "revision": revision, "tag": name, "digest": resolved})
        name = resolved
    try:
        outcome = ecr.tag_image(repository, name, tag, manifest=ecr.image_manifest(repository, name))
        digest = name
    except ecr.ImageGoneError as exc:  # expired or deleted before: nothing left to keep (not asked again)
        logger.warning("the image of a revision in use no longer exists: ECS cannot start tasks of it", extra={
            "family": family, "revision": revision, "error": str(exc)})
        return ""
    if outcome == "tags immutable":  # held by another digest: put there by hand
        logger.warning("in-use tag not put: the repository's tags are immutable and another image has it", extra={
            "repository": repository, "digest": digest, "tag": tag})
    return digest


def revision_image(settings: ImageEventsSettings, service: str, revision: int) -> tuple[str, str] | None:
    """How one revision of the service's family names its image from the service's repository
    (DescribeTaskDefinition): ("digest", ...) or ("tag", ...); None when the revision is gone or
    runs no image of that repository."""
    definition = ecs.task_definition(settings.target.family(service), revision)
    return image_reference_of(definition, settings.target.repository_uri(service)) if definition else None


def _resolved_digest(settings: ImageEventsSettings, manifest: Manifest, service: str, revision: int,
                     used: InUse) -> str | None:
    """The digest of the service's repository that ECS resolved when the ECS service services.toml
    names deployed `revision` (its newest service revision of it: ListServiceDeployments, then
    DescribeServiceRevisions); None when that service does not use the revision (only scheduled
    tasks do: they resolve the tag at each run), does not exist, or has no service revision of it
    (one created before October 25, 2024 cannot be described)."""
    where = manifest.service(service).ecs_service(settings.project, settings.environment)
    by_service = (f"ECS service {where.cluster}/{where.name}", "the ledger's running record")
    if not any(user in by_service for user in used.users.get(revision, ())):
        return None
    family = settings.target.family(service)
    try:
        images = ecs.resolved_images(where.cluster, where.name, f"{family}:{revision}")
    except ServiceMissingError:
        return None
    return resolved_digest_of(images, settings.target.repository_uri(service)) if images else None


def _untag(repository: str, digest: str, tag: str) -> bool:
    """Remove `tag` from the image `digest` when it keeps a commit tag; False when it would not
    (the tag stays). An image or tag already gone is done."""
    try:
        tags = ecr.describe_image(repository, digest).tags
    except ecr.ImageGoneError:
        return True
    if tag not in tags:
        return True
    if not may_remove_tag(tags, tag):
        return False
    ecr.delete_tag(repository, tag)
    return True


def revisions_in_use(settings: ImageEventsSettings, manifest: Manifest, service: str) -> InUse:
    """The family's revisions in use, whatever the stack's Rollout (these are reads; nothing is
    changed): the ledger's `running` record (what the service's deployment events last said it
    runs); the ECS service services.toml names for this environment (DescribeServices: its
    PRIMARY and ACTIVE deployments, its task sets); its scheduled tasks (ListTargetsByRule of each
    rule on the default bus, GetSchedule of each schedule in the default group). A service,
    cluster, rule or schedule that does not exist uses nothing (with Rollout none, there may be
    none by these names). Any other failure is UseUnknownError: never deregister a revision
    because a read failed."""
    family = settings.target.family(service)
    where = manifest.service(service).ecs_service(settings.project, settings.environment)
    used = InUse()
    try:
        running = ledger.read_running(settings.ledger_table, settings.ledger_key(service))
        if running:
            used = used.add("the ledger's running record", [running.revision])
        try:
            used = used.add(f"ECS service {where.cluster}/{where.name}",
                            revisions_named(family, ecs.service_task_definitions(where.cluster, where.name)))
        except ServiceMissingError:
            pass
        for rule in where.schedule_rules:
            try:
                used = used.add(f"rule {rule}", revisions_named(family, schedules.rule_task_definitions(rule)))
            except ScheduledTaskMissingError:
                pass
        for name in where.schedules:
            try:
                arn = schedules.schedule_task_definition(name)
            except ScheduledTaskMissingError:
                continue
            used = used.add(f"schedule default/{name}", revisions_named(family, [arn] if arn else []))
    except (AwsCallError, BotoCoreError) as exc:
        raise UseUnknownError(str(exc)) from exc
    return used


def delete_retired(settings: ImageEventsSettings, service: str, protected: Collection[int],
                   deregistered: Collection[int], retired: Mapping[int, str] | None, *,
                   in_use: Callable[[], InUse] | None = None) -> tuple[int, ...]:
    """With `DeleteInactiveAfterDays` (0: off, nothing is written or asked): note the revisions
    just deregistered in the ledger, and delete (DeleteTaskDefinitions, at most 10 a run) those
    retention deregistered at least that many days ago, except those `in_use` (asked only when
    some are due; when it cannot be read, none is deleted). Only revisions shipline deregistered
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
        if due and in_use is not None:  # a deregistered revision a service still runs stays, for a rollback
            used = in_use().revisions
            due = tuple(r for r in due if r not in used)
        if not due:
            return ()
        deleted, refused = ecs.delete_task_definitions(family, due)
        # Refused: still ACTIVE (registered again? a revision cannot be) or no longer there: forget both.
        ledger.revisions_forgotten(table, pk, deleted + [r for r in refused if r in due])
    except (AwsCallError, UseUnknownError) as exc:
        logger.warning("inactive revisions not deleted; the next registration tries again",
                       extra={"family": family, "error": str(exc)})
        return ()
    if refused:
        logger.warning("ECS refused to delete some revisions", extra={"family": family, "refused": refused})
    if deleted:
        logger.info("inactive revisions deleted", extra={"family": family, "revisions": deleted})
    return tuple(deleted)
