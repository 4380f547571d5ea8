"""ECS RegisterTaskDefinition's rules that moto does not check, checked by the local account.

The rules are ECS's documented ones; where the documentation gives the error's text, it is
ECS's, otherwise the text is the local account's (a ClientException either way):
- A FARGATE task's cpu and memory are one of Fargate's sizes ("Troubleshoot Amazon ECS task
  definition invalid CPU or memory errors": "No Fargate configuration exists for given values."
  / "Invalid 'cpu' setting for task."; the sizes: "Task CPU and memory").
- Under the `awsvpc` or `host` network mode "the hostPort can be left blank or it must be the
  same value as the containerPort" (ECS API Reference, PortMapping).
- The memory (and, for FARGATE, the cpu) reserved by all containers must not exceed the task's
  ("The total amount of memory reserved for all containers within a task must be lower than
  the task memory value, if one is specified": API Reference, ContainerDefinition, memory; cpu:
  "the total amount of CPU reserved for all containers within a task be lower than the
  task-level cpu value"). A container's memoryReservation counts where it has no memory.
- One to 10 containers ("Service quotas": "Containers per task definition", 10), each named
  once, at least one of them essential (a task "must have at least one essential container":
  Developer Guide, "Task definition parameters", essential).
- The request's JSON is at most 64 KiB ("Service quotas": "Task definition size", 64 KiB).
- Family and container names are up to 255 letters, digits, hyphens and underscores ("Family
  contains invalid characters.").

And UpdateService's: "you can't update an existing service to reference an INACTIVE task
definition" (API Reference, DeregisterTaskDefinition; ECS allows "up to a 10-minute window
following deregistration", which is not emulated: here the refusal is at once). moto updates
the service to any revision it has. Nor can UpdateService change the task definition of a
service another deployment controller deploys (API Reference, UpdateService: under CODE_DEPLOY
"a new CodeDeploy deployment should be created", under EXTERNAL a new task set):
InvalidParameterException, with ECS's text for CODE_DEPLOY (as quoted in
cdklabs/cdk-ecs-codedeploy#121) and the local account's for EXTERNAL. moto updates both.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from moto.ecs.exceptions import (
    ClusterNotFoundException,
    EcsClientException,
    InvalidParameterException,
    ServiceNotFoundException,
)
from moto.ecs.responses import EC2ContainerServiceResponse

from pipeline.domain.manifest import FARGATE_TASK_SIZES
from shipline.local.ecs import task_definition
from shipline.local.patches import Patches

CONTAINER_LIMIT = 10
SIZE_LIMIT = 64 * 1024  # bytes
# Family and container names: up to 255 letters, digits, hyphens and underscores.
ECS_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")


def _number(value: Any) -> int | None:
    """cpu and memory as ECS reads them: an integer (units, MiB) or `1 vCPU`, `2 GB`."""
    if value is None or value == "":
        return None
    text = str(value).strip().lower()
    for suffix, factor in (("vcpu", 1024), ("gb", 1024)):
        if text.endswith(suffix):
            return int(float(text[: -len(suffix)].strip()) * factor)
    return int(float(text))


def problem(request: dict[str, Any]) -> str | None:
    """What ECS says of a RegisterTaskDefinition request it refuses, or None."""
    containers = request.get("containerDefinitions") or []
    if not ECS_NAME.fullmatch(str(request.get("family") or "")):
        return "Family contains invalid characters."
    for container in containers:
        if not ECS_NAME.fullmatch(str(container.get("name") or "")):
            return "Container.name contains invalid characters."
    if not containers:
        return "Task definition must contain at least one container definition."
    if len(containers) > CONTAINER_LIMIT:
        return f"Too many containers: a task definition has at most {CONTAINER_LIMIT}."
    if len(json.dumps(request, separators=(",", ":")).encode()) > SIZE_LIMIT:
        return "Task definition size exceeds the limit of 64 KiB."
    names = [str(c.get("name")) for c in containers]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        return f"Duplicate container name found: {repeated[0]}."
    if not any(c.get("essential", True) for c in containers):
        return "Task definition does not have any essential container."
    mode = request.get("networkMode") or "bridge"
    if mode in ("awsvpc", "host"):
        for container in containers:
            for mapping in container.get("portMappings") or []:
                host = mapping.get("hostPort")
                if host not in (None, 0) and host != mapping.get("containerPort"):
                    return (f"When networkMode={mode}, the host ports and container ports in port mappings "
                            "must match.")
    cpu, memory = _number(request.get("cpu")), _number(request.get("memory"))
    fargate = "FARGATE" in (request.get("requiresCompatibilities") or [])
    if fargate:
        if cpu is None or cpu not in FARGATE_TASK_SIZES:
            return "Invalid 'cpu' setting for task."
        if memory is None or memory not in FARGATE_TASK_SIZES[cpu]:
            return "No Fargate configuration exists for given values."
    if memory is not None:
        reserved = sum(_number(c.get("memory")) or _number(c.get("memoryReservation")) or 0 for c in containers)
        if reserved > memory:
            return (f"Invalid 'memory' setting for container: the containers reserve {reserved} MiB, "
                    f"more than the task's {memory} MiB.")
    if fargate and cpu is not None:
        reserved = sum(_number(c.get("cpu")) or 0 for c in containers)
        if reserved > cpu:
            return (f"Invalid 'cpu' setting for container: the containers reserve {reserved} units, "
                    f"more than the task's {cpu}.")
    return None


def install(patches: Patches) -> None:
    registered: Callable[[EC2ContainerServiceResponse], Any] = EC2ContainerServiceResponse.register_task_definition

    def register_task_definition(response: EC2ContainerServiceResponse) -> Any:
        found = problem(json.loads(response.body or "{}"))
        if found:
            raise EcsClientException(found)
        return registered(response)

    updated: Callable[[EC2ContainerServiceResponse], Any] = EC2ContainerServiceResponse.update_service

    def update_service(response: EC2ContainerServiceResponse) -> Any:
        wanted = response._get_param("taskDefinition")
        if wanted:
            found = task_definition(response.ecs_backend, wanted)
            if found is not None and found.status != "ACTIVE":
                raise EcsClientException("TaskDefinition is inactive")
            controller = _controller(response)
            if controller == "CODE_DEPLOY":
                raise InvalidParameterException(
                    "Unable to update task definition on services with a CODE_DEPLOY deployment controller. "
                    "Use AWS CodeDeploy to trigger a new deployment.")
            if controller not in (None, "ECS"):
                raise InvalidParameterException(
                    f"Unable to update task definition on services with a {controller} deployment controller. "
                    "Create a new task set to run another task definition.")
        return updated(response)

    patches.set(EC2ContainerServiceResponse, "register_task_definition", register_task_definition)
    patches.set(EC2ContainerServiceResponse, "update_service", update_service)


def _controller(response: EC2ContainerServiceResponse) -> str | None:
    """The deployment controller of the service UpdateService names; None when there is no such
    service (moto's own update answers for that)."""
    cluster = response._get_param("cluster") or "default"
    name = str(response._get_param("service") or "").split("/")[-1]
    try:
        service = response.ecs_backend._get_service(cluster, name)
    except (ClusterNotFoundException, ServiceNotFoundException):  # moto's update raises ECS's error for it
        return None
    return str((service.deployment_controller or {}).get("type") or "ECS")
