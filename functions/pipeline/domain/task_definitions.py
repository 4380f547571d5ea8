"""ECS task definitions: the first revision rendered from the manifest (as in the guide's
example); later revisions merge what the manifest declares into the latest revision and keep
everything else (sidecars, roles, volumes, variables the manifest does not name)."""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.domain.manifest import ServiceSpec
from pipeline.domain.naming import Target
from pipeline.domain.outcomes import Drift

SHA_LABEL = "org.opencontainers.image.revision.short"
DIGEST_LABEL = "shipline.image.digest"
# What the manifest set in the service's container, so that the next merge can tell a name or
# port the manifest has since dropped (removed) from one added outside shipline (kept).
ENVIRONMENT_LABEL = "shipline.manifest.environment"
SECRETS_LABEL = "shipline.manifest.secrets"
PORT_LABEL = "shipline.manifest.port"
_SHIPLINE_LABELS = (SHA_LABEL, DIGEST_LABEL, ENVIRONMENT_LABEL, SECRETS_LABEL, PORT_LABEL)

# DescribeTaskDefinition returns these; RegisterTaskDefinition does not take them.
_READ_ONLY = (
    "taskDefinitionArn", "revision", "status", "requiresAttributes", "compatibilities",
    "registeredAt", "registeredBy", "deregisteredAt",
)
# Task-level fields the rendering owns: the manifest's sizing, and the platform the image is
# built for (linux/arm64 only). Everything else at task level is kept from the latest revision.
_RENDERED_TASK_FIELDS = ("cpu", "memory", "runtimePlatform")


class NoContainerForRepositoryError(LookupError, Drift):
    """The family's latest revision has no container built from this repository. Add one, or
    set TaskDefinitionMode=render to re-render the family from the manifest."""


class TaskSizeConflictError(ValueError, Drift):
    """The containers the latest revision keeps reserve more memory or cpu than the manifest's
    task size: ECS would refuse the revision. Raise the service's cpu/memory in services.toml, or
    lower the containers' own reservations in the task definition."""


def reservation_conflict(definition: dict[str, Any]) -> str | None:
    """What ECS would refuse in the containers' reservations, or None. "The total amount of memory
    reserved for all containers within a task must be lower than the task memory value" (a
    container's memoryReservation counts where it sets no memory), and on Fargate the same of
    cpu (ECS API Reference, ContainerDefinition: memory, cpu)."""
    containers = definition.get("containerDefinitions", [])
    memory = sum(int(c.get("memory") or c.get("memoryReservation") or 0) for c in containers)
    cpu = sum(int(c.get("cpu") or 0) for c in containers)
    task_memory, task_cpu = definition.get("memory"), definition.get("cpu")
    if task_memory and str(task_memory).isdigit() and memory > int(task_memory):
        return f"its containers reserve {memory} MiB of memory, more than the task's {task_memory} MiB"
    fargate = "FARGATE" in definition.get("requiresCompatibilities", [])
    if fargate and task_cpu and str(task_cpu).isdigit() and cpu > int(task_cpu):
        return f"its containers reserve {cpu} cpu units, more than the task's {task_cpu}"
    return None


@dataclass(frozen=True)
class Image:
    """A pushed image, pinned by digest."""

    repository_uri: str
    digest: str
    sha_tag: str | None = None

    @property
    def reference(self) -> str:
        return f"{self.repository_uri}@{self.digest}"


def render_task_definition(
    target: Target, spec: ServiceSpec, image: Image, *, execution_role_arn: str
) -> dict[str, Any]:
    """RegisterTaskDefinition arguments for one service, from the manifest."""
    cpu, memory = spec.sizing(target.environment)
    health = spec.health_check
    environment = [
        {"name": "AWS_REGION", "value": target.region},
        *({"name": key, "value": value} for key, value in sorted(spec.environment.items())),
    ]
    secrets = [
        {"name": s.name, "valueFrom": s.value_from(target.project, target.environment, target.region, target.account)}
        for s in spec.secrets
    ]
    container: dict[str, Any] = {
        "name": spec.name,
        "image": image.reference,
        "essential": True,
        "portMappings": [{"containerPort": spec.port, "protocol": "tcp"}],
        "environment": environment,
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": target.log_group(spec.name),
                "awslogs-region": target.region,
                "awslogs-stream-prefix": "ecs",
            },
        },
        "healthCheck": {
            "command": ["CMD-SHELL", health.command],
            "interval": health.interval,
            "timeout": health.timeout,
            "retries": health.retries,
            "startPeriod": health.start_period,
        },
        "dockerLabels": {
            **_labels(image),
            ENVIRONMENT_LABEL: _names(environment),
            SECRETS_LABEL: _names(secrets),
            PORT_LABEL: str(spec.port),
        },
    }
    if secrets:
        container["secrets"] = secrets
    return {
        "family": target.family(spec.name),
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": str(cpu),
        "memory": str(memory),
        "runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
        "executionRoleArn": execution_role_arn,
        "containerDefinitions": [container],
        "tags": [
            {"key": "shipline:project", "value": target.project},
            {"key": "shipline:environment", "value": target.environment},
            {"key": "shipline:service", "value": spec.name},
        ],
    }


def revise_task_definition(
    latest: dict[str, Any], rendered: dict[str, Any], tags: list[dict] | None = None
) -> dict[str, Any] | None:
    """The next revision: the latest one (with its `tags`), with what `rendered` (this image,
    rendered from the manifest) declares merged in. The README's "Registration and the gate"
    tables the rule; in short, the manifest's fields win, anything it does not declare is kept.

    The service's container is the one built from the rendered image's repository (the one
    named for the service when several are). Other containers from that repository get the new
    image only. None when the merge changes nothing (nothing to register).
    """
    declared = rendered["containerDefinitions"][0]
    repository = _repository_of(declared["image"])
    ours = [i for i, c in enumerate(latest.get("containerDefinitions", []))
            if _repository_of(c.get("image", "")) == repository]
    if not ours:
        raise NoContainerForRepositoryError(
            f"{latest.get('family')}:{latest.get('revision')} has no container from {repository}"
        )
    current = {k: copy.deepcopy(v) for k, v in latest.items() if k not in _READ_ONLY}
    if tags:
        current["tags"] = copy.deepcopy(tags)
    revised = copy.deepcopy(current)
    for field in _RENDERED_TASK_FIELDS:
        revised[field] = copy.deepcopy(rendered[field])
    if not revised.get("executionRoleArn"):  # awslogs and secrets need one: the stack's
        revised["executionRoleArn"] = rendered["executionRoleArn"]
    revised["tags"] = _merge_named(revised.get("tags", []), rendered["tags"], key="key")
    containers = revised["containerDefinitions"]
    service = next((i for i in ours if containers[i].get("name") == declared["name"]), ours[0])
    for index in ours:
        if index == service:
            containers[index] = _merge_container(containers[index], declared)
        else:
            containers[index] = _with_image(containers[index], declared)
    if revised == current:
        return None
    conflict = reservation_conflict(revised)
    if conflict:
        raise TaskSizeConflictError(
            f"{latest.get('family')}: with the manifest's cpu {revised.get('cpu')} and memory {revised.get('memory')}, "
            f"{conflict}; raise the service's cpu/memory in services.toml or lower the containers' own")
    return revised


def image_reference_of(task_definition: dict[str, Any], repository_uri: str) -> tuple[str, str] | None:
    """How the revision names its image from this repository: ("digest", "sha256:...") or
    ("tag", "<tag>"); None when no container's image is from it."""
    for container in task_definition.get("containerDefinitions", []):
        image = container.get("image", "")
        if _repository_of(image) != repository_uri:
            continue
        if "@" in image:
            return "digest", image.split("@", 1)[1]
        return "tag", image.rpartition("/")[2].partition(":")[2] or "latest"
    return None


def resolved_digest_of(container_images: Iterable[Mapping[str, Any]], repository_uri: str) -> str | None:
    """The digest ECS resolved for the image from this repository, from a service revision's
    `containerImages` ({containerName, image, imageDigest}: ECS API Reference, "ContainerImage");
    None when no entry names an image from it with a digest."""
    for entry in container_images:
        digest = str(entry.get("imageDigest") or "")
        if _repository_of(str(entry.get("image") or "")) == repository_uri and digest.startswith("sha256:"):
            return digest
    return None


def image_digest_of(task_definition: dict[str, Any], repository_uri: str) -> str | None:
    for container in task_definition.get("containerDefinitions", []):
        image = container.get("image", "")
        if _repository_of(image) == repository_uri and "@" in image:
            return image.split("@", 1)[1]
    return None


def _merge_container(latest: dict[str, Any], declared: dict[str, Any]) -> dict[str, Any]:
    """The service's container: the manifest's fields merged into the latest one's."""
    labels = latest.get("dockerLabels", {})
    merged = _with_image(latest, declared, service=True)
    merged["healthCheck"] = copy.deepcopy(declared["healthCheck"])
    merged["logConfiguration"] = _merge_log_configuration(latest.get("logConfiguration"),
                                                          declared["logConfiguration"])
    declared_env, declared_secrets = declared.get("environment", []), declared.get("secrets", [])
    for field, items, owned_label, other in (("environment", declared_env, ENVIRONMENT_LABEL, declared_secrets),
                                             ("secrets", declared_secrets, SECRETS_LABEL, declared_env)):
        # A name is the manifest's in both lists: an environment variable it now declares as a
        # secret (or the reverse) is not kept beside it.
        values = _merge_named(latest.get(field, []), items, key="name",
                              dropped=_split(labels.get(owned_label)) | {i["name"] for i in other})
        if values or field in latest:
            merged[field] = values
    previous_port = labels.get(PORT_LABEL, "")
    merged["portMappings"] = _merge_port_mappings(latest.get("portMappings", []), declared["portMappings"][0],
                                                  int(previous_port) if previous_port.isdigit() else None)
    return merged


def _with_image(container: dict[str, Any], declared: dict[str, Any], *, service: bool = False) -> dict[str, Any]:
    """The container running the declared image, with shipline's labels replacing its own (a
    stale commit label goes when the new image has none). Only the service's container carries
    the labels naming what the manifest set in it."""
    labels = {k: v for k, v in container.get("dockerLabels", {}).items() if k not in _SHIPLINE_LABELS}
    ours = {k: v for k, v in declared["dockerLabels"].items() if service or k in (SHA_LABEL, DIGEST_LABEL)}
    return {**container, "image": declared["image"], "dockerLabels": {**labels, **ours}}


def _merge_named(latest: Iterable[dict], declared: Iterable[dict], *, key: str,
                 dropped: Collection[str] = ()) -> list[dict]:
    """A list keyed by `key`: declared entries replace same-named ones in place, names in
    `dropped` go, the rest are kept in their order; declared names not yet there are appended."""
    wanted = {item[key]: item for item in declared}
    merged: list[dict] = []
    placed: set[str] = set()
    for item in latest:
        name = str(item.get(key))
        if name in wanted:
            if name not in placed:
                merged.append(copy.deepcopy(wanted[name]))
                placed.add(name)
        elif name not in dropped:
            merged.append(item)
    merged.extend(copy.deepcopy(item) for name, item in wanted.items() if name not in placed)
    return merged


def _merge_port_mappings(latest: list[dict], declared: dict, previous_port: int | None) -> list[dict]:
    """The manifest owns one mapping: its port (or the port it declared last time, which it
    moves). The mapping's other keys (a Service Connect name, appProtocol) stay; a hostPort that
    equalled the container port follows it (awsvpc requires them equal). Other mappings stay."""
    port = declared["containerPort"]
    owned = {port} if previous_port is None else {port, previous_port}
    merged: list[dict] = []
    placed = False
    for mapping in latest:
        if mapping.get("containerPort") not in owned:
            merged.append(mapping)
        elif not placed:
            moved = {**mapping, **declared}
            if "hostPort" in mapping and mapping["hostPort"] == mapping["containerPort"]:
                moved["hostPort"] = port
            merged.append(moved)
            placed = True
    return merged if placed else [dict(declared), *merged]


def _merge_log_configuration(latest: dict | None, declared: dict) -> dict:
    """The declared driver and options; other options of the same driver (mode,
    max-buffer-size, ...) and its secretOptions are kept. Another driver is replaced."""
    if not latest or latest.get("logDriver") != declared["logDriver"]:
        return copy.deepcopy(declared)
    return {**latest, "options": {**latest.get("options", {}), **declared["options"]}}


def _labels(image: Image) -> dict[str, str]:
    labels = {DIGEST_LABEL: image.digest}
    if image.sha_tag:
        labels[SHA_LABEL] = image.sha_tag
    return labels


def _names(items: Iterable[dict]) -> str:
    return ",".join(item["name"] for item in items)


def _split(label: str | None) -> set[str]:
    return {name for name in (label or "").split(",") if name}


def _repository_of(image: str) -> str:
    """The repository URI of an image reference (drops @digest or :tag)."""
    if "@" in image:
        return image.split("@", 1)[0]
    host, _, path = image.rpartition("/")
    name = path.split(":", 1)[0]
    return f"{host}/{name}" if host else name
