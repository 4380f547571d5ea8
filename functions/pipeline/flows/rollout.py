"""Roll a registered revision out to its ECS service, and follow the deployment to its end.

- A registration queues one rollout request per revision (when the stack's Rollout is not
  `none`; with `none`, nothing here runs and no ECS service is called).
- The rollout function takes each request from the queue: it reads the service, and unless the
  service already deploys that revision (a retry after a lost response) or a newer one was
  registered since, calls UpdateService with the revision, the circuit breaker with rollback and
  the stack's strategy. A throttled or failed call leaves the request on the queue for later;
  after the queue's maxReceiveCount it is dead-lettered. A missing service, or one another
  deployment controller deploys (CODE_DEPLOY, EXTERNAL: UpdateService cannot change its task
  definition), is reported once and the request is dropped.
- ECS's "ECS Deployment State Change" events move the deployment's ledger item; its end (completed,
  failed, rolled back) sends one message naming the revision that runs now.
"""

from __future__ import annotations

import json
from functools import partial

from aws_lambda_powertools import Logger

from pipeline.adapters import ecs, ledger, schedules, sns, sqs
from pipeline.adapters.ecs import ServiceMissingError
from pipeline.adapters.schedules import ScheduledTaskMissingError
from pipeline.domain.manifest import EcsService, Manifest
from pipeline.domain.notifications import (
    Notification,
    deployment_notification,
    missing_service_notification,
    other_controller_notification,
)
from pipeline.domain.records import CurrentRecord
from pipeline.domain.rollout import (
    FINAL_STATES,
    ROLLING_CONTROLLER,
    STATE_OF_EVENT,
    DeploymentRecord,
    DeploymentState,
    RolloutOutcome,
    RolloutRequest,
    RunningRecord,
    revision_of,
    service_arn_parts,
)
from pipeline.events.envelope import InvalidEventError, NotOursError
from pipeline.flows.idempotency import once
from pipeline.settings import Settings

logger = Logger(child=True)


# ---------------------------------------------------------------------------- the registration's hook
def request_rollout(settings: Settings, service: str, family: str, revision: int | None, arn: str | None) -> bool:
    """Queue the rollout of a registered revision, once per revision. Nothing at all when the
    stack's Rollout is none. Returns whether a request was queued now."""
    if not settings.rollout_policy.enabled or revision is None or not arn:
        return False
    if not settings.rollout_queue_url:
        raise ValueError("ROLLOUT_QUEUE_URL is required when ROLLOUT is not none")
    body = json.dumps(RolloutRequest(service, family, revision, arn).body())
    queue = settings.rollout_queue_url
    return once(f"rollout-request:{family}:{revision}", partial(sqs.send, queue, body)).fresh


# ---------------------------------------------------------------------------- the rollout
def roll_out(settings: Settings, manifest: Manifest, request: RolloutRequest) -> dict:
    target = manifest.service(request.service).ecs_service(settings.project, settings.environment)
    family = settings.target.family(request.service)
    if request.family != family:  # a request is only ever for the service's own family
        raise InvalidEventError(f"family {request.family} is not {request.service}'s ({family})")
    table, pk = _ledger(settings), settings.ledger_key(request.service)
    current = ledger.read_current(table, pk)
    if _superseded(current, request):
        return _result("superseded", request, target, reason=f"revision {current.revision if current else ''} "
                                                             "was registered since")
    effect = once(f"rollout:{target.cluster}/{target.name}@{request.family}:{request.revision}",
                  partial(_update, settings, request, target))
    if effect.state == "in flight":
        return _result("in flight", request, target)
    return dict(effect.value or {})


def _superseded(current: CurrentRecord | None, request: RolloutRequest) -> bool:
    return bool(current and current.revision > request.revision)


def _update(settings: Settings, request: RolloutRequest, target: EcsService) -> dict:
    table, pk = _ledger(settings), settings.ledger_key(request.service)
    try:
        service = ecs.describe_service(target.cluster, target.name)
        controller = str((service.get("deploymentController") or {}).get("type") or ROLLING_CONTROLLER)
        if controller != ROLLING_CONTROLLER:
            return _other_controller(settings, request, target, controller)
        primary = _primary(service)
        if primary and revision_of(primary.get("taskDefinition", "")) == (request.family, request.revision):
            return _result("already rolling out", request, target, deployment=str(primary.get("id", "")))
        previous = _previous(service)
        updated = ecs.update_service(target.cluster, target.name, request.revision_arn,
                                     settings.rollout_policy.deployment_configuration())
    except ServiceMissingError as exc:
        return _service_missing(settings, request, target, str(exc))
    new = _primary(updated) or {}
    deployment_id = str(new.get("id", ""))
    arn = next((d.get("serviceDeploymentArn", "") for d in
                ecs.list_service_deployments(target.cluster, target.name, ["PENDING", "IN_PROGRESS"])), "")
    ledger.deployment_recorded(table, pk, DeploymentRecord(
        deployment_id=deployment_id, cluster=target.cluster, service_name=target.name, kind="rollout",
        revision=request.revision, previous_revision=previous, arn=arn, started_at=ledger.now()))
    logger.info("rollout started", extra={"service": request.service, "revision": request.revision,
                                          "deployment": deployment_id})
    return _result("rolling out", request, target, deployment=deployment_id, previous=previous)


def _service_missing(settings: Settings, request: RolloutRequest, target: EcsService, problem: str) -> dict:
    """Reported once per ECS service (while the idempotency record lasts), recorded per revision,
    and not retried: the request is dropped."""
    notice = missing_service_notification(environment=settings.environment, service=request.service,
                                          cluster=target.cluster, service_name=target.name, problem=problem)
    return _refused(settings, request, target, "service missing", problem, (notice, "missing-service-notice"),
                    "rollout not possible: the ECS service is missing")


def _other_controller(settings: Settings, request: RolloutRequest, target: EcsService, controller: str) -> dict:
    """A service another deployment controller deploys: UpdateService would be refused
    (InvalidParameterException), so it is not called. Reported once per ECS service, recorded
    per revision, and not retried: the request is dropped."""
    notice = other_controller_notification(environment=settings.environment, service=request.service,
                                           cluster=target.cluster, service_name=target.name, controller=controller)
    return _refused(settings, request, target, "another controller",
                    f"the service uses the {controller} deployment controller", (notice, "other-controller-notice"),
                    "rollout not possible: another deployment controller deploys the service")


def _refused(settings: Settings, request: RolloutRequest, target: EcsService, outcome: RolloutOutcome,
             problem: str, message: tuple[Notification, str], line: str) -> dict:
    """A rollout the service cannot take: the revision's refusal in the ledger, one message per
    ECS service and kind of refusal (`message`: the notification, its idempotency key's prefix),
    one warning, and the request dropped."""
    table, pk = _ledger(settings), settings.ledger_key(request.service)
    ledger.rollout_refused(table, pk, request.revision, outcome, problem)
    topic = settings.notification_topic_arn or ""
    notice, key = message
    once(f"{key}:{target.cluster}/{target.name}", partial(sns.publish, topic, notice))
    logger.warning(line, extra={"service": request.service, "cluster": target.cluster, "serviceName": target.name,
                                "problem": problem})
    return _result(outcome, request, target, reason=problem)


def _primary(service: dict) -> dict | None:
    return next((d for d in service.get("deployments", []) if d.get("status") == "PRIMARY"), None)


def _previous(service: dict) -> int | None:
    """The revision a failed deployment rolls back to: the last deployment that completed (the
    circuit breaker's rollback "requires a previous deployment in COMPLETED state"), else the
    primary one."""
    deployments = service.get("deployments", [])
    chosen = next((d for d in deployments if d.get("rolloutState") == "COMPLETED"), None) or _primary(service)
    found = revision_of(str((chosen or {}).get("taskDefinition", "")))
    return found[1] if found else None


def _result(outcome: RolloutOutcome, request: RolloutRequest, target: EcsService, **more: object) -> dict:
    return {"outcome": outcome, "service": request.service, "revision": request.revision,
            "cluster": target.cluster, "serviceName": target.name, **{k: v for k, v in more.items() if v}}


def _ledger(settings: Settings) -> str:
    if not settings.ledger_table:
        raise ValueError("LEDGER_TABLE is required")
    return settings.ledger_table


# ---------------------------------------------------------------------------- ECS's events
def service_of_arn(settings: Settings, manifest: Manifest, service_arn: str) -> tuple[str, EcsService]:
    """The manifest service whose ECS service this is, in this stack's environment."""
    if not service_arn:
        raise NotOursError("the event names no ECS service (resources is empty)")
    parts = service_arn_parts(service_arn)
    if parts:
        for name, spec in manifest.services.items():
            target = spec.ecs_service(settings.project, settings.environment)
            if (target.cluster, target.name) == parts:
                return name, target
    raise NotOursError(f"{service_arn} is not the ECS service of a manifest service in {settings.environment}")


def on_deployment_event(settings: Settings, manifest: Manifest, *, service_arn: str, deployment_id: str,
                        event_name: str, reason: str, updated_at: str) -> dict:
    service, target = service_of_arn(settings, manifest, service_arn)
    state: DeploymentState = STATE_OF_EVENT[event_name]
    table, pk = _ledger(settings), settings.ledger_key(service)
    record = ledger.read_deployment(table, pk, deployment_id)
    if record is None:  # not started by shipline: a stopped deployment's rollback, a console update
        record = ledger.deployment_recorded(table, pk, _unknown(table, pk, target, deployment_id, updated_at))
    running: int | None = None
    rolled_back = False
    if state == "COMPLETED":
        running = record.revision if record.revision is not None else _deployment_revision(target, deployment_id)
    elif state == "FAILED":
        # With rollback on, ECS has started a deployment of the last completed revision: the
        # service's PRIMARY deployment now names it.
        try:
            service_now = ecs.describe_service(target.cluster, target.name)
        except ServiceMissingError:
            service_now = {}
        primary = _primary(service_now) or {}
        parsed = revision_of(str(primary.get("taskDefinition", "")))
        now_revision = parsed[1] if parsed else None
        primary_id = str(primary.get("id", ""))
        if record.revision is None or now_revision in (None, record.revision):
            running = now_revision if now_revision is not None else record.revision
        elif _ecs_rollback(table, pk, record, primary_id, now_revision):
            rolled_back, running, state = True, now_revision, "ROLLED_BACK"
            ledger.deployment_recorded(table, pk, DeploymentRecord(
                deployment_id=primary_id, cluster=target.cluster, service_name=target.name,
                kind="automatic rollback", revision=running, started_at=updated_at,
                requested_by="ECS (circuit breaker or alarm rollback)"))
        else:
            # This event came late (ECS sends its events at least once and not in order; the rule
            # retries for an hour): PRIMARY is a deployment started since (a newer rollout, or one
            # of another revision than ECS's rollback goes to), and its record is left as it is.
            # The rollback went to the last completed revision, which this rollout read when it
            # started.
            running = record.previous_revision
            if running is not None and running != record.revision:
                rolled_back, state = True, "ROLLED_BACK"
    changed = ledger.deployment_changed(table, pk, deployment_id, state=state, reason=reason, at=updated_at,
                                        rolled_back=rolled_back, running=running)
    if changed is None:  # it had ended already: a late IN_PROGRESS changes nothing
        ended = ledger.read_deployment(table, pk, deployment_id)
        if state == "IN_PROGRESS" or ended is None:
            return {"outcome": "already ended", "service": service, "deployment": deployment_id}
        # A repeated end, or the retry of an invocation that failed after recording it: what
        # follows (what runs, scheduled tasks, the message) is done again, each at most once.
        changed, state, reason = ended, ended.state, ended.reason
        running, rolled_back = ended.running_revision, ended.rolled_back
    retargeted: list[str] = []
    if running is not None:
        now_runs = ledger.running_changed(table, pk, RunningRecord(
            revision=running, deployment_id=deployment_id, state=state, at=updated_at, cluster=target.cluster,
            service_name=target.name))
        if now_runs and state in ("COMPLETED", "ROLLED_BACK"):
            family = settings.target.family(service)
            partition = service_arn.split(":")[1] if service_arn.count(":") >= 5 else "aws"
            arn = f"arn:{partition}:ecs:{settings.region}:{settings.account}:task-definition/{family}:{running}"
            retargeted = retarget_scheduled_tasks(target, family, arn)
    notified = False
    if state in FINAL_STATES and _tells_a_person(record, state):
        notice = deployment_notification(project=settings.project, environment=settings.environment,
                                         service=service, record=changed, state=state, reason=reason, running=running)
        topic = settings.notification_topic_arn or ""
        notified = once(f"deployment-notice:{target.cluster}/{target.name}/{deployment_id}",
                        partial(sns.publish, topic, notice)).fresh
    return {"outcome": "recorded", "service": service, "deployment": deployment_id, "state": state,
            "running": running, "rolledBack": rolled_back, "notified": notified,
            **({"retargeted": retargeted} if retargeted else {})}


def retarget_scheduled_tasks(target: EcsService, family: str, task_definition_arn: str) -> list[str]:
    """The service's scheduled tasks (services.toml's schedule_rules and schedules) run the
    revision the service now runs. One that does not exist is a warning, not a failure: the
    deployment's record and message do not wait for it."""
    done: list[str] = []
    for rule in target.schedule_rules:
        try:
            if schedules.retarget_rule(rule, family, task_definition_arn):
                done.append(f"rule/{rule}")
        except ScheduledTaskMissingError as exc:
            logger.warning(f"scheduled task not retargeted: {exc}")
    for name in target.schedules:
        try:
            if schedules.retarget_schedule(name, family, task_definition_arn):
                done.append(f"schedule/default/{name}")
        except ScheduledTaskMissingError as exc:
            logger.warning(f"scheduled task not retargeted: {exc}")
    return done


def _unknown(table: str, pk: str, target: EcsService, deployment_id: str, at: str) -> DeploymentRecord:
    """A deployment shipline did not start. When it deploys the revision a person's `shipline
    rollback` stopped a deployment for (StopServiceDeployment's rollback has a deployment of its
    own), or the revision of a rollback whose UpdateService has not been recorded yet (its
    events can come first), it is that person's rollback; otherwise it is recorded only."""
    revision = _deployment_revision(target, deployment_id)
    theirs = [r for r in ledger.rollbacks(table, pk)
              if revision is not None and r.to_revision == revision and r.state != "failed"
              and (r.how == "stopped" or r.deployment == deployment_id
                   or (r.state == "requested" and not r.deployment))]
    person = max(theirs, key=lambda r: r.at) if theirs else None
    return DeploymentRecord(deployment_id=deployment_id, cluster=target.cluster, service_name=target.name,
                            kind="rollback" if person else "other", revision=revision, state="IN_PROGRESS",
                            started_at=at, requested_by=person.requested_by if person else "")


def _ecs_rollback(table: str, pk: str, failed: DeploymentRecord, primary_id: str, primary_revision: int) -> bool:
    """Whether the service's PRIMARY deployment, of another revision than the failed one's, is
    ECS's rollback of it: not a newer rollout shipline started (whose record says so), and of the
    revision the rollback goes to (the last completed one, as the rollout read it). A deployment
    recorded as a person's rollback of that revision may be ECS's own, matched to an earlier stop
    of the same revision when its events came first: it is taken for ECS's, as it always was."""
    if failed.previous_revision not in (None, primary_revision):
        return False  # not the revision ECS's rollback goes to: no read needed
    later = ledger.read_deployment(table, pk, primary_id) if primary_id and primary_id != failed.deployment_id else None
    return later is None or later.kind != "rollout"


def _tells_a_person(record: DeploymentRecord, state: DeploymentState) -> bool:
    """One message per deployment shipline or a person started. ECS's own rollback deployment
    was told with the failure it undid; a deployment made elsewhere is recorded only."""
    return record.kind in ("rollout", "rollback")


def _deployment_revision(target: EcsService, deployment_id: str) -> int | None:
    try:
        service = ecs.describe_service(target.cluster, target.name)
    except ServiceMissingError:
        return None
    found = next((d for d in service.get("deployments", []) if d.get("id") == deployment_id), None)
    parsed = revision_of(str((found or {}).get("taskDefinition", "")))
    return parsed[1] if parsed else None


def on_service_action(settings: Settings, manifest: Manifest, *, service_arn: str, event_name: str,
                      event_type: str, reason: str, at: str) -> dict:
    service, _ = service_of_arn(settings, manifest, service_arn)
    ledger.service_action(_ledger(settings), settings.ledger_key(service), name=event_name, kind=event_type,
                          reason=reason, at=at)
    return {"outcome": "recorded", "service": service, "action": event_name}
