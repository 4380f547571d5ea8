"""Scheduled ECS tasks: EventBridge rules with ECS targets, and EventBridge Scheduler schedules,
pointed at a new task-definition revision, and read for the revisions they run (retention).

- A rule's targets are read with ListTargetsByRule and written back with PutTargets (a target of
  the same Id is replaced); each ECS target of the family gets the revision.
- A schedule is read with GetSchedule and written with UpdateSchedule, which replaces the whole
  schedule: "we recommend that you call GetSchedule ... and make sure that the input you pass
  to UpdateSchedule contains all of the parameters of the schedule" (EventBridge Scheduler API
  Reference, "UpdateSchedule"), so every field GetSchedule gave is sent back.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from pipeline.adapters.clients import client
from pipeline.adapters.errors import AwsCallError, error_code, wrap
from pipeline.domain.rollout import revision_of

_SCHEDULE_FIELDS = ("ActionAfterCompletion", "Description", "EndDate", "FlexibleTimeWindow", "GroupName",
                    "KmsKeyArn", "ScheduleExpression", "ScheduleExpressionTimezone", "StartDate", "State")


class ScheduledTaskMissingError(LookupError):
    """The rule or schedule services.toml names does not exist. Create it or fix the name."""


def _retarget(parameters: dict, family: str, task_definition_arn: str) -> bool:
    current = revision_of(str(parameters.get("TaskDefinitionArn", "")))
    if not current or current[0] != family or parameters.get("TaskDefinitionArn") == task_definition_arn:
        return False
    parameters["TaskDefinitionArn"] = task_definition_arn
    return True


def retarget_rule(rule: str, family: str, task_definition_arn: str, *, events: Any | None = None) -> int:
    """The rule's ECS targets of `family` run `task_definition_arn` from now on; returns how many changed."""
    events = events or client("events")
    changed = [t for t in _rule_targets(rule, events)
               if "EcsParameters" in t and _retarget(t["EcsParameters"], family, task_definition_arn)]
    if not changed:
        return 0
    try:
        response = events.put_targets(Rule=rule, Targets=changed)
    except ClientError as exc:
        raise wrap(exc, f"retarget rule {rule}") from exc
    if response.get("FailedEntryCount"):
        entry = response.get("FailedEntries", [{}])[0]
        raise AwsCallError(f"retarget rule {rule}: {entry.get('ErrorCode')}: {entry.get('ErrorMessage', '')}")
    return len(changed)


def retarget_schedule(name: str, family: str, task_definition_arn: str, *, group: str = "default",
                      scheduler: Any | None = None) -> bool:
    """The schedule's ECS target of `family` runs `task_definition_arn` from now on."""
    scheduler = scheduler or client("scheduler")
    schedule = _schedule(name, group, scheduler)
    target = dict(schedule["Target"])
    if "EcsParameters" not in target:
        return False
    target["EcsParameters"] = dict(target["EcsParameters"])
    if not _retarget(target["EcsParameters"], family, task_definition_arn):
        return False
    arguments = {key: schedule[key] for key in _SCHEDULE_FIELDS if schedule.get(key) is not None}
    doing = f"retarget schedule {group}/{name}"
    try:
        scheduler.update_schedule(Name=name, Target=target, **arguments)
    except ClientError as exc:
        if not _start_date_refused(exc, arguments.get("StartDate")):
            raise wrap(exc, doing) from exc
        # Scheduler refuses a StartDate earlier than five minutes ago ("The StartDate you specify
        # cannot be earlier than 5 minutes ago."), and a schedule made with one reads it back.
        # A rate schedule's StartDate is its phase (without one it runs at once, then from then
        # on): it moves forward by whole periods to its next run. A cron schedule's runs do not
        # depend on it: it is left out.
        start_date = arguments.pop("StartDate")
        following = _next_run(str(arguments.get("ScheduleExpression", "")), start_date)
        if following is not None:
            arguments["StartDate"] = following
        try:
            scheduler.update_schedule(Name=name, Target=target, **arguments)
        except ClientError as again:
            raise wrap(again, doing) from again
    return True


_RATE = re.compile(r"rate\(\s*(\d+)\s+(minutes?|hours?|days?)\s*\)")
_UNIT = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}


def _next_run(expression: str, start: Any) -> datetime | None:
    """A rate schedule's next run after now, in its phase (`start` plus whole periods); None
    for any other expression."""
    found = _RATE.fullmatch(expression.strip())
    if found is None or not isinstance(start, datetime):
        return None
    period = int(found.group(1)) * _UNIT[found.group(2).rstrip("s")]
    if period <= timedelta(0):
        return None
    return start + ((datetime.now(UTC) - start) // period + 1) * period


def _start_date_refused(exc: ClientError, start_date: Any) -> bool:
    """Whether UpdateSchedule refused the StartDate GetSchedule gave, because it is past."""
    return (error_code(exc) == "ValidationException" and "StartDate" in str(exc)
            and isinstance(start_date, datetime) and start_date < datetime.now(UTC))


def rule_task_definitions(rule: str, *, events: Any | None = None) -> tuple[str, ...]:
    """The task definitions the rule's ECS targets run (`EcsParameters.TaskDefinitionArn`). A rule
    on the default bus; ScheduledTaskMissingError when it does not exist."""
    targets = _rule_targets(rule, events or client("events"))
    found = [str(t["EcsParameters"].get("TaskDefinitionArn") or "") for t in targets if "EcsParameters" in t]
    return tuple(f for f in found if f)


def schedule_task_definition(name: str, *, group: str = "default", scheduler: Any | None = None) -> str | None:
    """The task definition the schedule's ECS target runs (`Target.EcsParameters.TaskDefinitionArn`),
    None when its target is not an ECS task. ScheduledTaskMissingError when it does not exist."""
    parameters = _schedule(name, group, scheduler or client("scheduler")).get("Target", {}).get("EcsParameters")
    return str(parameters.get("TaskDefinitionArn") or "") or None if parameters else None


def _rule_targets(rule: str, events: Any) -> list[dict]:
    """Every page of ListTargetsByRule. ScheduledTaskMissingError when the rule does not exist
    (ResourceNotFoundException: EventBridge API Reference, "ListTargetsByRule")."""
    arguments: dict[str, Any] = {"Rule": rule}
    found: list[dict] = []
    try:
        while True:
            page = events.list_targets_by_rule(**arguments)
            found += page.get("Targets", [])
            if not page.get("NextToken"):
                return found
            arguments["NextToken"] = page["NextToken"]
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            raise ScheduledTaskMissingError(f"rule {rule} does not exist") from exc
        raise wrap(exc, f"read the targets of rule {rule}") from exc


def _schedule(name: str, group: str, scheduler: Any) -> dict:
    """GetSchedule. ScheduledTaskMissingError when the schedule does not exist
    (ResourceNotFoundException, HTTP 404: EventBridge Scheduler API Reference, "GetSchedule")."""
    try:
        return dict(scheduler.get_schedule(Name=name, GroupName=group))
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            raise ScheduledTaskMissingError(f"schedule {group}/{name} does not exist") from exc
        raise wrap(exc, f"read schedule {group}/{name}") from exc
