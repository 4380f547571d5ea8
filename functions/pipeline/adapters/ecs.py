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
