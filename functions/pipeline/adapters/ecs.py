"""ECS: read the latest task-definition revision, register a new one."""

from __future__ import annotations

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


def register_task_definition(arguments: dict, *, ecs: Any | None = None) -> tuple[str, int]:
    """Register a revision; returns its ARN and revision number. Not retried here (see clients)."""
    ecs = ecs or client("ecs", retry=False)
    try:
        definition = ecs.register_task_definition(**arguments)["taskDefinition"]
    except ClientError as exc:
        raise wrap(exc, f"register task definition {arguments.get('family')}") from exc
    return str(definition["taskDefinitionArn"]), int(definition["revision"])
