"""The ledger (DynamoDB): what shipline did, per service and environment. This module alone
knows the item layout; it takes and returns the records of `pipeline.domain.records`.

One partition per service and environment (`<project>#<environment>#<service>`), items:
- `build#<build ARN>`: a build, from its start to its end;
- `commit#<short sha>`: a commit as planned (first planned at; latest attempt and its build, or
  the image reused for it when an image already had its build inputs; and `starts`, the build
  each plan of it started, by the plan's hashed idempotency key: the build starter's
  idempotency record);
- `image#<digest>`: an image: its tags, each scanner's latest result, its revision;
- `finding#<finding ARN>`: an Amazon Inspector finding (and when it was queued for a digest);
- `rebuild#<digest>#<hour>`: a rebuild asked for a fix in that running image in that hour
  (RebuildOnFixAvailable), and what the build starter decided;
- `current`: the revision registered last;
- `promotion#<digest>`: an image promoted into this environment from another (requested,
  approved, copied; who and when).
- `retired`: the revisions retention deregistered and not yet deleted, `r<revision>` = when
  (written only when `DeleteInactiveAfterDays` is set).
- `in-use-tags`: the revisions whose images retention tagged `live-<environment>-r<revision>`
  because they were in use, and has not untagged since, `r<revision>` = the image's digest ("" when
  the revision has no image of the service's repository to tag);
- `deployment#<deploymentId>`: an ECS service deployment shipline started or watched (Rollout on);
- `running`: what the ECS service runs, as its deployments' events last said;
- `rollout#<revision>`: a rollout that did not start a deployment, and why (the service is missing);
- `rollback#<at>`: a person's `shipline rollback`, who and when;
- `service-action`: the service's last "ECS Service Action" event.

And one partition per environment for the findings that wait for their image's hourly digest
(`<project>#<environment>#~pending-findings`; `~` is in no service name), items
`finding#<service>#<digest>#<finding ARN>`: written when a finding is queued, deleted once the
digest that carries it is sent (or withdrawn, when its image no longer runs by then).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from pipeline.adapters.clients import client
from pipeline.adapters.errors import AwsCallError, error_code, wrap
from pipeline.domain.fixes import RebuildRecord
from pipeline.domain.naming import is_commit, short_sha
from pipeline.domain.records import (
    BuildRecord,
    CommitRecord,
    CurrentRecord,
    FindingRecord,
    ImageRecord,
    MessageClaim,
    PendingFinding,
    PromotionRecord,
    RegistrationClaim,
    ReuseRecord,
    ScanRecord,
    ServiceHistory,
    StartedBuild,
)
from pipeline.domain.rollout import DeploymentRecord, RollbackRecord, RunningRecord
from pipeline.domain.scans import Finding

_TO = TypeSerializer()
_FROM = TypeDeserializer()


class _ConditionFailed(AwsCallError):
    """An update's condition did not hold. For a transaction: each member's item as it was,
    where the member asked for it (ReturnValuesOnConditionCheckFailure ALL_OLD) and its
    condition failed; empty for the others."""

    def __init__(self, message: str, items: list[dict] | None = None):
        super().__init__(message)
        self.items = items or []

    def old(self, member: int) -> dict[str, Any]:
        """The transaction member's item as it was when its condition failed ({} if not returned)."""
        return _python(self.items[member]) if member < len(self.items) and self.items[member] else {}


def now() -> str:
    """The ledger's timestamps: UTC, ISO 8601 (they sort as text)."""
    return datetime.now(UTC).isoformat()


# ---------------------------------------------------------------------------- builds and commits
@dataclass(frozen=True)
class BuildNoted:
    """What `build_started` found: the build noted now as the commit's latest attempt ("noted");
    the plan's build noted before, by a duplicate start (of the same plan, so the same build
    while StartBuild's idempotency token lasts) that got there first ("noted before", `build` is
    that one); or another plan's build took the attempt in between, and this build was noted
    for its plan alone, not as the commit's latest attempt ("superseded")."""

    state: Literal["noted", "noted before", "superseded"]
    build: str


def build_started(table: str, pk: str, record: BuildRecord, attempt: int, *, key: str = "",
                  read: CommitRecord | None = None, forget_before: str = "") -> BuildNoted:
    """A build has started: its item, and on the commit's item its latest attempt (the first
    planned time is kept) and the build of the plan `key`, in one request (TransactWriteItems:
    both or neither).

    The commit's item is the plan's idempotency record: the write holds only while the commit is
    as `read` (what `commit_planned` returned, which the start was decided on: the same latest
    attempt and build) and has no build for `key` yet. Of two starts racing, one writes; the
    other learns from the cancellation which build holds its plan or its attempt. Plans' builds
    older than `forget_before` are forgotten in the same write (the idempotency window)."""
    # The build's status is kept where its end was recorded first (a start noted late, after a
    # failed write, must not turn an ended build back into a running one).
    build = _update_request(table, pk, f"build#{record.build_id}", {
        "buildId": record.build_id, "commit": record.commit, "trigger": record.trigger, "at": record.at},
        keep={"status": record.status})
    if not is_commit(record.commit):  # a branch (the schedule with GitHub): the build resolves it; no commit item
        _apply(build)
        return BuildNoted("noted", record.build_id)
    read = read or CommitRecord(commit=record.commit, planned_at=record.at)
    sk = f"commit#{short_sha(record.commit)}"
    entry = {"key": key, "build": record.build_id, "at": record.at}
    expired = [k for k, started in read.starts.items() if forget_before and started.at < forget_before and k != key]
    latest = (("attempt = :readAttempt", {":readAttempt": {"N": str(read.attempt)}}) if read.attempt else
              ("attribute_not_exists(attempt)", {}))
    last = (("lastBuild = :readBuild", {":readBuild": {"S": read.last_build}}) if read.last_build else
            ("attribute_not_exists(lastBuild)", {}))
    commit = _update_request(table, pk, sk, {
        "commit": record.commit, "attempt": attempt, "lastBuild": record.build_id, "lastStatus": record.status,
    }, keep={"plannedAt": record.at}, entries={_START_MAP: {_slot(key): entry}},
        drop={_START_MAP: [_slot(k) for k in expired]},
        condition=(f"attribute_not_exists(#starts.#plan) AND {latest[0]} AND {last[0]}", latest[1] | last[1]),
        condition_names={"#starts": _START_MAP, "#plan": _slot(key)})
    try:
        _transact(table, [build, commit])
    except _ConditionFailed as failed:
        holder = _holder(failed, read)
        noted = holder.starts.get(key)
        if noted is not None:  # a duplicate start of this plan got there first
            return BuildNoted("noted before", noted.build)
        # Another plan's build took the attempt: this build is the plan's, but not the latest.
        mine = _update_request(table, pk, sk, {}, entries={_START_MAP: {_slot(key): entry}},
                               condition=("attribute_not_exists(#starts.#plan)", {}),
                               condition_names={"#starts": _START_MAP, "#plan": _slot(key)})
        try:
            _transact(table, [build, mine])
        except _ConditionFailed as again:
            noted = _holder(again, holder).starts.get(key)
            return BuildNoted("noted before", noted.build if noted else record.build_id)
        return BuildNoted("superseded", record.build_id)
    return BuildNoted("noted", record.build_id)


def _holder(failed: _ConditionFailed, known: CommitRecord) -> CommitRecord:
    """The commit's item as a cancelled build_started transaction found it (its second member),
    or what was known of it when the cancellation did not return it."""
    old = failed.old(1)
    return _commit(old) if old else known


_START_MAP = "starts"  # on a commit's item: a plan's idempotency key (hashed) -> {key, build, at}


def _slot(key: str) -> str:
    """A plan's entry in the commit's map: its key hashed (a key names a failed build's ARN, too
    long and too free-form for a map key)."""
    return "p" + hashlib.sha256(key.encode()).hexdigest()[:32]


def build_ended(table: str, pk: str, record: BuildRecord) -> None:
    """A build's end: its item, and its commit's latest status when it is still the latest
    attempt. One request when the build is the commit's latest attempt (the usual case); when
    it is not (a later attempt started, or the commit was never planned), the transaction is
    cancelled as a whole and the build's item alone is written."""
    build = {"buildId": record.build_id, "status": record.status, "phase": record.phase, "reason": record.reason,
             "commit": record.commit, "at": record.at}
    if len(record.commit) != 40:
        _update(table, pk, f"build#{record.build_id}", build)
        return
    try:
        _transact(table, [
            _update_request(table, pk, f"build#{record.build_id}", build),
            _update_request(table, pk, f"commit#{short_sha(record.commit)}", {"lastStatus": record.status},
                            condition=("lastBuild = :build", {":build": {"S": record.build_id}})),
        ])
    except _ConditionFailed:
        # a later attempt is the commit's latest (or it was never planned): nothing to change there
        _update(table, pk, f"build#{record.build_id}", build)


def build_status(table: str, pk: str, build_id: str) -> str:
    """The status the ledger has for a build ("" when it has none)."""
    item = _read(table, pk, f"build#{build_id}")
    return str(item.get("status", "")) if item else ""


def commit_planned(table: str, pk: str, commit: str, at: str) -> CommitRecord:
    """Note that the pipeline planned a build of this commit; returns what the ledger knows of it
    (its first planned time and latest attempt)."""
    # `starts` made empty where the item has none: build_started sets one of its entries, which
    # needs the map to exist ("The document path provided in the update expression is invalid").
    item = _update(table, pk, f"commit#{short_sha(commit)}", {"commit": commit},
                   keep={"plannedAt": at, _START_MAP: {}})
    return _commit(item)


def commit_reused(table: str, pk: str, reuse: ReuseRecord) -> None:
    """A commit whose inputs an image already had: that image, retagged, is its build. The commit
    item says so (status REUSED, the digest and inputs, the tag it got); its first planned time is
    kept. Written again, the same, by a replay."""
    _update(table, pk, f"commit#{short_sha(reuse.commit)}", {
        "commit": reuse.commit, "attempt": reuse.attempt, "lastStatus": "REUSED", "reusedDigest": reuse.digest,
        "inputs": reuse.inputs, "reusedTag": reuse.tag, "reusedAt": reuse.at}, keep={"plannedAt": reuse.at})


def read_commit(table: str, pk: str, sha: str) -> CommitRecord | None:
    item = _read(table, pk, f"commit#{short_sha(sha)}")
    return _commit(item) if item else None


def _commit(item: dict[str, Any]) -> CommitRecord:
    starts = {entry["key"]: StartedBuild(build=entry.get("build", ""), at=entry.get("at", ""))
              for entry in item.get(_START_MAP, {}).values() if isinstance(entry, dict) and "key" in entry}
    return CommitRecord(commit=item.get("commit", ""), planned_at=item.get("plannedAt", ""),
                        attempt=int(item.get("attempt", 0)), last_build=item.get("lastBuild", ""),
                        last_status=item.get("lastStatus", ""), reused_digest=item.get("reusedDigest", ""),
                        reused_at=item.get("reusedAt", ""), starts=starts)


# ---------------------------------------------------------------------------- images
def image_pushed(table: str, pk: str, digest: str, tag: str | None,
                 claim: RegistrationClaim | None = None) -> ImageRecord:
    """A push of the image under `tag`; with `claim`, also claims its registration unless
    another invocation holds a claim (the returned record says whose claim it holds)."""
    item = _update(table, pk, f"image#{digest}", {"digest": digest, "lastPushAt": now()},
                   add={"tags": [tag] if tag else []}, keep=_claimed(claim))
    return _image(item)


def claim_registration(table: str, pk: str, digest: str, claim: RegistrationClaim) -> ImageRecord:
    """Claim the image's registration unless another invocation holds a claim; the returned
    record says whose claim it holds (and whether it is registered already)."""
    return _image(_update(table, pk, f"image#{digest}", {"digest": digest}, keep=_claimed(claim)))


def take_over_registration(table: str, pk: str, digest: str, stale: str, claim: RegistrationClaim) -> bool:
    """Replace a claim past its deadline (its invocation died); False when another invocation
    replaced or released it first."""
    try:
        _update(table, pk, f"image#{digest}", {"registering": claim.token, "registeringUntil": claim.until},
                condition=("registering = :stale", {":stale": {"S": stale}}))
    except _ConditionFailed:
        return False
    return True


def release_registration(table: str, pk: str, digest: str, claim: RegistrationClaim) -> None:
    """Give the claim up (the invocation registers nothing, or failed); nothing when it is not ours."""
    try:
        _apply(_update_request(table, pk, f"image#{digest}", {}, remove=("registering", "registeringUntil"),
                               condition=("registering = :me", {":me": {"S": claim.token}})))
    except _ConditionFailed:
        pass  # another invocation's claim (or none): not ours to give up


def _claimed(claim: RegistrationClaim | None) -> dict[str, str] | None:
    return {"registering": claim.token, "registeringUntil": claim.until} if claim else None


def image_scanned(table: str, pk: str, digest: str, tags: list[str], scan: ScanRecord,
                  message: tuple[str, MessageClaim] | None = None) -> ImageRecord:
    """The scanner's latest result for the image (each scanner keeps its own); with `message`
    (its key and a claim), also claims the message about it unless the image's item has a
    claim for that key already (the returned record says whose claim it holds, and whether it
    was sent): the ledger's write of the scan is the message's idempotency record."""
    keep = {_MESSAGE + message[0]: {"token": message[1].token, "until": message[1].until}} if message else None
    item = _update(table, pk, f"image#{digest}", {"digest": digest, f"scan_{scan.scanner}": {
        "status": scan.status, "counts": scan.counts, "at": scan.at}}, add={"tags": tags}, keep=keep)
    return _image(item)


def message_sent(table: str, pk: str, digest: str, key: str, claim: MessageClaim, at: str) -> bool:
    """The claimed message went out: later deliveries of its event send nothing. False when the
    claim is no longer this invocation's (it ran past its deadline and another took it over)."""
    return _on_message(table, pk, digest, key, claim.token, "", entries={_MESSAGE + key: {"sentAt": at}})


def release_message(table: str, pk: str, digest: str, key: str, claim: MessageClaim) -> None:
    """Give the claim up, unsent (the message, or what came before it, failed): the event's
    retry claims it again."""
    _on_message(table, pk, digest, key, claim.token, " AND attribute_not_exists(#c.sentAt)",
                remove=(_MESSAGE + key,))


def take_over_message(table: str, pk: str, digest: str, key: str, stale: str, claim: MessageClaim) -> bool:
    """Replace an unsent claim past its deadline (its invocation died); False when another
    invocation replaced, released or sent it first."""
    return _on_message(table, pk, digest, key, stale, " AND attribute_not_exists(#c.sentAt)",
                       attributes={_MESSAGE + key: {"token": claim.token, "until": claim.until}})


def _on_message(table: str, pk: str, digest: str, key: str, token: str, unsent: str, *,
                attributes: dict[str, Any] | None = None, entries: dict[str, dict[str, Any]] | None = None,
                remove: tuple[str, ...] = ()) -> bool:
    """One UpdateItem of a message claim, on condition that `token` holds it (and, with `unsent`,
    that it was not sent); False when that did not hold."""
    request = _update_request(table, pk, f"image#{digest}", attributes or {}, entries=entries, remove=remove,
                              condition=("#c.#token = :me" + unsent, {":me": {"S": token}}),
                              condition_names={"#c": _MESSAGE + key, "#token": "token"})
    try:
        _apply(request)
    except _ConditionFailed:
        return False
    return True


def read_image(table: str, pk: str, digest: str) -> ImageRecord | None:
    item = _read(table, pk, f"image#{digest}")
    return _image(item) if item else None


def finding_seen(table: str, pk: str, record: FindingRecord) -> tuple[FindingRecord, bool]:
    """An Amazon Inspector finding's state, unless the ledger holds a newer one (by the events'
    updatedAt: an older state delivered late changes nothing). Returns what the ledger holds of
    it (when it was queued for a digest, if it was) and whether this state is that one.
    A state that is not ACTIVE (SUPPRESSED, CLOSED) ends the finding's telling in the same
    write: were Inspector to reopen it (ACTIVE again, within seven days of closing it: Inspector
    User Guide, "Understanding findings"), it is news, queued and told again."""
    f = record.finding
    sk = f"finding#{record.finding_arn}"
    try:
        item = _apply(_update_request(table, pk, sk, {
            "digest": record.digest, "severity": f.severity, "id": f.id, "package": f.package, "version": f.version,
            "fixedIn": f.fixed_in, "status": record.status, "firstObservedAt": record.first_observed_at,
            "updatedAt": record.updated_at, "at": now()},
            remove=() if record.status == "ACTIVE" else ("queuedAt", "digestSentIn", "digestWithdrawnIn"),
            condition=("attribute_not_exists(updatedAt) OR updatedAt <= :mine", {":mine": {"S": record.updated_at}})))
    except _ConditionFailed:
        return _finding_record(record.finding_arn, _read(table, pk, sk) or {}), False
    return _finding_record(record.finding_arn, item), True


def _finding_record(finding_arn: str, item: dict[str, Any]) -> FindingRecord:
    return FindingRecord(finding_arn=finding_arn, digest=item.get("digest", ""), finding=_finding(item),
                         status=item.get("status", ""), first_observed_at=item.get("firstObservedAt", ""),
                         queued_at=item.get("queuedAt", ""), updated_at=item.get("updatedAt", ""),
                         sent_in=item.get("digestSentIn", ""))


def findings_of(table: str, pk: str, digest: str) -> list[FindingRecord]:
    """Every Inspector finding the ledger holds of one image (a Query of the service's findings,
    filtered by digest, every page)."""
    found: list[FindingRecord] = []
    try:
        paginator = client("dynamodb").get_paginator("query")
        for page in paginator.paginate(TableName=table, KeyConditionExpression="pk = :pk AND begins_with(sk, :sk)",
                                       FilterExpression="digest = :digest", ConsistentRead=True,
                                       ExpressionAttributeValues={":pk": {"S": pk}, ":sk": {"S": "finding#"},
                                                                  ":digest": {"S": digest}}):
            found.extend(_finding_record(item["sk"].removeprefix("finding#"), item)
                         for item in map(_python, page.get("Items", [])))
    except ClientError as exc:
        raise wrap(exc, f"read the findings of {digest}") from exc
    return found


# ---------------------------------------------------------------------------- findings digests
def pending_partition(project: str, environment: str) -> str:
    return f"{project}#{environment}#~pending-findings"


def finding_queued(table: str, pk: str, outbox: str, pending: PendingFinding, updated_at: str) -> bool:
    """Queue a finding for its image's digest: its pending item (written again, the same, by a
    replay) and the finding's own `queuedAt` (kept from the first time), in one transaction, on
    condition that the finding is still ACTIVE in the state of `updated_at` (a newer state,
    SUPPRESSED or CLOSED, recorded meanwhile: nothing is queued). False when it was not."""
    f = pending.finding
    try:
        _transact(table, [
            _update_request(table, outbox, _pending_sk(pending), {
                "service": pending.service, "digest": pending.digest, "tags": sorted(pending.tags),
                "findingArn": pending.finding_arn, "severity": f.severity, "id": f.id, "package": f.package,
                "version": f.version, "fixedIn": f.fixed_in, "hour": pending.hour, "queuedFor": updated_at}),
            _update_request(table, pk, f"finding#{pending.finding_arn}", {}, keep={"queuedAt": now()},
                            # a finding recorded before states were dated has no updatedAt
                            condition=("#status = :active AND " + ("(updatedAt = :mine OR attribute_not_exists("
                                                                   "updatedAt))" if not updated_at else
                                                                   "updatedAt = :mine"),
                                       {":active": {"S": "ACTIVE"}, ":mine": {"S": updated_at}}),
                            condition_names={"#status": "status"}),
        ])
    except _ConditionFailed:
        return False
    return True


def finding_unqueued(table: str, outbox: str, pending: PendingFinding, updated_at: str) -> None:
    """A queued finding is no longer ACTIVE (SUPPRESSED by a rule, CLOSED by a fix) as of
    `updated_at`: it stops waiting for its digest (nothing when it was sent, or taken out,
    already; nor when it waits for a newer, reopened state)."""
    _leave_outbox(table, outbox, pending, older_than=updated_at)


def pending_findings(table: str, outbox: str) -> list[PendingFinding]:
    """Every finding waiting for a digest, in this environment."""
    found = []
    try:
        paginator = client("dynamodb").get_paginator("query")
        for page in paginator.paginate(TableName=table, KeyConditionExpression="pk = :pk",
                                       ExpressionAttributeValues={":pk": {"S": outbox}}, ConsistentRead=True):
            for raw in page.get("Items", []):
                item = _python(raw)
                found.append(PendingFinding(service=item["service"], digest=item["digest"],
                                            tags=tuple(item.get("tags", [])), finding_arn=item["findingArn"],
                                            finding=_finding(item), hour=item["hour"]))
    except ClientError as exc:
        raise wrap(exc, "read the findings waiting for a digest") from exc
    return found


def digest_sent(table: str, pk: str, outbox: str, pending: PendingFinding, hour: str) -> None:
    """The digest of `hour` carried this finding: the finding says so, and stops waiting (a
    replay, or another invocation that got there first, finds nothing left to do)."""
    _update(table, pk, f"finding#{pending.finding_arn}", {}, keep={"digestSentIn": hour})
    _leave_outbox(table, outbox, pending)


def digest_withdrawn(table: str, pk: str, outbox: str, pending: PendingFinding, hour: str) -> None:
    """By the digest of `hour`, the finding's image no longer ran (a newer revision replaced it):
    the finding says so, stays recorded, and stops waiting; nothing is sent for it."""
    _update(table, pk, f"finding#{pending.finding_arn}", {}, keep={"digestWithdrawnIn": hour})
    _leave_outbox(table, outbox, pending)


def _leave_outbox(table: str, outbox: str, pending: PendingFinding, *, older_than: str | None = None) -> None:
    """Remove the finding's pending item, if any; with `older_than`, only one queued for a state
    of the finding not newer than that."""
    condition, values = "attribute_exists(sk)", {}
    if older_than is not None:
        condition += " AND (attribute_not_exists(queuedFor) OR queuedFor <= :state)"
        values = {":state": {"S": older_than}}
    try:
        client("dynamodb").delete_item(TableName=table, Key={"pk": {"S": outbox}, "sk": {"S": _pending_sk(pending)}},
                                       ConditionExpression=condition, **(
                                           {"ExpressionAttributeValues": values} if values else {}))
    except ClientError as exc:
        if error_code(exc) != "ConditionalCheckFailedException":
            raise wrap(exc, f"remove {_pending_sk(pending)} from the ledger") from exc


def _pending_sk(pending: PendingFinding) -> str:
    return f"finding#{pending.service}#{pending.digest}#{pending.finding_arn}"


def _finding(item: dict[str, Any]) -> Finding:
    return Finding(id=item.get("id", ""), severity=item.get("severity", ""), package=item.get("package", ""),
                   version=item.get("version", ""), fixed_in=item.get("fixedIn", ""))


def _image(item: dict[str, Any]) -> ImageRecord:
    scans = {}
    for key, value in item.items():
        if key.startswith("scan_") and isinstance(value, dict):
            scanner = key.removeprefix("scan_")
            scans[scanner] = ScanRecord(scanner=scanner, status=value.get("status", ""),  # type: ignore[arg-type]
                                        counts=dict(value.get("counts", {})), at=value.get("at", ""))
    messages = {key.removeprefix(_MESSAGE): MessageClaim(token=value.get("token", ""), until=value.get("until", ""),
                                                         sent_at=value.get("sentAt", ""))
                for key, value in item.items() if key.startswith(_MESSAGE) and isinstance(value, dict)}
    return ImageRecord(digest=item.get("digest", ""), tags=tuple(sorted(item.get("tags", []))),
                       last_push_at=item.get("lastPushAt", ""), scans=scans, revision=item.get("revision"),
                       revision_arn=item.get("revisionArn", ""), registered_at=item.get("registeredAt", ""),
                       registering=item.get("registering", ""), registering_until=item.get("registeringUntil", ""),
                       messages=messages)


_MESSAGE = "message#"  # an image item's attribute per message about it (see MessageClaim)


# ---------------------------------------------------------------------------- rebuilds for a fix
def rebuild_requested(table: str, pk: str, record: RebuildRecord) -> None:
    """A rebuild asked for a fix in a running image (written again, the same, by a replay; a
    decision the starter recorded first, EventBridge being quick, is kept)."""
    _update(table, pk, f"rebuild#{record.digest}#{record.hour}", {
        "service": record.service, "digest": record.digest, "hour": record.hour,
        "vulnerability": record.vulnerability}, keep={"requestedAt": record.requested_at})


def rebuild_decided(table: str, pk: str, record: RebuildRecord) -> None:
    """What the build starter decided for that request. The first decision is kept: a replayed
    start finds its own effect (a build under way, the image it retagged) and would say less."""
    _update(table, pk, f"rebuild#{record.digest}#{record.hour}", {
        "service": record.service, "digest": record.digest, "hour": record.hour}, keep={
        "decision": record.decision, "commit": record.commit, "build": record.build, "image": record.image,
        "decidedAt": record.decided_at})


def read_rebuild(table: str, pk: str, digest: str, hour: str) -> RebuildRecord | None:
    item = _read(table, pk, f"rebuild#{digest}#{hour}")
    if item is None:
        return None
    return RebuildRecord(service=item.get("service", ""), digest=item.get("digest", digest),
                         hour=item.get("hour", hour), requested_at=item.get("requestedAt", ""),
                         vulnerability=item.get("vulnerability", ""),
                         decision=item.get("decision") or None, commit=item.get("commit", ""),
                         build=item.get("build", ""), image=item.get("image", ""),
                         decided_at=item.get("decidedAt", ""))


# ---------------------------------------------------------------------------- registration
_LEASE = "lease"  # the service's registration lease (see lease_registration)
_LEASE_FIELDS = ("leaseToken", "leaseUntil", "leaseDigest")


def registered(table: str, pk: str, current: CurrentRecord, lease: RegistrationClaim | None = None) -> None:
    """A new revision: on its image (whose registration claim it ends), and as the service's
    current one; with `lease`, the service's registration lease is given up in the same
    request (one TransactWriteItems; cancelled as a whole when the lease is no longer ours)."""
    updates = [
        _update_request(table, pk, f"image#{current.digest}", {
            "revision": current.revision, "revisionArn": current.revision_arn, "registeredAt": current.registered_at},
            remove=("registering", "registeringUntil")),
        _update_request(table, pk, "current", {
            "digest": current.digest, "tag": current.tag, "revision": current.revision,
            "revisionArn": current.revision_arn, "registeredAt": current.registered_at,
            "pushedAt": current.pushed_at, "commit": current.commit, "plannedAt": current.planned_at}),
    ]
    if lease is not None:
        updates.append(_update_request(table, pk, _LEASE, {}, remove=_LEASE_FIELDS,
                                       condition=("leaseToken = :me", {":me": {"S": lease.token}})))
    _transact(table, updates)


def lease_registration(table: str, pk: str, digest: str, lease: RegistrationClaim) -> bool:
    """Take the service's registration lease: one registration of the service at a time, so that
    an older image's registration (read the current revision, register, record it) cannot
    interleave with a newer one's. Taken unless another invocation holds it, for another digest,
    until a time not yet past; a registration of the same digest (the retry of one that failed
    after registering) takes it over. False when it is held."""
    try:
        _apply(_update_request(table, pk, _LEASE, {"leaseToken": lease.token, "leaseUntil": lease.until,
                                                   "leaseDigest": digest},
                               condition=("attribute_not_exists(leaseToken) OR leaseUntil < :now OR "
                                          "leaseDigest = :digest", {":now": {"S": now()}, ":digest": {"S": digest}})))
    except _ConditionFailed:
        return False
    return True


def release_lease(table: str, pk: str, lease: RegistrationClaim, *, hold_until: str | None = None) -> None:
    """Give the lease up; nothing when it is not ours. `hold_until`: keep it instead, for its
    digest only, until then (a registration that failed after ECS registered its revision: no
    other image is registered before its retry records that revision)."""
    condition = ("leaseToken = :me", {":me": {"S": lease.token}})
    request = (_update_request(table, pk, _LEASE, {"leaseUntil": hold_until}, condition=condition) if hold_until
               else _update_request(table, pk, _LEASE, {}, remove=_LEASE_FIELDS, condition=condition))
    try:
        _apply(request)
    except _ConditionFailed:
        pass  # taken over (it had expired), or given up already


def read_current(table: str, pk: str) -> CurrentRecord | None:
    item = _read(table, pk, "current")
    return _current(item) if item else None


@dataclass(frozen=True)
class RegistrationReads:
    """What a registration reads from the ledger before it registers (read_current_and_commit)."""

    current: CurrentRecord | None
    commit: CommitRecord | None
    retired: dict[int, str]  # asked for: revision -> when retention deregistered it
    in_use_tags: dict[int, str]  # revision -> digest its in-use tag is on (see read_in_use_tags)


def read_current_and_commit(table: str, pk: str, sha: str | None, *, retired: bool = False,
                            in_use_tags: bool = False) -> RegistrationReads:
    """The service's current revision, (when `sha` is given) that commit's record, (when
    `retired`) the revisions retention deregistered and (when `in_use_tags`) the in-use tags
    retention put, in one strongly consistent request (TransactGetItems; IAM: dynamodb:GetItem)."""
    keys = (["current"] + ([f"commit#{short_sha(sha)}"] if sha else []) + (["retired"] if retired else [])
            + ([_IN_USE_TAGS] if in_use_tags else []))
    items = _read_together(table, pk, keys, "read the current revision and its commit from the ledger")
    current, commit = items.get("current"), items.get(f"commit#{short_sha(sha)}") if sha else None
    return RegistrationReads((_current(current) if current else None), (_commit(commit) if commit else None),
                             _by_revision(items.get("retired")), _by_revision(items.get(_IN_USE_TAGS)))


def read_current_and_running(table: str, pk: str) -> tuple[CurrentRecord | None, RunningRecord | None]:
    """The service's current revision and what its ECS service runs (as its deployments' events
    last said), in one strongly consistent request (TransactGetItems; IAM: dynamodb:GetItem)."""
    items = _read_together(table, pk, ["current", "running"],
                           "read the current and the running revision from the ledger")
    current, running = items.get("current"), items.get("running")
    return (_current(current) if current else None), (_running(running) if running else None)


def _read_together(table: str, pk: str, keys: list[str], doing: str) -> dict[str, dict[str, Any] | None]:
    """Items of one partition in one strongly consistent request (TransactGetItems): sk -> item,
    None for one that does not exist."""
    try:
        response = client("dynamodb").transact_get_items(TransactItems=[
            {"Get": {"TableName": table, "Key": {"pk": {"S": pk}, "sk": {"S": sk}}}} for sk in keys])
    except ClientError as exc:
        raise wrap(exc, doing) from exc
    return dict(zip(keys, (_python(r["Item"]) if r.get("Item") else None for r in response.get("Responses", [])),
                    strict=False))


# ---------------------------------------------------------------------------- retired revisions
def read_retired(table: str, pk: str) -> dict[int, str]:
    """The revisions retention deregistered and not yet deleted: revision -> when."""
    return _by_revision(_read(table, pk, "retired"))


def revisions_retired(table: str, pk: str, revisions: dict[int, str]) -> None:
    """Retention deregistered these revisions (revision -> when); a replay writes the same."""
    if revisions:
        _update(table, pk, "retired", {f"r{r}": at for r, at in revisions.items()})


def revisions_forgotten(table: str, pk: str, revisions: list[int]) -> None:
    """These revisions are deleted (or gone): no longer waiting for deletion."""
    if not revisions:
        return
    names = {f"#r{i}": f"r{r}" for i, r in enumerate(sorted(set(revisions)))}
    try:
        client("dynamodb").update_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": "retired"}},
                                       UpdateExpression="REMOVE " + ", ".join(names),
                                       ExpressionAttributeNames=names)
    except ClientError as exc:
        raise wrap(exc, "record deleted revisions in the ledger") from exc


def _by_revision(item: dict[str, Any] | None) -> dict[int, str]:
    """An item of `r<revision>` attributes (`retired`, `in-use-tags`), by revision."""
    return {int(k[1:]): str(v) for k, v in (item or {}).items() if k[:1] == "r" and k[1:].isdigit()}


# ---------------------------------------------------------------------------- in-use tags
_IN_USE_TAGS = "in-use-tags"


def read_in_use_tags(table: str, pk: str) -> dict[int, str]:
    """The revisions whose images carry the in-use tag retention put: revision -> digest."""
    return _by_revision(_read(table, pk, _IN_USE_TAGS))


def in_use_tags_changed(table: str, pk: str, tagged: dict[int, str], untagged: Collection[int]) -> None:
    """Retention tagged these revisions' images (revision -> digest) and untagged (or gave up)
    those: one UpdateItem, nothing when neither has any."""
    untagged = sorted(set(untagged) - set(tagged))
    if tagged or untagged:
        _apply(_update_request(table, pk, _IN_USE_TAGS, {f"r{r}": d for r, d in sorted(tagged.items())},
                               remove=tuple(f"r{r}" for r in untagged)))


def _current(item: dict[str, Any]) -> CurrentRecord:
    return CurrentRecord(digest=item["digest"], revision=int(item["revision"]),
                         revision_arn=item.get("revisionArn", ""), registered_at=item.get("registeredAt", ""),
                         tag=item.get("tag", ""), pushed_at=item.get("pushedAt", ""), commit=item.get("commit", ""),
                         planned_at=item.get("plannedAt", ""))


# ---------------------------------------------------------------------------- promotions
def promotion_requested(table: str, pk: str, record: PromotionRecord) -> tuple[PromotionRecord, bool]:
    """Record a promotion request; (the promotion as the ledger holds it, whether this call made
    it). One item per digest: a second request of the same digest finds the first."""
    attributes = {"digest": record.digest, "service": record.service, "source": record.source, "tag": record.tag,
                  "requestedBy": record.requested_by, "requestedAt": record.requested_at, "state": record.state,
                  "approvedBy": record.approved_by, "approvedAt": record.approved_at,
                  "sourceRegistry": record.source_registry}
    try:
        item = _update(table, pk, f"promotion#{record.digest}", attributes,
                       condition=("attribute_not_exists(sk)", {}))
    except _ConditionFailed:
        found = read_promotion(table, pk, record.digest)
        assert found is not None  # the condition failed because it exists
        return found, False
    return _promotion(item), True


def promotion_approved(table: str, pk: str, digest: str, approver: str, at: str,
                       *, self_approval: bool) -> PromotionRecord | None:
    """Approve a pending promotion, once: the conditional write makes one approver of many
    concurrent ones the one who copies. None when it was not pending (or, without
    self-approval, the approver requested it) by the time of the write."""
    condition = "#st = :pending" + ("" if self_approval else " AND requestedBy <> :approver")
    values: dict[str, Any] = {":pending": {"S": "pending"}}
    if not self_approval:
        values[":approver"] = {"S": approver}
    try:
        client("dynamodb").update_item(
            TableName=table, Key={"pk": {"S": pk}, "sk": {"S": f"promotion#{digest}"}},
            UpdateExpression="SET #st = :approved, approvedBy = :by, approvedAt = :at",
            ConditionExpression=condition, ExpressionAttributeNames={"#st": "state"},
            ExpressionAttributeValues={**values, ":approved": {"S": "approved"}, ":by": {"S": approver},
                                       ":at": {"S": at}})
    except ClientError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return None
        raise wrap(exc, f"approve promotion#{digest} in the ledger") from exc
    return read_promotion(table, pk, digest)


def promotion_copied(table: str, pk: str, digest: str, at: str) -> PromotionRecord:
    """The image is in the target repository: the promotion is done (its first copy time kept)."""
    item = _update(table, pk, f"promotion#{digest}", {"state": "copied"}, keep={"copiedAt": at})
    return _promotion(item)


def read_promotion(table: str, pk: str, digest: str) -> PromotionRecord | None:
    item = _read(table, pk, f"promotion#{digest}")
    return _promotion(item) if item else None


def promotions(table: str, pk: str) -> list[PromotionRecord]:
    """Every promotion into this service and environment, oldest request first."""
    found = []
    try:
        for page in client("dynamodb").get_paginator("query").paginate(
                TableName=table, KeyConditionExpression="pk = :pk AND begins_with(sk, :p)", ConsistentRead=True,
                ExpressionAttributeValues={":pk": {"S": pk}, ":p": {"S": "promotion#"}}):
            found += [_promotion(_python(raw)) for raw in page.get("Items", [])]
    except ClientError as exc:
        raise wrap(exc, "read the promotions from the ledger") from exc
    return sorted(found, key=lambda p: p.requested_at)


def read_current_of(table: str, pk: str, *, dynamodb: Any) -> CurrentRecord | None:
    """The current revision, read with the given client (another account's ledger, through an
    assumed role)."""
    try:
        item = dynamodb.get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": "current"}},
                                 ConsistentRead=True).get("Item")
    except ClientError as exc:
        raise wrap(exc, "read current from the ledger") from exc
    return _current(_python(item)) if item else None


def _promotion(item: dict[str, Any]) -> PromotionRecord:
    return PromotionRecord(service=item.get("service", ""), digest=item["digest"], source=item.get("source", ""),
                           tag=item.get("tag", ""), requested_by=item.get("requestedBy", ""),
                           requested_at=item.get("requestedAt", ""), state=item.get("state", "pending"),
                           approved_by=item.get("approvedBy", ""), approved_at=item.get("approvedAt", ""),
                           copied_at=item.get("copiedAt", ""), source_registry=item.get("sourceRegistry", ""))


# ---------------------------------------------------------------------------- rollouts
def deployment_recorded(table: str, pk: str, record: DeploymentRecord) -> DeploymentRecord:
    """A deployment as shipline started (or first saw) it; its start time is kept from the first time."""
    item = _update(table, pk, f"deployment#{record.deployment_id}", {
        "deploymentId": record.deployment_id, "cluster": record.cluster, "serviceName": record.service_name,
        "kind": record.kind, "revision": record.revision, "previousRevision": record.previous_revision,
        "arn": record.arn, "requestedBy": record.requested_by, "updatedAt": record.updated_at or now()},
        keep={"startedAt": record.started_at or now(), "state": record.state})
    return _deployment(item)


def deployment_changed(table: str, pk: str, deployment_id: str, *, state: str, reason: str, at: str,
                       rolled_back: bool = False, running: int | None = None) -> DeploymentRecord | None:
    """A deployment's state from its event. An ended deployment keeps its end: an IN_PROGRESS
    event delivered late (EventBridge does not order) changes nothing. Returns the record, or
    None when the state did not change it."""
    final = state != "IN_PROGRESS"
    attributes: dict[str, Any] = {"deploymentId": deployment_id, "state": state, "reason": reason, "updatedAt": at,
                                  "rolledBack": rolled_back}
    if running is not None:
        attributes["runningRevision"] = running
    if final:
        attributes["stateFinal"] = True
    try:
        item = _update(table, pk, f"deployment#{deployment_id}", attributes,
                       condition=("attribute_not_exists(stateFinal)", {}))
    except _ConditionFailed:
        return None
    return _deployment(item)


def read_deployment(table: str, pk: str, deployment_id: str) -> DeploymentRecord | None:
    item = _read(table, pk, f"deployment#{deployment_id}")
    return _deployment(item) if item else None


def _deployment(item: dict[str, Any]) -> DeploymentRecord:
    return DeploymentRecord(
        deployment_id=item.get("deploymentId", ""), cluster=item.get("cluster", ""),
        service_name=item.get("serviceName", ""), kind=item.get("kind", "other"), revision=item.get("revision"),
        previous_revision=item.get("previousRevision"), state=item.get("state", "IN_PROGRESS"),
        reason=item.get("reason", ""), rolled_back=bool(item.get("rolledBack", False)),
        running_revision=item.get("runningRevision"), arn=item.get("arn", ""), started_at=item.get("startedAt", ""),
        updated_at=item.get("updatedAt", ""), requested_by=item.get("requestedBy", ""))


def running_changed(table: str, pk: str, running: RunningRecord) -> bool:
    """What the service runs now, unless a later event already said otherwise."""
    try:
        _update(table, pk, "running", {
            "revision": running.revision, "deploymentId": running.deployment_id, "state": running.state,
            "updatedAt": running.at, "cluster": running.cluster, "serviceName": running.service_name},
            condition=("attribute_not_exists(updatedAt) OR updatedAt <= :at", {":at": {"S": running.at}}))
    except _ConditionFailed:
        return False
    return True


def read_running(table: str, pk: str) -> RunningRecord | None:
    item = _read(table, pk, "running")
    return _running(item) if item else None


def _running(item: dict[str, Any]) -> RunningRecord:
    return RunningRecord(revision=int(item["revision"]), deployment_id=item.get("deploymentId", ""),
                         state=item.get("state", "COMPLETED"), at=item.get("updatedAt", ""),
                         cluster=item.get("cluster", ""), service_name=item.get("serviceName", ""))


def rollout_refused(table: str, pk: str, revision: int, outcome: str, reason: str) -> None:
    _update(table, pk, f"rollout#{revision}", {"revision": revision, "outcome": outcome, "reason": reason,
                                               "at": now()})


def rollback_recorded(table: str, pk: str, record: RollbackRecord) -> None:
    """A person's rollback: who, when, from and to which revision."""
    _update(table, pk, f"rollback#{record.at}", {
        "requestedBy": record.requested_by, "how": record.how, "cluster": record.cluster,
        "serviceName": record.service_name, "fromRevision": record.from_revision, "toRevision": record.to_revision,
        "deployment": record.deployment, "at": record.at, "state": record.state})


def rollbacks(table: str, pk: str) -> list[RollbackRecord]:
    found = []
    try:
        paginator = client("dynamodb").get_paginator("query")
        for page in paginator.paginate(TableName=table, KeyConditionExpression="pk = :pk AND begins_with(sk, :sk)",
                                       ExpressionAttributeValues={":pk": {"S": pk}, ":sk": {"S": "rollback#"}},
                                       ConsistentRead=True):
            for raw in page.get("Items", []):
                item = _python(raw)
                found.append(RollbackRecord(at=item["at"], requested_by=item.get("requestedBy", ""),
                                            how=item.get("how", "updated"), cluster=item.get("cluster", ""),
                                            service_name=item.get("serviceName", ""),
                                            from_revision=item.get("fromRevision"), to_revision=item.get("toRevision"),
                                            deployment=item.get("deployment", ""), state=item.get("state", "done")))
    except ClientError as exc:
        raise wrap(exc, "read the rollbacks") from exc
    return found


def service_action(table: str, pk: str, *, name: str, kind: str, reason: str, at: str) -> None:
    """The service's last "ECS Service Action" event (steady state, tasks failing to start ...)."""
    _update(table, pk, "service-action", {"eventName": name, "eventType": kind, "reason": reason, "updatedAt": at})


# ---------------------------------------------------------------------------- reading a service
def history(table: str, pk: str, *, dynamodb: Any | None = None) -> ServiceHistory:
    """Every build, image and commit of one service, and its current revision."""
    builds, images, commits, current, running = [], [], [], None, None
    try:
        paginator = (dynamodb or client("dynamodb")).get_paginator("query")
        for page in paginator.paginate(
            TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": pk}}
        ):
            for raw in page.get("Items", []):
                item = _python(raw)
                sk = item["sk"]
                if sk.startswith("build#"):
                    builds.append(BuildRecord(build_id=item.get("buildId", sk[6:]), status=item.get("status", ""),
                                              commit=item.get("commit", ""), at=item.get("at", ""),
                                              trigger=item.get("trigger", ""), phase=item.get("phase", ""),
                                              reason=item.get("reason", "")))
                elif sk.startswith("image#"):
                    images.append(_image(item))
                elif sk.startswith("commit#"):
                    commits.append(_commit(item))
                elif sk == "current":
                    current = _current(item)
                elif sk == "running":
                    running = _running(item)
    except ClientError as exc:
        raise wrap(exc, "read the ledger") from exc
    return ServiceHistory(tuple(builds), tuple(images), current, running, tuple(commits))


# ---------------------------------------------------------------------------- items
def _update(table: str, pk: str, sk: str, attributes: dict[str, Any], *, add: dict[str, list[str]] | None = None,
            keep: dict[str, Any] | None = None, condition: tuple[str, dict] | None = None) -> dict[str, Any]:
    """Set `attributes` (and `keep` only where the item has none yet), add strings to string sets,
    in one UpdateItem; returns the whole item as it now is."""
    return _apply(_update_request(table, pk, sk, attributes, add=add, keep=keep, condition=condition))


def _apply(request: _UpdateRequest) -> dict[str, Any]:
    """One UpdateItem; returns the whole item as it now is (_ConditionFailed when its condition
    did not hold)."""
    sk = request.key["sk"]["S"]
    try:
        response = client("dynamodb").update_item(**request.parameters(), ReturnValues="ALL_NEW")
    except ClientError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            raise _ConditionFailed(f"record {sk}: its condition did not hold") from exc
        raise wrap(exc, f"record {sk} in the ledger") from exc
    return _python(response.get("Attributes", {}))


@dataclass(frozen=True)
class _UpdateRequest:
    """One UpdateItem's parameters, for a request of its own or a transaction's member."""

    table: str
    key: dict[str, Any]
    expression: str
    names: dict[str, str]
    values: dict[str, Any]
    condition: str | None
    attributes: dict[str, Any]  # what it sets (a transaction cancelled for its condition writes it alone)

    def parameters(self) -> dict[str, Any]:
        found = {"TableName": self.table, "Key": self.key, "UpdateExpression": self.expression,
                 "ExpressionAttributeNames": self.names}
        if self.values:  # DynamoDB refuses an empty ExpressionAttributeValues (a REMOVE alone has none)
            found["ExpressionAttributeValues"] = self.values
        if self.condition:
            found["ConditionExpression"] = self.condition
        return found


def _update_request(table: str, pk: str, sk: str, attributes: dict[str, Any], *,
                    add: dict[str, list[str]] | None = None, keep: dict[str, Any] | None = None,
                    condition: tuple[str, dict] | None = None, remove: tuple[str, ...] = (),
                    entries: dict[str, dict[str, Any]] | None = None, drop: dict[str, list[str]] | None = None,
                    condition_names: dict[str, str] | None = None) -> _UpdateRequest:
    """Set `attributes` (and `keep` only where the item has none yet), add strings to string sets,
    set `entries` of map attributes (the map must exist) and `drop` others; `condition_names`
    are the condition's own attribute-name placeholders."""
    sets = {key: sorted(set(values)) for key, values in (add or {}).items() if values}
    keep = keep or {}
    put = [(attribute, entry, value) for attribute, found in (entries or {}).items() for entry, value in found.items()]
    gone = [(attribute, entry) for attribute, found in (drop or {}).items() for entry in found]
    names = {f"#a{i}": key for i, key in enumerate(attributes)} | {f"#s{i}": key for i, key in enumerate(sets)}
    names |= {f"#k{i}": key for i, key in enumerate(keep)}
    names |= {f"#m{i}": attribute for i, (attribute, _, _) in enumerate(put)}
    names |= {f"#e{i}": entry for i, (_, entry, _) in enumerate(put)}
    names |= {f"#dm{i}": attribute for i, (attribute, _) in enumerate(gone)}
    names |= {f"#de{i}": entry for i, (_, entry) in enumerate(gone)}
    values = {f":v{i}": _TO.serialize(_plain(value)) for i, value in enumerate(attributes.values())}
    values |= {f":s{i}": {"SS": members} for i, members in enumerate(sets.values())}
    values |= {f":k{i}": _TO.serialize(_plain(value)) for i, value in enumerate(keep.values())}
    values |= {f":e{i}": _TO.serialize(_plain(value)) for i, (_, _, value) in enumerate(put)}
    assignments = [f"#a{i} = :v{i}" for i in range(len(attributes))]
    assignments += [f"#k{i} = if_not_exists(#k{i}, :k{i})" for i in range(len(keep))]
    assignments += [f"#m{i}.#e{i} = :e{i}" for i in range(len(put))]
    clauses = [f"SET {', '.join(assignments)}"] if assignments else []
    if sets:
        clauses.append("ADD " + ", ".join(f"#s{i} :s{i}" for i in range(len(sets))))
    removals = [f"#r{i}" for i in range(len(remove))] + [f"#dm{i}.#de{i}" for i in range(len(gone))]
    if remove:
        names |= {f"#r{i}": key for i, key in enumerate(remove)}
    if removals:
        clauses.append("REMOVE " + ", ".join(removals))
    expression = " ".join(clauses)
    if condition:
        values |= condition[1]
        names |= condition_names or {}
    return _UpdateRequest(table, {"pk": {"S": pk}, "sk": {"S": sk}}, expression, names, values,
                          condition[0] if condition else None, attributes)


def _transact(table: str, updates: list[_UpdateRequest]) -> None:
    """Several items' updates in one request: all of them, or (an error) none. A member whose
    condition does not hold cancels the whole (TransactionCanceledException, its reason
    ConditionalCheckFailed): _ConditionFailed, as for a single update."""
    # A conditional member asks for its item as it was when the condition fails: the
    # cancellation's CancellationReasons carry it (TransactWriteItems, Update's
    # ReturnValuesOnConditionCheckFailure ALL_OLD, in the DynamoDB API Reference:
    # https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html).
    members = [{"Update": u.parameters() | ({"ReturnValuesOnConditionCheckFailure": "ALL_OLD"} if u.condition else {})}
               for u in updates]
    try:
        client("dynamodb").transact_write_items(TransactItems=members)
    except ClientError as exc:
        cancelled = exc.response.get("CancellationReasons", [])
        reasons = [r.get("Code") for r in cancelled]
        if error_code(exc) == "TransactionCanceledException" and "ConditionalCheckFailed" in reasons:
            raise _ConditionFailed(f"records {', '.join(u.key['sk']['S'] for u in updates)}: "
                                   "a condition did not hold",
                                   [dict(r.get("Item", {})) if r.get("Code") == "ConditionalCheckFailed" else {}
                                    for r in cancelled]) from exc
        raise wrap(exc, f"record {', '.join(u.key['sk']['S'] for u in updates)} in the ledger") from exc


def _read(table: str, pk: str, sk: str) -> dict[str, Any] | None:
    try:
        item = client("dynamodb").get_item(
            TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True).get("Item")
    except ClientError as exc:
        raise wrap(exc, f"read {sk} from the ledger") from exc
    return _python(item) if item else None


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _python(item: dict) -> dict[str, Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, Decimal):
            return int(value) if value == int(value) else float(value)
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list | set):
            return [convert(v) for v in value]
        return value

    return {key: convert(_FROM.deserialize(value)) for key, value in item.items()}
