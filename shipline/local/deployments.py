"""The emulated ECS service deployments: what moto's ECS lacks when a service is updated.

moto's UpdateService only swaps the service's task definition. ECS starts a *deployment*:
- the service gets a new PRIMARY deployment (`ecs-svc/...`, rolloutState IN_PROGRESS) and the
  old one becomes ACTIVE until the new one is done (ECS API Reference, "Deployment");
- a *service deployment* with an ARN `service-deployment/<cluster>/<service>/<id>` is listed by
  ListServiceDeployments and described by DescribeServiceDeployments (status PENDING,
  IN_PROGRESS, SUCCESSFUL, STOPPED, STOP_REQUESTED, ROLLBACK_REQUESTED, ROLLBACK_IN_PROGRESS,
  ROLLBACK_SUCCESSFUL, ROLLBACK_FAILED); StopServiceDeployment with stopType ROLLBACK rolls an
  unfinished one back to the previous revision ("Stopping Amazon ECS service deployments");
- its target *service revision* is described by DescribeServiceRevisions, with the digest each
  image resolved to when the deployment started (`containerImages`: ECS API Reference,
  "ContainerImage"; a tag is resolved through moto's ECR at that moment, so the revision keeps
  running that digest when the tag moves on). CreateService makes one too, completed at once
  (no events: the service's creation is not what these emulations are for);
- EventBridge gets "ECS Deployment State Change" events: SERVICE_DEPLOYMENT_IN_PROGRESS at the
  start (and when a rollback starts, its reason naming the deployment it rolls back to),
  SERVICE_DEPLOYMENT_COMPLETED at steady state, SERVICE_DEPLOYMENT_FAILED when the circuit
  breaker trips ("Amazon ECS service deployment state change events"); and "ECS Service
  Action" events (SERVICE_STEADY_STATE, SERVICE_TASK_START_IMPAIRED: "Amazon ECS service action
  events").

Here a deployment completes a moment after it starts, unless its service was named to fail
(`shipline local run --fail-deployment SERVICE`): then the circuit breaker trips, and with
rollback on the service returns to the revision of its last completed deployment, which a new
deployment rolls out. No task runs: the counts are set as a steady service would show them.
A service revision's ARN is one per task definition here (a later deployment of the same one
resolves its tags again, as ECS's new service revision would). Not emulated: traffic shifting of
the blue/green, canary and linear strategies (they finish as a rolling update does), lifecycle
hooks, bake time, alarms.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.ecr.models import ecr_backends
from moto.ecs.exceptions import InvalidParameterException
from moto.ecs.models import ecs_backends
from moto.ecs.responses import EC2ContainerServiceResponse
from moto.events.models import Rule

from shipline.local.patches import Patches

DEPLOY_DELAY = 0.3  # seconds from a deployment's start to its end; AWS takes minutes
CIRCUIT_BREAKER_REASON = "ECS deployment circuit breaker: task failed to start."
LIST_PAGE = 20  # ListServiceDeployments' page when maxResults is not given
STOPPABLE = ("PENDING", "IN_PROGRESS", "STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS")


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class ServiceDeployment:
    arn: str
    deployment_id: str  # the PRIMARY deployment's id in DescribeServices, and the events' deploymentId
    cluster: str
    service: str
    service_arn: str
    cluster_arn: str
    target: str  # task-definition ARN
    source: str | None
    configuration: dict
    status: str = "IN_PROGRESS"
    status_reason: str = ""
    created_at: datetime = field(default_factory=_now)
    finished_at: datetime | None = None
    stopped_at: datetime | None = None
    rollback: dict | None = None

    def brief(self) -> dict:
        answer: dict[str, Any] = {
            "serviceDeploymentArn": self.arn, "serviceArn": self.service_arn, "clusterArn": self.cluster_arn,
            "createdAt": self.created_at.timestamp(), "startedAt": self.created_at.timestamp(),
            "targetServiceRevisionArn": self._revision_arn(self.target), "status": self.status}
        if self.status_reason:
            answer["statusReason"] = self.status_reason
        if self.finished_at:
            answer["finishedAt"] = self.finished_at.timestamp()
        return answer

    def described(self) -> dict:
        answer = self.brief()
        answer.pop("targetServiceRevisionArn")
        answer.update({
            "updatedAt": (self.finished_at or self.created_at).timestamp(),
            "targetServiceRevision": {"arn": self._revision_arn(self.target), "requestedTaskCount": 1,
                                      "runningTaskCount": 1, "pendingTaskCount": 0},
            "sourceServiceRevisions": ([{"arn": self._revision_arn(self.source), "requestedTaskCount": 1,
                                         "runningTaskCount": 1, "pendingTaskCount": 0}] if self.source else []),
            "deploymentConfiguration": self.configuration,
            "deploymentCircuitBreaker": {"status": "TRIGGERED" if self.status.startswith("ROLLBACK")
                                         and self.rollback and "circuit" in self.rollback.get("reason", "")
                                         else "MONITORING", "failureCount": 0, "threshold": 3},
        })
        if self.stopped_at:
            answer["stoppedAt"] = self.stopped_at.timestamp()
        if self.rollback:
            answer["rollback"] = self.rollback
        return answer

    def _revision_arn(self, task_definition: str | None) -> str:
        # A service revision per task definition, as far as this emulation goes.
        name = (task_definition or "").rsplit("/", 1)[-1].replace(":", "-")
        return self.service_arn.replace(":service/", ":service-revision/") + f"/{name}"


@dataclass
class EcsDeploymentEmulation:
    """Service deployments of one local account: their state here, their events on `emit`."""

    emit: Callable[[Any, float], None]  # (event or a state change to make at that time, delay in seconds)
    account: str
    region: str
    failing: set[str] = field(default_factory=set)  # ECS service names whose next deployment fails
    # ECS service names whose deployments do not end by themselves (a deployment that takes long,
    # for a test to act on while it is in progress); a stop still rolls them back.
    unending: set[str] = field(default_factory=set)
    deployments: dict[str, ServiceDeployment] = field(default_factory=dict)
    # CreateService's deployments, completed at once: listed and described, not reported or stopped
    initial: dict[str, ServiceDeployment] = field(default_factory=dict)
    revisions: dict[str, dict] = field(default_factory=dict)  # service revision ARN -> its description
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def backend(self) -> Any:
        return ecs_backends[self.account][self.region]

    # ------------------------------------------------------------------ stand-ins
    def stand_in(self, cluster: str, name: str, task_definition: str) -> None:
        """A service of the user's own infrastructure, steady on `task_definition`."""
        backend = self.backend()
        if cluster not in backend.clusters:
            backend.create_cluster(cluster_name=cluster)
        service = backend.create_service(cluster, name, 1, task_definition, launch_type="FARGATE")
        for deployment in service.deployments:
            deployment.update(rolloutState="COMPLETED", runningCount=1, pendingCount=0,
                              rolloutStateReason=f"ECS deployment {deployment['id']} completed.")
        service.running_count, service.pending_count = 1, 0
        self.created(service)

    # ------------------------------------------------------------------ moto
    def install(self, patches: Patches) -> None:
        emulation = self
        original_update = EC2ContainerServiceResponse.update_service

        def update_service(response: EC2ContainerServiceResponse) -> Any:
            with emulation._lock:
                cluster = response._get_param("cluster", "default")
                name = str(response._get_param("service")).split("/")[-1]
                service = response.ecs_backend._get_service(cluster, name)
                before = service.task_definition
                answer = original_update(response)
                target = response._get_param("taskDefinition")
                if target and (service.task_definition != before or response._get_param("forceNewDeployment")):
                    emulation.start(service, before, response._get_param("deploymentConfiguration") or {})
                return answer

        original_create = EC2ContainerServiceResponse.create_service

        def create_service(response: EC2ContainerServiceResponse) -> Any:
            with emulation._lock:
                answer = original_create(response)
                emulation.created(response.ecs_backend._get_service(response._get_param("cluster", "default"),
                                                                    str(response._get_param("serviceName"))))
                return answer

        def describe_service_revisions(response: EC2ContainerServiceResponse) -> str:
            arns = response._get_param("serviceRevisionArns") or []
            if not 1 <= len(arns) <= 20:
                raise InvalidParameterException("serviceRevisionArns must hold 1 to 20 ARNs")
            with emulation._lock:
                known = [dict(emulation.revisions[a]) for a in arns if a in emulation.revisions]
            failures = [{"arn": a, "reason": "MISSING"} for a in arns if a not in emulation.revisions]
            return json.dumps({"serviceRevisions": known, "failures": failures})

        def list_service_deployments(response: EC2ContainerServiceResponse) -> str:
            service = response.ecs_backend._get_service(response._get_param("cluster", "default"),
                                                        str(response._get_param("service")).split("/")[-1])
            wanted = response._get_param("status") or []
            with emulation._lock:
                found = [d for d in [*emulation.deployments.values(), *emulation.initial.values()]
                         if d.service_arn == service.arn and (not wanted or d.status in wanted)]
            found.sort(key=lambda d: d.created_at, reverse=True)
            # Paged as ECS pages it: maxResults 1 to 100, 20 when not given, then a nextToken
            # (ECS API Reference, "ListServiceDeployments").
            size = int(response._get_param("maxResults") or LIST_PAGE)
            if not 1 <= size <= 100:
                raise InvalidParameterException("maxResults must be between 1 and 100")
            start = int(response._get_param("nextToken") or 0)
            page: dict[str, Any] = {"serviceDeployments": [d.brief() for d in found[start:start + size]]}
            if start + size < len(found):
                page["nextToken"] = str(start + size)
            return json.dumps(page)

        def describe_service_deployments(response: EC2ContainerServiceResponse) -> str:
            arns = response._get_param("serviceDeploymentArns") or []
            if not 1 <= len(arns) <= 20:
                raise InvalidParameterException("serviceDeploymentArns must hold 1 to 20 ARNs")
            with emulation._lock:
                every = {**emulation.initial, **emulation.deployments}
                known = [every[a].described() for a in arns if a in every]
            failures = [{"arn": a, "reason": "MISSING"} for a in arns if a not in every]
            return json.dumps({"serviceDeployments": known, "failures": failures})

        def stop_service_deployment(response: EC2ContainerServiceResponse) -> str:
            arn = response._get_param("serviceDeploymentArn")
            stop_type = response._get_param("stopType") or "ROLLBACK"
            if stop_type not in ("ROLLBACK", "ABORT"):
                raise InvalidParameterException(f"Invalid stopType: {stop_type}")
            with emulation._lock:
                deployment = emulation.deployments.get(arn) or emulation.initial.get(arn)
                # The errors the ECS API Reference lists for StopServiceDeployment: an ARN it does
                # not know, and a deployment whose state does not allow a stop (the texts are the
                # local account's own).
                if deployment is None:
                    raise JsonRESTError("ServiceDeploymentNotFoundException",
                                        f"The service deployment {arn} does not exist.")
                if deployment.status not in STOPPABLE:
                    raise JsonRESTError("ConflictException",
                                        f"The service deployment is {deployment.status} and cannot be stopped.")
                emulation.stop(deployment)
            return json.dumps({"serviceDeploymentArn": arn})

        # A schedule rule (ScheduleExpression, no EventPattern) is run by its schedule alone; moto
        # matches it to every event put on its bus, and fails on its ECS target (EventBridge User
        # Guide, "Creating a rule that runs on a schedule": a rule has an event pattern or a schedule).
        original_send = Rule.send_to_targets

        def send_to_targets(rule: Rule, event: Any, transform_input: bool = True) -> None:
            if getattr(rule, "scheduled_expression", None) and not rule.event_pattern._pattern:
                return
            original_send(rule, event, transform_input)

        patches.set(Rule, "send_to_targets", send_to_targets)
        patches.set(EC2ContainerServiceResponse, "update_service", update_service)
        patches.set(EC2ContainerServiceResponse, "create_service", create_service)
        patches.set(EC2ContainerServiceResponse, "list_service_deployments", list_service_deployments)
        patches.set(EC2ContainerServiceResponse, "describe_service_revisions", describe_service_revisions)
        patches.set(EC2ContainerServiceResponse, "describe_service_deployments", describe_service_deployments)
        patches.set(EC2ContainerServiceResponse, "stop_service_deployment", stop_service_deployment)

    # ------------------------------------------------------------------ deployments
    def start(self, service: Any, source: str | None, configuration: dict) -> ServiceDeployment:
        """A new PRIMARY deployment of the service's task definition; the old ones stay ACTIVE."""
        deployment_id = self._new_primary(service, service.task_definition)
        deployment = self._deployment(service, deployment_id, source=source, configuration=configuration)
        self.deployments[deployment.arn] = deployment
        self._resolve(deployment)
        self._state_event(deployment, deployment_id, "SERVICE_DEPLOYMENT_IN_PROGRESS", "INFO",
                          f"ECS deployment {deployment_id} in progress.")
        fails = service.name in self.failing
        self.failing.discard(service.name)
        if service.name not in self.unending:
            self.emit(lambda: self._fail(deployment) if fails else self._complete(deployment, deployment_id),
                      DEPLOY_DELAY)
        return deployment

    def created(self, service: Any) -> ServiceDeployment:
        """CreateService's deployment: its service revision resolved now, completed at once, no events."""
        deployment_id = next((d["id"] for d in service.deployments if d.get("status") == "PRIMARY"), "")
        deployment = self._deployment(service, deployment_id, source=None, configuration={}, status="SUCCESSFUL")
        deployment.finished_at = deployment.created_at
        self.initial[deployment.arn] = deployment
        self._resolve(deployment)
        return deployment

    def _deployment(self, service: Any, deployment_id: str, **fields: Any) -> ServiceDeployment:
        """A service deployment of the service's task definition, with an ARN of its own."""
        number = next(self._ids)
        return ServiceDeployment(
            arn=(f"arn:aws:ecs:{self.region}:{self.account}:service-deployment/{service.cluster_name}/"
                 f"{service.name}/{number:04d}{uuid.uuid4().hex[:16]}"),
            deployment_id=deployment_id, cluster=service.cluster_name, service=service.name,
            service_arn=service.arn, cluster_arn=service.cluster_arn, target=service.task_definition, **fields)

    def _resolve(self, deployment: ServiceDeployment) -> None:
        """Its target service revision, each image resolved to a digest now (a tag through moto's
        ECR; an image elsewhere, or one ECR does not hold, is left without a digest)."""
        try:
            definition = self.backend().describe_task_definition(deployment.target)
        except Exception:  # noqa: BLE001 - gone: nothing to resolve
            return
        images = []
        for container in definition.container_definitions:
            image = str(container.get("image", ""))
            entry = {"containerName": container.get("name", ""), "image": image}
            digest = self._digest_of(image)
            if digest:
                entry["imageDigest"] = digest
            images.append(entry)
        arn = deployment._revision_arn(deployment.target)
        self.revisions[arn] = {
            "serviceRevisionArn": arn, "serviceArn": deployment.service_arn, "clusterArn": deployment.cluster_arn,
            "taskDefinition": definition.arn, "containerImages": images, "createdAt": _now().timestamp()}

    def _digest_of(self, image: str) -> str | None:
        if "@" in image:
            return image.split("@", 1)[1]
        host, _, path = image.partition("/")
        parts = host.split(".")  # <account>.dkr.ecr.<region>.amazonaws.com
        if len(parts) < 6 or parts[1:3] != ["dkr", "ecr"]:
            return None
        name, _, tag = path.partition(":")
        try:
            repository = ecr_backends[parts[0]][parts[3]].repositories.get(name)
            found = [i for i in (repository.images if repository else []) if (tag or "latest") in i.image_tags]
        except Exception:  # noqa: BLE001 - no such account or region here
            return None
        return str(found[0].get_image_digest()) if found else None

    def stop(self, deployment: ServiceDeployment) -> None:
        """StopServiceDeployment ROLLBACK: back to the revision the deployment replaced."""
        deployment.status = "ROLLBACK_REQUESTED"
        deployment.stopped_at = _now()
        self.emit(lambda: self._roll_back(deployment, "Service deployment rolled back because of a stop request."),
                  0.0)

    def _complete(self, deployment: ServiceDeployment, deployment_id: str) -> None:
        with self._lock:
            if deployment.status not in ("IN_PROGRESS", "ROLLBACK_IN_PROGRESS"):
                return  # stopped meanwhile
            service = self._service(deployment)
            if service is None:
                return
            service.deployments = [d for d in service.deployments if d["id"] == deployment_id]
            for d in service.deployments:
                d.update(rolloutState="COMPLETED", runningCount=1, pendingCount=0,
                         rolloutStateReason=f"ECS deployment {deployment_id} completed.", updatedAt=_now())
            deployment.status = "ROLLBACK_SUCCESSFUL" if deployment.status == "ROLLBACK_IN_PROGRESS" else "SUCCESSFUL"
            deployment.finished_at = _now()
            self._state_event(deployment, deployment_id, "SERVICE_DEPLOYMENT_COMPLETED", "INFO",
                              f"ECS deployment {deployment_id} completed.")
            self._action_event(deployment, "SERVICE_STEADY_STATE", "INFO", "")

    def _fail(self, deployment: ServiceDeployment) -> None:
        """The circuit breaker trips: FAILED, then (rollback on) back to the last completed revision."""
        with self._lock:
            if deployment.status != "IN_PROGRESS":
                return
            service = self._service(deployment)
            if service is None:
                return
            for d in service.deployments:
                if d["id"] == deployment.deployment_id:
                    d.update(rolloutState="FAILED", rolloutStateReason=CIRCUIT_BREAKER_REASON, updatedAt=_now())
            self._action_event(deployment, "SERVICE_TASK_START_IMPAIRED", "WARN",
                               "tasks are unable to consistently start and stay running")
            self._state_event(deployment, deployment.deployment_id, "SERVICE_DEPLOYMENT_FAILED", "ERROR",
                              CIRCUIT_BREAKER_REASON)
            if deployment.configuration.get("deploymentCircuitBreaker", {}).get("rollback"):
                self._roll_back(deployment, "Service deployment rolled back because the circuit breaker threshold "
                                            "was exceeded.", to_completed=True)
            else:
                deployment.status, deployment.finished_at = "STOPPED", _now()
                deployment.status_reason = CIRCUIT_BREAKER_REASON

    def _roll_back(self, deployment: ServiceDeployment, why: str, *, to_completed: bool = False) -> None:
        """Back to the previous service revision (StopServiceDeployment's ROLLBACK: "to the previous
        service revision"), or, for the circuit breaker and alarms (`to_completed`), to "the last
        deployment that completed successfully" (DeploymentCircuitBreaker, ECS API Reference),
        which "requires a previous deployment in COMPLETED state" (Developer Guide, "Amazon ECS
        deployment failure detection"): a deployment that replaced one still in progress goes back
        past it."""
        with self._lock:
            service = self._service(deployment)
            completed = next((d for d in (service.deployments if service is not None else [])
                              if d.get("rolloutState") == "COMPLETED" and d["id"] != deployment.deployment_id), None)
            to = (completed or {}).get("taskDefinition") if to_completed else deployment.source
            if service is None or not to:
                deployment.status, deployment.finished_at = "ROLLBACK_FAILED", _now()
                return
            completed_id = completed["id"] if completed else deployment.deployment_id
            service.task_definition = to
            rollback_id = self._new_primary(service, to)
            deployment.status = "ROLLBACK_IN_PROGRESS"
            deployment.status_reason = why
            deployment.rollback = {"reason": why, "startedAt": _now().timestamp(),
                                   "serviceRevisionArn": deployment._revision_arn(to)}
            # The documented reason of a circuit breaker's rollback; a stopped deployment's rollback is
            # not documented, and says so in its own words here.
            reason = (f"ECS deployment circuit breaker: rolling back to deploymentId {completed_id}."
                      if deployment.status_reason.startswith("Service deployment rolled back because the circuit")
                      else f"ECS deployment {deployment.deployment_id} stopped: rolling back to deploymentId "
                           f"{completed_id}.")
            self._state_event(deployment, rollback_id, "SERVICE_DEPLOYMENT_IN_PROGRESS", "INFO", reason)
            self.emit(lambda: self._complete(deployment, rollback_id), DEPLOY_DELAY)

    def _new_primary(self, service: Any, task_definition: str) -> str:
        deployment_id = f"ecs-svc/{time.time_ns() % 10 ** 19:019d}"
        for d in service.deployments:
            if d.get("status") == "PRIMARY":
                d["status"] = "ACTIVE"
        service.deployments.insert(0, {
            "id": deployment_id, "status": "PRIMARY", "taskDefinition": task_definition, "desiredCount": 1,
            "pendingCount": 1, "runningCount": 0, "failedTasks": 0, "createdAt": _now(), "updatedAt": _now(),
            "launchType": service.launch_type, "rolloutState": "IN_PROGRESS",
            "rolloutStateReason": f"ECS deployment {deployment_id} in progress."})
        return deployment_id

    def _service(self, deployment: ServiceDeployment) -> Any:
        try:
            return self.backend()._get_service(deployment.cluster, deployment.service)
        except Exception:  # noqa: BLE001 - deleted meanwhile
            return None

    def _state_event(self, deployment: ServiceDeployment, deployment_id: str, name: str, kind: str,
                     reason: str) -> None:
        self.emit(self._event("ECS Deployment State Change", deployment, {
            "eventType": kind, "eventName": name, "deploymentId": deployment_id, "clusterArn": deployment.cluster_arn,
            "updatedAt": _iso(_now()), "reason": reason}), 0.0)

    def _action_event(self, deployment: ServiceDeployment, name: str, kind: str, reason: str) -> None:
        detail = {"eventType": kind, "eventName": name, "clusterArn": deployment.cluster_arn,
                  "createdAt": _iso(_now())}
        if reason:
            detail["reason"] = reason
        self.emit(self._event("ECS Service Action", deployment, detail), 0.0)

    def _event(self, kind: str, deployment: ServiceDeployment, detail: dict) -> dict:
        return {"version": "0", "id": str(uuid.uuid4()), "detail-type": kind, "source": "aws.ecs",
                "account": self.account, "time": _now().strftime("%Y-%m-%dT%H:%M:%SZ"), "region": self.region,
                "resources": [deployment.service_arn], "detail": detail}
