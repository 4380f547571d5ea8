"""ECS: read the latest task-definition revision, register a new one."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection
from typing import Any

from botocore.exceptions import ClientError

from pipeline.adapters.clients import client
from pipeline.adapters.errors import error_code, wrap


def latest_task_definition(family: str, *, ecs: Any | None = None) -> tuple[dict, list[dict]] | None:
    """The latest ACTIVE revision of `family` and its tags, or None when it has none."""
    ecs = ecs or client("ecs")
    try:
        response = ecs.describe_task_definition(taskDefinition=family, include=["TAGS"])
    except ClientError as exc:
        if error_code(exc) == "ClientException":  # "Unable to describe task definition."
            return None
        raise wrap(exc, f"describe task definition {family}") from exc
    return response["taskDefinition"], response.get("tags", [])


def task_definition(family: str, revision: int, *, ecs: Any | None = None) -> dict | None:
    """One revision of `family`, whatever its status, or None when ECS no longer has it."""
    ecs = ecs or client("ecs")
    try:
        return dict(ecs.describe_task_definition(taskDefinition=f"{family}:{revision}")["taskDefinition"])
    except ClientError as exc:
        if error_code(exc) == "ClientException":  # "Unable to describe task definition."
            return None
        raise wrap(exc, f"describe task definition {family}:{revision}") from exc


# ECS throttles by token bucket: a ThrottlingException ("Rate exceeded") is refused before the
# request is processed, so repeating it cannot make a second revision. A 5xx or a lost response
# may have registered one: those are not repeated here (the invocation's retry checks first).
THROTTLED = "ThrottlingException"
THROTTLE_ATTEMPTS = 5


def register_task_definition(arguments: dict, *, ecs: Any | None = None,
                             sleep: Callable[[float], None] = time.sleep) -> tuple[str, int]:
    """Register a revision; returns its ARN and revision number. Only throttling is retried."""
    ecs = ecs or client("ecs", retry=False)
    for attempt in range(1, THROTTLE_ATTEMPTS + 1):
        try:
            definition = ecs.register_task_definition(**arguments)["taskDefinition"]
            return str(definition["taskDefinitionArn"]), int(definition["revision"])
        except ClientError as exc:
            if error_code(exc) != THROTTLED or attempt == THROTTLE_ATTEMPTS:
                raise wrap(exc, f"register task definition {arguments.get('family')}") from exc
            sleep(random.uniform(0, min(2 ** attempt * 0.1, 5)))  # jittered, as botocore's backoff
    raise AssertionError("unreachable")


def active_revisions(family: str, *, ecs: Any | None = None) -> list[int]:
    """Every ACTIVE revision of `family`, newest first (ListTaskDefinitions with the full family
    name as `familyPrefix`, status ACTIVE, sort DESC, every page)."""
    ecs = ecs or client("ecs")
    revisions: list[int] = []
    try:
        for page in ecs.get_paginator("list_task_definitions").paginate(familyPrefix=family, status="ACTIVE",
                                                                        sort="DESC"):
            for arn in page.get("taskDefinitionArns", []):
                name, _, revision = arn.rsplit("/", 1)[-1].rpartition(":")
                if name == family:  # the family exactly, whatever an implementation takes the prefix to mean
                    revisions.append(int(revision))
    except ClientError as exc:
        raise wrap(exc, f"list the revisions of {family}") from exc
    return revisions


def deregister_task_definition(family: str, revision: int, *, ecs: Any | None = None) -> None:
    """Deregister one revision (it becomes INACTIVE: a service already running it keeps it).
    Deregistering it twice is harmless."""
    try:
        (ecs or client("ecs")).deregister_task_definition(taskDefinition=f"{family}:{revision}")
    except ClientError as exc:
        raise wrap(exc, f"deregister {family}:{revision}") from exc


def delete_task_definitions(family: str, revisions: Collection[int], *,
                            ecs: Any | None = None) -> tuple[list[int], dict[int, str]]:
    """Delete INACTIVE revisions (ECS API Reference, "DeleteTaskDefinitions": at most 10 a
    request; each becomes DELETE_IN_PROGRESS, and ECS removes it once no task or deployment
    uses it). Returns the revisions deleted and, for each one ECS refused (still ACTIVE, or no
    longer there), its reason."""
    if not revisions:
        return [], {}
    try:
        response = (ecs or client("ecs")).delete_task_definitions(
            taskDefinitions=[f"{family}:{r}" for r in sorted(revisions)])
    except ClientError as exc:
        raise wrap(exc, f"delete revisions {sorted(revisions)} of {family}") from exc
    deleted = [int(d["revision"]) for d in response.get("taskDefinitions", [])]
    failed = {int(f.get("arn", "").rsplit(":", 1)[-1]) if f.get("arn", "").rsplit(":", 1)[-1].isdigit() else -1:
              f.get("reason", "") for f in response.get("failures", [])}
    return deleted, failed


# ---------------------------------------------------------------------------- services
class ServiceMissingError(LookupError):
    """The ECS service (or its cluster) does not exist or is not ACTIVE. Create it, or name the
    right cluster and service in services.toml; retrying will not help."""


_MISSING_CODES = {"ServiceNotFoundException", "ServiceNotActiveException", "ClusterNotFoundException"}


def describe_service(cluster: str, name: str, *, ecs: Any | None = None) -> dict:
    """The service as DescribeServices answers it (its deployments, PRIMARY first). A missing
    service is a `failures` entry with reason MISSING; a deleted one has status INACTIVE or
    DRAINING (ECS API Reference, "DescribeServices")."""
    try:
        response = (ecs or client("ecs")).describe_services(cluster=cluster, services=[name])
    except ClientError as exc:
        if error_code(exc) in _MISSING_CODES:
            raise ServiceMissingError(f"cluster {cluster}: {error_code(exc)}") from exc
        raise wrap(exc, f"describe service {cluster}/{name}") from exc
    services = response.get("services", [])
    if not services:
        reason = next((f.get("reason", "") for f in response.get("failures", [])), "MISSING")
        raise ServiceMissingError(f"service {name} in cluster {cluster}: {reason}")
    if services[0].get("status") != "ACTIVE":
        raise ServiceMissingError(f"service {name} in cluster {cluster} is {services[0].get('status')}")
    return dict(services[0])


def service_task_definitions(cluster: str, name: str, *, ecs: Any | None = None) -> tuple[str, ...]:
    """The task definitions the service uses: those of its deployments still running tasks
    (PRIMARY, the one it deploys, and ACTIVE, the one it replaces: what a rollback returns to;
    an INACTIVE deployment was wholly replaced), and of every task set (the CODE_DEPLOY and
    EXTERNAL deployment controllers). ECS API Reference, "DescribeServices" and "Deployment".
    ServiceMissingError when the service or its cluster does not exist."""
    service = describe_service(cluster, name, ecs=ecs)
    used = [str(service.get("taskDefinition") or "")]
    used += [str(d.get("taskDefinition") or "") for d in service.get("deployments", [])
             if d.get("status") != "INACTIVE"]
    used += [str(t.get("taskDefinition") or "") for t in service.get("taskSets", [])]
    return tuple(u for u in dict.fromkeys(used) if u)


def update_service(cluster: str, name: str, task_definition: str, deployment_configuration: dict | None = None, *,
                   ecs: Any | None = None, sleep: Callable[[float], None] = time.sleep) -> dict:
    """Point the service at a revision: ECS starts a deployment. Like RegisterTaskDefinition,
    only throttling (refused before it is processed) is repeated here; a 5xx or a lost response
    may have started the deployment, so the caller's retry looks at the service first."""
    ecs = ecs or client("ecs", retry=False)
    arguments: dict[str, Any] = {"cluster": cluster, "service": name, "taskDefinition": task_definition}
    if deployment_configuration:
        arguments["deploymentConfiguration"] = deployment_configuration
    for attempt in range(1, THROTTLE_ATTEMPTS + 1):
        try:
            return dict(ecs.update_service(**arguments)["service"])
        except ClientError as exc:
            if error_code(exc) in _MISSING_CODES:
                raise ServiceMissingError(f"service {name} in cluster {cluster}: {error_code(exc)}") from exc
            if error_code(exc) != THROTTLED or attempt == THROTTLE_ATTEMPTS:
                raise wrap(exc, f"update service {cluster}/{name}") from exc
            sleep(random.uniform(0, min(2 ** attempt * 0.1, 5)))
    raise AssertionError("unreachable")


def list_service_deployments(cluster: str, name: str, statuses: list[str] | None = None, *,
                             ecs: Any | None = None) -> list[dict]:
    """The service's deployments (ServiceDeploymentBrief), newest first."""
    ecs = ecs or client("ecs")
    arguments: dict[str, Any] = {"cluster": cluster, "service": name}
    if statuses:
        arguments["status"] = statuses
    found: list[dict] = []
    try:
        while True:
            page = ecs.list_service_deployments(**arguments)
            found.extend(page.get("serviceDeployments", []))
            if not page.get("nextToken"):
                break
            arguments["nextToken"] = page["nextToken"]
    except ClientError as exc:
        if error_code(exc) in _MISSING_CODES:
            raise ServiceMissingError(f"service {name} in cluster {cluster}: {error_code(exc)}") from exc
        raise wrap(exc, f"list the deployments of {cluster}/{name}") from exc
    return sorted(found, key=lambda d: str(d.get("createdAt", "")), reverse=True)


SERVICE_REVISIONS_PER_CALL = 20  # DescribeServiceRevisions: "You can specify a maximum of 20 ARNs."


def resolved_images(cluster: str, name: str, task_definition: str, *, ecs: Any | None = None) -> list[dict] | None:
    """The images ECS resolved for the service's newest service revision of `task_definition`
    ("family:revision"): its `containerImages` ({containerName, image, imageDigest}; ECS API
    Reference, "ContainerImage": ECS resolves each image tag to a digest when it deploys, and runs
    that digest since). ListServiceDeployments (newest first) gives each deployment's
    targetServiceRevisionArn; DescribeServiceRevisions (at most 20 a call, asked newest first, no
    further than the first match) gives each one's taskDefinition. None when no service revision
    of it is found (ECS cannot describe a service revision created before October 25, 2024: a
    `failures` entry). ServiceMissingError when the service or its cluster does not exist."""
    ecs = ecs or client("ecs")
    arns = list(dict.fromkeys(str(d.get("targetServiceRevisionArn") or "")
                              for d in list_service_deployments(cluster, name, ecs=ecs)))
    arns = [a for a in arns if a]
    wanted = task_definition.rsplit("/", 1)[-1]
    for start in range(0, len(arns), SERVICE_REVISIONS_PER_CALL):
        chunk = arns[start:start + SERVICE_REVISIONS_PER_CALL]
        try:
            response = ecs.describe_service_revisions(serviceRevisionArns=chunk)
        except ClientError as exc:
            raise wrap(exc, f"describe the service revisions of {cluster}/{name}") from exc
        described = {str(r.get("serviceRevisionArn")): r for r in response.get("serviceRevisions", [])}
        for arn in chunk:  # newest first
            revision = described.get(arn)
            if revision and str(revision.get("taskDefinition") or "").rsplit("/", 1)[-1] == wanted:
                return [dict(c) for c in revision.get("containerImages", [])]
    return None


def stop_service_deployment(arn: str, *, ecs: Any | None = None) -> str:
    """Stop a deployment in progress and roll it back to the previous service revision."""
    try:
        return str((ecs or client("ecs")).stop_service_deployment(serviceDeploymentArn=arn,
                                                                  stopType="ROLLBACK")["serviceDeploymentArn"])
    except ClientError as exc:
        raise wrap(exc, f"stop the deployment {arn}") from exc
