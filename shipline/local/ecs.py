"""The emulated ECS: task-definition listing as the ECS API Reference documents it, where
moto is lenient.

- ListTaskDefinitions ("ListTaskDefinitions", ECS API Reference): `familyPrefix` is the full
  family name; `status` ACTIVE (the default), INACTIVE or DELETE_IN_PROGRESS; `sort` ASC (the
  default: by family, then revision ascending) or DESC (reversed); at most `maxResults`
  (1 to 100, default 100) a page, with a `nextToken` for the rest. moto ignores `sort`,
  `maxResults` and `nextToken` and answers every revision in one page.
- DescribeTaskDefinition of a family without a revision answers its latest ACTIVE revision
  ("DescribeTaskDefinition": "If a revision isn't specified, the latest ACTIVE revision is
  used"); moto answers the latest revision whatever its status.
- DeleteTaskDefinitions ("DeleteTaskDefinitions", ECS API Reference): 1 to 10 revisions; an
  INACTIVE one "immediately transitions from the INACTIVE to DELETE_IN_PROGRESS" and stays
  listed and described in that state while tasks or deployments use it; an ACTIVE or unknown
  one is a failure; the family's revision numbers go on ("the revision is incremented the next
  time you create a task definition with that name"). moto removes the revision at once, so
  its next registration would reuse the number: here it stays, DELETE_IN_PROGRESS (the local
  account runs no tasks, so AWS would remove it some time later; that removal is not emulated).
"""

from __future__ import annotations

import json
from typing import Any

from moto.core.responses import ActionResult
from moto.ecs.exceptions import InvalidParameterException, TaskDefinitionNotFoundException
from moto.ecs.models import DeleteTaskDefinitionFailure
from moto.ecs.responses import EC2ContainerServiceResponse

from shipline.local.patches import Patches

STATUSES = ("ACTIVE", "INACTIVE", "DELETE_IN_PROGRESS")
PAGE = 100



def task_definition(backend: Any, name: object) -> Any:
    """The revision a `family:revision` or task-definition ARN names in moto's ECS backend, or None."""
    family, _, revision = str(name).split("/")[-1].partition(":")
    return backend.task_definitions.get(family, {}).get(int(revision)) if revision.isdigit() else None


def install(patches: Patches) -> None:
    original_describe = EC2ContainerServiceResponse.describe_task_definition

    def list_task_definitions(response: EC2ContainerServiceResponse) -> str:
        family = response._get_param("familyPrefix")
        status = response._get_param("status") or "ACTIVE"
        order = response._get_param("sort") or "ASC"
        size = response._get_param("maxResults")
        token = response._get_param("nextToken")
        if status not in STATUSES:
            raise InvalidParameterException(f"Invalid status: {status}")
        if order not in ("ASC", "DESC"):
            raise InvalidParameterException(f"Invalid sort: {order}")
        if size is not None and not 1 <= int(size) <= PAGE:
            raise InvalidParameterException("maxResults must be between 1 and 100")
        found = sorted(((d.family, d.revision, d.arn) for revisions in response.ecs_backend.task_definitions.values()
                        for d in revisions.values() if (family is None or d.family == family) and d.status == status),
                       reverse=order == "DESC")
        start = int(token) if token else 0
        end = start + int(size or PAGE)
        answer: dict[str, Any] = {"taskDefinitionArns": [arn for _, _, arn in found[start:end]]}
        if end < len(found):
            answer["nextToken"] = str(end)
        return json.dumps(answer)

    def describe_task_definition(response: EC2ContainerServiceResponse) -> Any:
        name = str(response._get_param("taskDefinition") or "").split("/")[-1]
        if ":" in name:
            return original_describe(response)
        active = [r for r, d in response.ecs_backend.task_definitions.get(name, {}).items() if d.status == "ACTIVE"]
        if not active:
            raise TaskDefinitionNotFoundException()
        read = response._get_param
        latest = f"{name}:{max(active)}"
        # this request only: moto's handler reads the revision it is given
        response._get_param = lambda key, default=None: latest if key == "taskDefinition" else read(key, default)  # type: ignore[method-assign,assignment]
        return original_describe(response)

    def delete_task_definitions(response: EC2ContainerServiceResponse) -> ActionResult:
        names = response._get_param("taskDefinitions") or []
        if not names:
            raise InvalidParameterException("size of TaskDefinition references list must be greater than 0")
        if len(names) > 10:
            raise InvalidParameterException("Size of TaskDefinition references list cannot exceed 10")
        backend = response.ecs_backend
        deleted, failures = [], []
        for name in names:
            definition = task_definition(backend, name)
            if definition is None:
                failures.append(DeleteTaskDefinitionFailure(
                    "The specified task definition does not exist. Specify a valid account, family, revision and "
                    "try again.", name, backend.account_id, backend.region_name))
            elif definition.status == "ACTIVE":
                failures.append(DeleteTaskDefinitionFailure(
                    "The specified task definition is still in ACTIVE status. Please deregister the target and try "
                    "again.", name, backend.account_id, backend.region_name))
            else:  # INACTIVE (or already DELETE_IN_PROGRESS: the API Reference does not say; answered as deleted)
                definition.status = "DELETE_IN_PROGRESS"
                deleted.append(definition)
        return ActionResult({"taskDefinitions": deleted, "failures": failures})

    patches.set(EC2ContainerServiceResponse, "list_task_definitions", list_task_definitions)
    patches.set(EC2ContainerServiceResponse, "delete_task_definitions", delete_task_definitions)
    patches.set(EC2ContainerServiceResponse, "describe_task_definition", describe_task_definition)
