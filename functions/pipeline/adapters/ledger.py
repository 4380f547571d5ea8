"""The ledger (DynamoDB): what shipline did, per service and environment. This module alone
knows the item layout; it takes and returns the records of `pipeline.domain.records`.

One partition per service and environment (`<project>#<environment>#<service>`), items:
- `build#<build ARN>`: a build, from its start to its end;
- `commit#<short sha>`: a commit as planned (first planned at; latest attempt and its build);
- `image#<digest>`: an image: its tags, each scanner's latest result, its revision;
- `finding#<finding ARN>`: an Amazon Inspector finding (and when it was queued for a digest);
- `current`: the revision registered last;
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

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from pipeline.adapters.clients import client
from pipeline.adapters.errors import AwsCallError, error_code, wrap
from pipeline.domain.naming import is_commit, short_sha
from pipeline.domain.records import (
    BuildRecord,
    CommitRecord,
    CurrentRecord,
    FindingRecord,
    ImageRecord,
    PendingFinding,
    ScanRecord,
    ServiceHistory,
)
from pipeline.domain.rollout import DeploymentRecord, RollbackRecord, RunningRecord
from pipeline.domain.scans import Finding

_TO = TypeSerializer()
_FROM = TypeDeserializer()


class _ConditionFailed(AwsCallError):
    """An update's condition did not hold."""


def now() -> str:
    """The ledger's timestamps: UTC, ISO 8601 (they sort as text)."""
    return datetime.now(UTC).isoformat()


# ---------------------------------------------------------------------------- builds and commits
def build_started(table: str, pk: str, record: BuildRecord, attempt: int) -> None:
    """A build has started: its item, and the commit's latest attempt (the commit's first
    planned time is kept)."""
    _update(table, pk, f"build#{record.build_id}", {
        "buildId": record.build_id, "status": record.status, "commit": record.commit, "trigger": record.trigger,
        "at": record.at})
    if not is_commit(record.commit):  # a branch (the schedule with GitHub): the build resolves it; no commit item
        return
    _update(table, pk, f"commit#{short_sha(record.commit)}", {
        "commit": record.commit, "attempt": attempt, "lastBuild": record.build_id, "lastStatus": record.status,
    }, keep={"plannedAt": record.at})


def build_ended(table: str, pk: str, record: BuildRecord) -> None:
    """A build's end: its item, and its commit's latest status when it is still the latest attempt."""
    _update(table, pk, f"build#{record.build_id}", {
        "buildId": record.build_id, "status": record.status, "phase": record.phase, "reason": record.reason,
        "commit": record.commit, "at": record.at})
    if len(record.commit) != 40:
        return
    try:
        _update(table, pk, f"commit#{short_sha(record.commit)}", {"lastStatus": record.status},
                condition=("lastBuild = :build", {":build": {"S": record.build_id}}))
    except _ConditionFailed:
        pass  # a later attempt is the commit's latest (or it was never planned): nothing to change there


def commit_planned(table: str, pk: str, commit: str, at: str) -> CommitRecord:
    """Note that the pipeline planned a build of this commit; returns what the ledger knows of it
    (its first planned time and latest attempt)."""
    item = _update(table, pk, f"commit#{short_sha(commit)}", {"commit": commit}, keep={"plannedAt": at})
    return _commit(item)


def read_commit(table: str, pk: str, sha: str) -> CommitRecord | None:
    item = _read(table, pk, f"commit#{short_sha(sha)}")
    return _commit(item) if item else None


def _commit(item: dict[str, Any]) -> CommitRecord:
    return CommitRecord(commit=item.get("commit", ""), planned_at=item.get("plannedAt", ""),
                        attempt=int(item.get("attempt", 0)), last_build=item.get("lastBuild", ""),
                        last_status=item.get("lastStatus", ""))


# ---------------------------------------------------------------------------- images
def image_pushed(table: str, pk: str, digest: str, tag: str | None) -> ImageRecord:
    item = _update(table, pk, f"image#{digest}", {"digest": digest, "lastPushAt": now()},
                   add={"tags": [tag] if tag else []})
    return _image(item)


def image_scanned(table: str, pk: str, digest: str, tags: list[str], scan: ScanRecord) -> ImageRecord:
    """The scanner's latest result for the image (each scanner keeps its own)."""
    item = _update(table, pk, f"image#{digest}", {"digest": digest, f"scan_{scan.scanner}": {
        "status": scan.status, "counts": scan.counts, "at": scan.at}}, add={"tags": tags})
    return _image(item)


def read_image(table: str, pk: str, digest: str) -> ImageRecord | None:
    item = _read(table, pk, f"image#{digest}")
    return _image(item) if item else None


def finding_seen(table: str, pk: str, record: FindingRecord) -> FindingRecord:
    """An Amazon Inspector finding as last seen; returns what the ledger holds of it (when it
    was queued for a digest, if it was)."""
    f = record.finding
    item = _update(table, pk, f"finding#{record.finding_arn}", {
        "digest": record.digest, "severity": f.severity, "id": f.id, "package": f.package, "version": f.version,
        "fixedIn": f.fixed_in, "status": record.status, "firstObservedAt": record.first_observed_at, "at": now()})
    return FindingRecord(finding_arn=record.finding_arn, digest=item.get("digest", ""), finding=_finding(item),
                         status=item.get("status", ""), first_observed_at=item.get("firstObservedAt", ""),
                         queued_at=item.get("queuedAt", ""))


# ---------------------------------------------------------------------------- findings digests
def pending_partition(project: str, environment: str) -> str:
    return f"{project}#{environment}#~pending-findings"


def finding_queued(table: str, pk: str, outbox: str, pending: PendingFinding) -> None:
    """Queue a finding for its image's digest: its pending item (written again, the same, by a
    replay), then the finding's own `queuedAt` (kept from the first time)."""
    f = pending.finding
    _update(table, outbox, _pending_sk(pending), {
        "service": pending.service, "digest": pending.digest, "tags": sorted(pending.tags),
        "findingArn": pending.finding_arn, "severity": f.severity, "id": f.id, "package": f.package,
        "version": f.version, "fixedIn": f.fixed_in, "hour": pending.hour})
    _update(table, pk, f"finding#{pending.finding_arn}", {}, keep={"queuedAt": now()})


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


def _leave_outbox(table: str, outbox: str, pending: PendingFinding) -> None:
    try:
        client("dynamodb").delete_item(TableName=table, Key={"pk": {"S": outbox}, "sk": {"S": _pending_sk(pending)}},
                                       ConditionExpression="attribute_exists(sk)")
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
    return ImageRecord(digest=item.get("digest", ""), tags=tuple(sorted(item.get("tags", []))),
                       last_push_at=item.get("lastPushAt", ""), scans=scans, revision=item.get("revision"),
                       revision_arn=item.get("revisionArn", ""), registered_at=item.get("registeredAt", ""))


# ---------------------------------------------------------------------------- registration
def registered(table: str, pk: str, current: CurrentRecord) -> None:
    """A new revision: on its image, and as the service's current one."""
    _update(table, pk, f"image#{current.digest}", {"revision": current.revision, "revisionArn": current.revision_arn,
                                                    "registeredAt": current.registered_at})
    _update(table, pk, "current", {
        "digest": current.digest, "tag": current.tag, "revision": current.revision,
        "revisionArn": current.revision_arn, "registeredAt": current.registered_at, "pushedAt": current.pushed_at,
        "commit": current.commit, "plannedAt": current.planned_at})


def read_current(table: str, pk: str) -> CurrentRecord | None:
    item = _read(table, pk, "current")
    return _current(item) if item else None


def _current(item: dict[str, Any]) -> CurrentRecord:
    return CurrentRecord(digest=item["digest"], revision=int(item["revision"]),
                         revision_arn=item.get("revisionArn", ""), registered_at=item.get("registeredAt", ""),
                         tag=item.get("tag", ""), pushed_at=item.get("pushedAt", ""), commit=item.get("commit", ""),
                         planned_at=item.get("plannedAt", ""))


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
        "deployment": record.deployment, "at": record.at})


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
                                            deployment=item.get("deployment", "")))
    except ClientError as exc:
        raise wrap(exc, "read the rollbacks") from exc
    return found


def service_action(table: str, pk: str, *, name: str, kind: str, reason: str, at: str) -> None:
    """The service's last "ECS Service Action" event (steady state, tasks failing to start ...)."""
    _update(table, pk, "service-action", {"eventName": name, "eventType": kind, "reason": reason, "updatedAt": at})


# ---------------------------------------------------------------------------- reading a service
def history(table: str, pk: str, *, dynamodb: Any | None = None) -> ServiceHistory:
    """Every build and image of one service, and its current revision."""
    builds, images, current, running = [], [], None, None
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
                elif sk == "current":
                    current = _current(item)
                elif sk == "running":
                    running = _running(item)
    except ClientError as exc:
        raise wrap(exc, "read the ledger") from exc
    return ServiceHistory(tuple(builds), tuple(images), current, running)


# ---------------------------------------------------------------------------- items
def _update(table: str, pk: str, sk: str, attributes: dict[str, Any], *, add: dict[str, list[str]] | None = None,
            keep: dict[str, Any] | None = None, condition: tuple[str, dict] | None = None) -> dict[str, Any]:
    """Set `attributes` (and `keep` only where the item has none yet), add strings to string sets,
    in one UpdateItem; returns the whole item as it now is."""
    sets = {key: sorted(set(values)) for key, values in (add or {}).items() if values}
    keep = keep or {}
    names = {f"#a{i}": key for i, key in enumerate(attributes)} | {f"#s{i}": key for i, key in enumerate(sets)}
    names |= {f"#k{i}": key for i, key in enumerate(keep)}
    values = {f":v{i}": _TO.serialize(_plain(value)) for i, value in enumerate(attributes.values())}
    values |= {f":s{i}": {"SS": members} for i, members in enumerate(sets.values())}
    values |= {f":k{i}": _TO.serialize(_plain(value)) for i, value in enumerate(keep.values())}
    assignments = [f"#a{i} = :v{i}" for i in range(len(attributes))]
    assignments += [f"#k{i} = if_not_exists(#k{i}, :k{i})" for i in range(len(keep))]
    expression = "SET " + ", ".join(assignments)
    if sets:
        expression += " ADD " + ", ".join(f"#s{i} :s{i}" for i in range(len(sets)))
    arguments: dict[str, Any] = {}
    if condition:
        arguments["ConditionExpression"] = condition[0]
        values |= condition[1]
    try:
        response = client("dynamodb").update_item(
            TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, UpdateExpression=expression,
            ExpressionAttributeNames=names, ExpressionAttributeValues=values, ReturnValues="ALL_NEW", **arguments)
    except ClientError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            raise _ConditionFailed(f"record {sk}: its condition did not hold") from exc
        raise wrap(exc, f"record {sk} in the ledger") from exc
    return _python(response.get("Attributes", {}))


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
