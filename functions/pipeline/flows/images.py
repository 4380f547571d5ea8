"""ECR pushes and scans (basic and Inspector): the ledger, the gate, registration and one
message per scan result; Inspector's findings folded into it, or, when found later in an image
that runs (a service's current revision), into an hourly digest per image that says where it runs.

The gate fails closed: a scan that did not complete (FAILED, or any status that is not a
documented completion) holds the image and says so; an image scanned by both scanners is
judged by the worse of their latest results.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from functools import partial
from typing import Literal

from aws_lambda_powertools import Logger

from pipeline.adapters import ecr, ledger, sns
from pipeline.domain import gate
from pipeline.domain.digests import due_digests, hour_of, inspector_time, route_finding, running_revisions
from pipeline.domain.manifest import Manifest
from pipeline.domain.naming import commit_of_tag, is_live_tag, is_sha_tag
from pipeline.domain.notifications import (
    NO_CONTAINER_REMEDY,
    TASK_SIZE_REMEDY,
    drift_notification,
    findings_digest_notification,
    scan_notification,
)
from pipeline.domain.records import (
    CurrentRecord,
    FindingRecord,
    ImageRecord,
    MessageClaim,
    PendingFinding,
    RegistrationClaim,
    RunningRevision,
    Scanner,
    ScanRecord,
)
from pipeline.domain.scans import (
    COMPLETED,
    UNLISTED,
    Finding,
    ScanVerdict,
    judge,
    resolve_unlisted,
    top_findings,
    worst_verdict,
)
from pipeline.domain.task_definitions import NoContainerForRepositoryError, TaskSizeConflictError
from pipeline.events.envelope import NotOursError
from pipeline.flows.fixes import RebuildAsked, rebuild_text, request_rebuild
from pipeline.flows.idempotency import deadline, once
from pipeline.flows.registration import Registration, new_claim
from pipeline.flows.registration import register_image as _register_image
from pipeline.flows.retention import revision_image
from pipeline.settings import ImageEventsSettings

logger = Logger(child=True)

BUILD_CACHE_TAG = "buildcache"
COVERAGE_INACTIVE = "INACTIVE"  # Amazon Inspector does not scan the resource (its reason says why)
# Reasons that end coverage rather than refuse a scan (Inspector API Reference, ScanStatus):
# the image was deleted, or continuous scanning's duration for it lapsed.
COVERAGE_ENDED = frozenset({"RESOURCE_TERMINATED", "SCAN_ELIGIBILITY_EXPIRED"})
PushOutcome = Literal["registered", "already registered", "already current", "older than current", "in flight",
                      "not a commit image", "waiting for scan", "held"]
# Registrations whose revision is the service's to run: a retry of an event whose first try
# registered the revision but failed before queueing its rollout queues it then.
SCANNER_NAMES: dict[str, str] = {"basic": "ECR basic scanning", "inspector": "Amazon Inspector"}
NOT_SCANNED = "NOT SCANNED"  # no scan in the ledger: a verdict's status for the message, never a scanner's


def service_of(settings: ImageEventsSettings, manifest: Manifest, repository: str) -> str:
    """The manifest service a repository (name or ARN) belongs to."""
    name = repository.split(":repository/", 1)[1] if ":repository/" in repository else repository
    service = settings.target.service_of(name)
    if service is None:
        raise NotOursError(f"repository {name} is not one of {settings.project}-{settings.environment}-*")
    return manifest.service(service).name  # UnknownServiceError when not in the manifest


def register_image(settings: ImageEventsSettings, manifest: Manifest, service: str, digest: str, *,
                   tags: Collection[str] = (), pushed_at: str = "",
                   claimed: tuple[RegistrationClaim, ImageRecord] | None = None,
                   reused_tag: str | None = None) -> Registration:
    """Registration, with drift made loud: when the family no longer has a container built from
    the repository, a person is told (once per digest) before the event is rejected. With the
    stack's Rollout on, the registered revision is then queued for its ECS service."""
    try:
        registration = _register_image(settings, manifest, service, digest, tags=tags, pushed_at=pushed_at,
                                       claimed=claimed, reused_tag=reused_tag)
    except (NoContainerForRepositoryError, TaskSizeConflictError) as exc:
        remedy = TASK_SIZE_REMEDY if isinstance(exc, TaskSizeConflictError) else NO_CONTAINER_REMEDY
        notification = drift_notification(target=settings.target, service=service, digest=digest, problem=str(exc),
                                          remedy=remedy)
        topic = settings.notification_topic_arn
        once(f"drift-notice:{settings.target.family(service)}@{digest}", partial(sns.publish, topic, notification))
        raise
    return registration


def verdict_of(settings: ImageEventsSettings, image: ImageRecord) -> ScanVerdict | None:
    """The image's verdict: the worst of each scanner's latest result; None before any scan."""
    return worst_verdict([judge(s.counts, settings.scan_threshold, status=s.status, scanner=s.scanner)
                          for s in image.scans.values()])


def on_push(settings: ImageEventsSettings, manifest: Manifest, repository: str, digest: str, tag: str | None, *,
            pushed_at: str = "") -> dict:
    """A push. `pushed_at` is the event's time (ECR's event is sent when the push completes)."""
    if tag == BUILD_CACHE_TAG:
        raise NotOursError("the build cache is not an image to register")
    if tag and is_live_tag(tag):  # shipline's own PutImage, marking what it registered
        raise NotOursError(f"{tag} marks a registered image; it registers nothing")
    service = service_of(settings, manifest, repository)
    if tag and not is_sha_tag(tag) and not settings.register_manual_pushes:
        # `latest`, `inputs-<hash>`: a build pushes them with its commit tag, whose push registers
        # the image (and the image's scan records every tag it has). Nothing to write for them.
        return {"outcome": "not a commit image", "service": service,
                "reason": f"tag {tag}: no commit tag, so not a build of a commit (a build's commit-tag push "
                          "registers its image)"}
    table, pk = settings.ledger_table, settings.ledger_key(service)
    # Under gate none a push registers: its ledger write also claims the registration.
    claim = new_claim() if settings.gate == "none" else None
    image = ledger.image_pushed(table, pk, digest, tag, claim)
    if image.revision and tag and is_sha_tag(tag) and _reused_by(settings, service, digest, tag):
        return _register_reused(settings, manifest, service, image, tag, pushed_at)
    if image.revision:  # the same digest under another tag: one revision per digest
        return {"outcome": "already registered", "service": service, "revision": image.revision}
    decision = gate.decide(settings.gate, verdict_of(settings, image))
    if decision.decision != "register":
        logger.info(f"not registered: {decision.reason}", extra={"service": service, "digest": digest})
        outcome: PushOutcome = "held" if decision.decision == "hold" else "waiting for scan"
        return {"outcome": outcome, "service": service, "reason": decision.reason}
    registration = register_image(settings, manifest, service, digest, tags=image.tags, pushed_at=pushed_at,
                                  claimed=(claim, image) if claim else None)
    return {"outcome": registration.outcome, "service": service, "revision": registration.revision,
            "reason": registration.reason}


def _register_reused(settings: ImageEventsSettings, manifest: Manifest, service: str, image: ImageRecord, tag: str,
                     pushed_at: str) -> dict:
    """Build avoidance retagged an image registered before as a newer commit's (a revert): that
    commit registers it again, as the build it stood in for would have, judged as that build
    would be. Its scans passed when it was first registered, but Inspector may have found more
    in it since, while it ran nowhere (recorded, not sent): under the scan gate those findings
    hold it (one message); registered, those never told go in its next hourly digest. Under the
    scan gate an image with no completed scan in the ledger (registered before under gate none,
    unscanned, or its scan did not complete) is held too: nothing vouches for it (one message)."""
    table, pk, digest = settings.ledger_table, settings.ledger_key(service), image.digest
    scanned = verdict_of(settings, image)
    if settings.gate == "scan" and (scanned is None or not scanned.completed):
        return _hold_unscanned(settings, service, image, tag, scanned)
    scan = image.scans.get("inspector")
    since = [f for f in ledger.findings_of(table, pk, digest) if not f.sent_in and route_finding(
        status=f.status, severity=f.finding.severity, threshold=settings.scan_threshold,
        scanned_at=scan.at if scan else None, first_observed_at=f.first_observed_at, running=True,
        ) == "queued for the digest"]
    found_since = judge(Counter(f.finding.severity for f in since), settings.scan_threshold, scanner="inspector")
    decision = gate.decide(settings.gate, worst_verdict([found_since, *([scanned] if scanned else [])]))
    if decision.decision != "register":
        name = settings.target.repository(service)
        notification = scan_notification(
            target=settings.target, service=service, repository=name, digest=digest, tag=tag, verdict=found_since,
            findings=top_findings([f.finding for f in since]), scanner=SCANNER_NAMES["inspector"],
            registration=f"held back: commit {tag} reuses this image (the same build inputs), in which Amazon "
                         f"Inspector found more since its scan, while it ran nowhere ({decision.reason})")
        once(f"reuse-held:{name}@{digest}#{tag}", partial(sns.publish, settings.notification_topic_arn, notification))
        return {"outcome": "held", "service": service, "reason": decision.reason}
    # Queued before it registers: should the registration or a later step fail, the event's retry
    # finds the image current ("already registered") and would not queue them. Queued for an image
    # that then does not run, the digest withdraws them.
    outbox, hour = ledger.pending_partition(settings.project, settings.environment), hour_of(datetime.now(UTC))
    for f in since:  # it runs again: what was found in it meanwhile goes in its next digest
        if not ledger.finding_queued(table, pk, outbox, PendingFinding(
                service=service, digest=digest, tags=tuple(sorted({*image.tags, tag})), finding_arn=f.finding_arn,
                finding=f.finding, hour=hour), f.updated_at):
            logger.info("a finding's newer state was recorded meanwhile: not queued",
                        extra={"service": service, "finding": f.finding_arn})
    registration = register_image(settings, manifest, service, digest, tags=(tag,), pushed_at=pushed_at,
                                  reused_tag=tag)
    return {"outcome": registration.outcome, "service": service, "revision": registration.revision,
            "reason": registration.reason}


def _hold_unscanned(settings: ImageEventsSettings, service: str, image: ImageRecord, tag: str,
                    scanned: ScanVerdict | None) -> dict:
    """The scan gate holds a reused image that no completed scan vouches for (the gate fails
    closed), and says so once per image and tag. Its scan arriving later registers nothing for the
    commit (the image has its revision from its first registration): a build of the commit does."""
    name, digest, commit = settings.target.repository(service), image.digest, commit_of_tag(tag)
    if scanned is None:
        verdict, scanner = judge({}, settings.scan_threshold, status=NOT_SCANNED), "none recorded"
        what = "which has no completed scan (the ledger holds no scan of it: registered before, under gate none)"
    else:
        verdict, scanner = scanned, SCANNER_NAMES.get(scanned.scanner, scanned.scanner)
        what = f"whose scan by {scanner} did not complete (it ended {scanned.status})"
    reason = f"gate scan: commit {tag} reuses an image {what}"
    notification = scan_notification(
        target=settings.target, service=service, repository=name, digest=digest, tag=tag, verdict=verdict,
        findings=[], scanner=scanner,
        registration=f"held back: commit {tag} reuses this image (the same build inputs), {what}, so nothing "
                     "vouches for it and the scan gate holds it; the service stays on its current revision. "
                     f"`shipline trigger --service {service} --ref {commit} --force` builds the commit (a new image, "
                     "scanned and judged by the gate). A scan of this image (basic scanning: `aws ecr "
                     "start-image-scan`) tells its findings but registers nothing for this commit: the image has its "
                     "revision from its first registration")
    once(f"reuse-unscanned:{name}@{digest}#{tag}", partial(sns.publish, settings.notification_topic_arn, notification))
    logger.info(f"not registered: {reason}", extra={"service": service, "digest": digest})
    return {"outcome": "held", "service": service, "reason": reason}


def _reused_by(settings: ImageEventsSettings, service: str, digest: str, tag: str) -> bool:
    """Whether the ledger says the tag's commit reused this digest (build avoidance), while
    another digest is the service's current one."""
    reads = ledger.read_current_and_commit(settings.ledger_table, settings.ledger_key(service), commit_of_tag(tag))
    current, commit = reads.current, reads.commit
    if commit is None or commit.last_status != "REUSED" or commit.reused_digest != digest:
        return False
    return current is not None and current.digest != digest


def on_scan(settings: ImageEventsSettings, manifest: Manifest, *, repository: str, digest: str, tags: list[str],
            counts: dict[str, int], status: str, scanner: Scanner, listed: Collection[str] = ()) -> dict:
    """A scan's end. `listed`: the severities the event's counts name; findings counted beyond
    them (UNLISTED, Inspector's TOTAL) are told apart by the image's findings before the gate."""
    if tags and all(t == BUILD_CACHE_TAG for t in tags):
        raise NotOursError("a scan of the build cache registers nothing")
    service = service_of(settings, manifest, repository)
    name = settings.target.repository(service)
    table, pk = settings.ledger_table, settings.ledger_key(service)
    told = judge(counts, settings.scan_threshold, status=status, scanner=scanner)  # as the event tells it
    found: list[Finding] | None = None
    this = told
    if UNLISTED in told.counts and told.completed:
        found = ecr.scan_findings(name, digest)
        this = judge(resolve_unlisted(told.counts, listed, found), settings.scan_threshold, status=status,
                     scanner=scanner)
    # One message per scanned image and result: a duplicate delivery sends nothing, a later scan
    # whose result differs (a rescan, a failed scan redone) sends a new one. The scan's ledger
    # write claims it (the image's item is its idempotency record). The result is the event's,
    # so a retry that reads the findings again claims the same message.
    key, claim = f"scan:{scanner}:{_result_key(told)}", MessageClaim(uuid.uuid4().hex, deadline().isoformat())
    image = ledger.image_scanned(table, pk, digest, tags, ScanRecord(scanner, status, this.counts, ledger.now()),
                                 message=(key, claim))
    try:
        return _judged(settings, manifest, service, name, digest, tags, this, scanner, image, (key, claim),
                       found=found)
    except BaseException:
        # Unsent: the event's retry claims and sends it (a claim not this invocation's stays).
        ledger.release_message(table, pk, digest, key, claim)
        raise


def on_coverage(settings: ImageEventsSettings, manifest: Manifest, *, repository: str, digest: str, status: str,
                reason: str) -> dict:
    """Amazon Inspector's coverage of an image changed. INACTIVE before the image's Inspector scan
    completed (UNSUPPORTED_OS, ACCESS_DENIED, ...): no scan will come, so it is a scan that did not
    complete, held under the scan gate and said in one message, as a FAILED basic scan is (else
    the image would wait for a scan forever, in silence). After a completed scan (its scan
    eligibility lapsed, the image deleted) there is nothing to hold: ignored."""
    if status != COVERAGE_INACTIVE:
        raise NotOursError(f"coverage {status} ({reason}): Amazon Inspector scans the image")
    if reason in COVERAGE_ENDED:
        raise NotOursError(f"coverage of {digest} ended ({reason}): the image is gone or its scanning is over")
    service = service_of(settings, manifest, repository)
    image = ledger.read_image(settings.ledger_table, settings.ledger_key(service), digest)
    scanned = image.scans.get("inspector") if image else None
    if scanned is not None and scanned.status in COMPLETED:
        raise NotOursError(f"coverage of {digest} ended ({reason}) after its Amazon Inspector scan")
    # The event names no tags: ECR's are the image's (the build cache's, which Inspector cannot
    # scan either, are `buildcache`: on_scan ignores it). An image gone since: nothing to hold.
    try:
        tags = list(ecr.describe_image(settings.target.repository(service), digest).tags)
    except ecr.ImageGoneError:
        raise NotOursError(f"coverage of {digest} ended ({reason}) and the image no longer exists") from None
    return on_scan(settings, manifest, repository=repository, digest=digest, tags=tags, counts={},
                   status=f"{COVERAGE_INACTIVE} {reason}", scanner="inspector")


def _judged(settings: ImageEventsSettings, manifest: Manifest, service: str, name: str, digest: str,
            tags: list[str], this: ScanVerdict, scanner: Scanner, image: ImageRecord,
            message: tuple[str, MessageClaim], *, found: list[Finding] | None = None) -> dict:
    """A scan recorded: the gate's decision (registration under the scan gate), then its message
    (its top findings from `found`, when the image's findings were read already)."""
    verdict = verdict_of(settings, image) or this

    outcome = "recorded"
    if image.revision:
        registration_text = f"this digest was registered as revision {image.revision}"
        if not verdict.passed:
            registration_text += (" (it stays registered: roll it back, or build a fixed image)"
                                  if verdict.completed else " (its scan did not complete)")
    elif settings.gate == "scan":
        decision = gate.decide("scan", verdict)
        if decision.decision == "register":
            registration = register_image(settings, manifest, service, digest)
            outcome = registration.outcome
            registration_text = _registration_text(registration.outcome, registration.revision, decision.reason,
                                                   registration.reason)
        else:
            outcome = "held"
            registration_text = _held_text(verdict, decision.reason)
    elif image.registering and image.registering_until > datetime.now(UTC).isoformat():
        # Its push holds the registration now: it may yet find the image older than the current
        # one, so the message does not say it was registered.
        registration_text = ("gate none: its push is registering it now, not gated by the scan (`shipline status` "
                             "shows the revision)")
    else:
        # Gate none registers on push, but ECR sends its events on a best-effort basis (ECR User
        # Guide, "Amazon ECR events and EventBridge"): with no revision and no push registering it
        # now, the image's push event was lost or is late, and its scan registers it instead.
        registration = register_image(settings, manifest, service, digest)
        outcome = registration.outcome
        registration_text = _registration_text(registration.outcome, registration.revision,
                                               "gate none: its push event had not registered it", registration.reason)

    findings = (top_findings(found if found is not None else ecr.scan_findings(name, digest))
                if this.completed and this.counts else [])
    tag = next((t for t in tags if is_sha_tag(t)), tags[0] if tags else None)
    notification = scan_notification(
        target=settings.target, service=service, repository=name, digest=digest, tag=tag, verdict=this,
        findings=findings, registration=registration_text, scanner=SCANNER_NAMES[scanner],
    )
    notified = _send_once(settings, service, digest, image, message,
                          partial(sns.publish, settings.notification_topic_arn, notification))
    return {"outcome": outcome, "service": service, "worst": this.worst, "passed": this.passed,
            "completed": this.completed, "counts": this.counts, "notified": notified}


def _send_once(settings: ImageEventsSettings, service: str, digest: str, image: ImageRecord,
               message: tuple[str, MessageClaim], send: Callable[[], object]) -> bool:
    """Send the message when this invocation holds its claim (or takes over one whose holder
    died unsent), then note it sent; False when it was sent before or is being sent now."""
    key, claim = message
    table, pk = settings.ledger_table, settings.ledger_key(service)
    held = image.messages.get(key)
    if held is None or held.sent_at:
        return False
    if held.token != claim.token and (held.until > datetime.now(UTC).isoformat()
                                      or not ledger.take_over_message(table, pk, digest, key, held.token, claim)):
        return False  # in flight elsewhere: its holder sends it, or its retry does
    send()  # a failure releases the claim (on_scan), so the event's retry sends it
    if not ledger.message_sent(table, pk, digest, key, claim, ledger.now()):
        logger.warning("the message's claim was taken over before it was noted sent: it may go twice",
                       extra={"service": service, "digest": digest, "message": key})
    return True


def on_finding(settings: ImageEventsSettings, manifest: Manifest, *, repository: str, digest: str, tags: list[str],
               finding_arn: str, finding: Finding, status: str, first_observed_at: str = "",
               fixable: bool = False, updated_at: str = "") -> dict:
    """An Amazon Inspector finding: recorded, never sent on its own. Until the image's scan
    message (and for what its scan found) that message carries it; one found later waits for
    the image's hourly digest if the image runs (its digest is the service's current revision
    here), and is only recorded if it runs nowhere. With RebuildOnFixAvailable, one that waits
    and has a fix (`fixable`) asks for a rebuild of the service first (once per image and hour).
    Inspector sends the finding again when its state changes (`updated_at`): a queued finding
    that is SUPPRESSED or CLOSED stops waiting; an older state delivered late changes nothing."""
    service = service_of(settings, manifest, repository)
    table, pk = settings.ledger_table, settings.ledger_key(service)
    outbox = ledger.pending_partition(settings.project, settings.environment)
    # In UTC, to the microsecond, so that the ledger's text comparison is a comparison of times; ""
    # (an event that does not say) never overrides a dated state.
    when = inspector_time(updated_at)
    record, newest = ledger.finding_seen(table, pk, FindingRecord(
        finding_arn, digest, finding, status, first_observed_at,
        updated_at=when.astimezone(UTC).isoformat(timespec="microseconds") if when else ""))
    if not newest:
        return {"outcome": "superseded", "service": service, "running": [], "rebuild": None,
                "reason": f"the ledger holds a newer state of the finding ({record.status} at {record.updated_at})"}
    if record.status != "ACTIVE":  # no longer waits for a digest (if it did)
        ledger.finding_unqueued(table, outbox, PendingFinding(service=service, digest=digest, tags=tuple(tags),
                                                              finding_arn=finding_arn, finding=finding, hour=""),
                                record.updated_at)
    image = ledger.read_image(table, pk, digest)
    scan = image.scans.get("inspector") if image else None
    _, running = _where_it_runs(settings, service, digest, lambda: image)
    route = route_finding(status=status, severity=finding.severity, threshold=settings.scan_threshold,
                          scanned_at=scan.at if scan else None, first_observed_at=first_observed_at,
                          queued=bool(record.queued_at), running=bool(running))
    rebuild: RebuildAsked | None = None
    if route == "queued for the digest":
        hour = hour_of(datetime.now(UTC))
        if settings.rebuild_on_fix_available and fixable:
            # Before the finding is queued: a failed request fails the invocation, whose retry
            # (the finding not queued yet) asks again.
            rebuild = request_rebuild(settings, service, digest, hour, finding.id)
        pending = PendingFinding(service=service, digest=digest, tags=tuple(tags), finding_arn=finding_arn,
                                 finding=finding, hour=hour)
        if not ledger.finding_queued(table, pk, outbox, pending, record.updated_at):
            return {"outcome": "superseded", "service": service, "running": [r.describe() for r in running],
                    "rebuild": rebuild, "reason": "a newer state of the finding was recorded meanwhile"}
    return {"outcome": route, "service": service, "running": [r.describe() for r in running], "rebuild": rebuild}


def _where_it_runs(settings: ImageEventsSettings, service: str, digest: str,
                   image: Callable[[], ImageRecord | None]) -> tuple[CurrentRecord | None, tuple[RunningRevision, ...]]:
    """The service's current revision, and where the image runs: as that revision, or as the
    revision ECS runs (after a rollback, an older one) when that is the image's. `image` is read
    only when ECS runs another revision than the current one."""
    current, on_ecs = ledger.read_current_and_running(settings.ledger_table, settings.ledger_key(service))
    running = on_ecs.revision if on_ecs else None
    running_digest = (current.digest if current is not None and current.revision == running
                      else _digest_of_revision(settings, service, running, image) if running is not None else None)
    return current, running_revisions(current, service=service, environment=settings.environment, digest=digest,
                                      running=running, running_digest=running_digest)


def _digest_of_revision(settings: ImageEventsSettings, service: str, revision: int,
                        image: Callable[[], ImageRecord | None]) -> str | None:
    """The digest of the service's image in a revision that is not the current one: the image's
    own, when that is its revision; otherwise ECS's task definition, when it names the image by
    digest (one DescribeTaskDefinition, only after a rollback to a revision whose image has been
    registered again since, under a newer revision). None when not known (a revision gone, or
    naming its image by tag)."""
    record = image()
    if record is not None and record.revision == revision:
        return record.digest
    reference = revision_image(settings, service, revision)
    return reference[1] if reference and reference[0] == "digest" else None


DigestOutcome = Literal["sent", "sent before", "in flight", "no longer running"]


def on_digest_schedule(settings: ImageEventsSettings, *, at: datetime) -> dict:
    """The hourly run: one digest per running image whose findings were queued before this hour,
    each sent once for the hour (a replay of the run, or a second invocation, sends nothing
    more), then the findings marked sent. An image a newer revision replaced since is not
    reported: its findings are marked withdrawn."""
    hour = hour_of(at)
    table, outbox = settings.ledger_table, ledger.pending_partition(settings.project, settings.environment)
    topic = settings.notification_topic_arn
    outcomes: dict[str, DigestOutcome] = {}
    for image in due_digests(ledger.pending_findings(table, outbox), hour):
        pk = settings.ledger_key(image.service)
        current, running = _where_it_runs(settings, image.service, image.digest,
                                          partial(ledger.read_image, table, pk, image.digest))
        rebuild = (rebuild_text(settings, image.service, image.digest, {p.hour for p in image.pending})
                   if settings.rebuild_on_fix_available else "")
        if not running and not rebuild:  # replaced since its findings were queued: recorded, not sent
            outcomes[f"{image.service}@{image.digest}"] = "no longer running"
            for pending in image.pending:
                ledger.digest_withdrawn(table, pk, outbox, pending, hour)
            continue
        # Replaced since, after a rebuild was asked for its findings (likely by that rebuild): the
        # digest still goes, so the request and its decision are told, with what runs now.
        replaced_by = current.revision if not running and current is not None else None
        name = settings.target.repository(image.service)
        notification = findings_digest_notification(
            target=settings.target, service=image.service, repository=name, digest=image.digest,
            tag=next((t for t in image.tags if is_sha_tag(t)), image.tags[0] if image.tags else None),
            findings=image.findings, hour=hour, running=running, rebuild=rebuild, replaced_by=replaced_by)
        effect = once(f"findings-digest:{name}@{image.digest}:{hour}", partial(sns.publish, topic, notification))
        outcomes[f"{image.service}@{image.digest}"] = ("sent" if effect.fresh else
                                                       "sent before" if effect.state == "replayed" else "in flight")
        if effect.state == "in flight":
            continue  # its holder marks them once it has sent; if it fails, its retry sends them
        for pending in image.pending:
            ledger.digest_sent(table, settings.ledger_key(pending.service), outbox, pending, hour)
    return {"outcome": "digests", "hour": hour, "digests": outcomes,
            "sent": sum(1 for o in outcomes.values() if o == "sent")}


def _result_key(verdict: ScanVerdict) -> str:
    text = json.dumps({"status": verdict.status, "counts": verdict.counts}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _held_text(verdict: ScanVerdict, reason: str) -> str:
    """Why the scan gate holds the image: a finding, a scanner that does not scan it (Inspector's
    coverage), or a scan that did not complete."""
    scanner = SCANNER_NAMES[verdict.scanner]
    if verdict.completed:
        return f"held back: {reason}"
    if verdict.status.startswith(COVERAGE_INACTIVE):
        why = verdict.status.removeprefix(COVERAGE_INACTIVE).strip()
        return (f"held back: {scanner} does not scan this image ({why}: Amazon Inspector User Guide, scan status "
                "reasons), so nothing vouches for it; fix what the reason names, or scan it with basic scanning")
    return f"held back: the {scanner} scan ended {verdict.status}, so nothing vouches for this image; scan it again"


def _registration_text(outcome: str, revision: int | None, reason: str, detail: str) -> str:
    if outcome == "registered":
        return f"registered as revision {revision} ({reason})"
    if outcome in ("already current", "already registered"):
        return f"already the latest revision ({revision})"
    if outcome == "in flight":  # another invocation (its push, a duplicate) registers it now
        return ("being registered now by another invocation (its push event), which decides; `shipline status` "
                "shows the revision")
    return f"not registered: {outcome}" + (f" ({detail})" if detail else "")
