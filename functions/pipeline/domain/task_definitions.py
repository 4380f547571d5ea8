"""ECS task definitions: the first revision rendered from the manifest (as in the guide's
example), later revisions cloned from the latest with only our containers' image changed."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from pipeline.domain.manifest import ServiceSpec
from pipeline.domain.naming import Target

SHA_LABEL = "org.opencontainers.image.revision.short"
DIGEST_LABEL = "shipline.image.digest"

# DescribeTaskDefinition returns these; RegisterTaskDefinition does not take them.
_READ_ONLY = (
    "taskDefinitionArn", "revision", "status", "requiresAttributes", "compatibilities",
    "registeredAt", "registeredBy", "deregisteredAt",
)


class NoContainerForRepositoryError(LookupError):
    """The family's latest revision has no container built from this repository. Add one, or
    set TaskDefinitionMode=render to re-render the family from the manifest."""


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
    container: dict[str, Any] = {
        "name": spec.name,
        "image": image.reference,
        "essential": True,
        "portMappings": [{"containerPort": spec.port, "protocol": "tcp"}],
        "environment": [
            {"name": "AWS_REGION", "value": target.region},
            *({"name": key, "value": value} for key, value in sorted(spec.environment.items())),
        ],
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
        "dockerLabels": _labels(image),
    }
    if spec.secrets:
        container["secrets"] = [
            {"name": s.name, "valueFrom": s.value_from(target.project, target.environment, target.region,
                                                       target.account)}
            for s in spec.secrets
        ]
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
    latest: dict[str, Any], image: Image, tags: list[dict] | None = None
) -> dict[str, Any] | None:
    """Clone the latest revision, changing only the containers built from `image`'s repository.

    None when every such container already runs this digest (nothing to register).
    """
    containers = [
        c for c in latest.get("containerDefinitions", []) if _repository_of(c.get("image", "")) == image.repository_uri
    ]
    if not containers:
        raise NoContainerForRepositoryError(
            f"{latest.get('family')}:{latest.get('revision')} has no container from {image.repository_uri}"
        )
    if all(c.get("image") == image.reference for c in containers):
        return None
    revised = {k: copy.deepcopy(v) for k, v in latest.items() if k not in _READ_ONLY}
    for container in revised["containerDefinitions"]:
        if _repository_of(container.get("image", "")) == image.repository_uri:
            container["image"] = image.reference
            container["dockerLabels"] = {**container.get("dockerLabels", {}), **_labels(image)}
    if tags:
        revised["tags"] = tags
    return revised


def image_digest_of(task_definition: dict[str, Any], repository_uri: str) -> str | None:
    for container in task_definition.get("containerDefinitions", []):
        image = container.get("image", "")
        if _repository_of(image) == repository_uri and "@" in image:
            return image.split("@", 1)[1]
    return None


def _labels(image: Image) -> dict[str, str]:
    labels = {DIGEST_LABEL: image.digest}
    if image.sha_tag:
        labels[SHA_LABEL] = image.sha_tag
    return labels


def _repository_of(image: str) -> str:
    """The repository URI of an image reference (drops @digest or :tag)."""
    if "@" in image:
        return image.split("@", 1)[0]
    host, _, path = image.rpartition("/")
    name = path.split(":", 1)[0]
    return f"{host}/{name}" if host else name
