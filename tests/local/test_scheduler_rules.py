"""EventBridge Scheduler's StartDate rule on UpdateSchedule, as the local account answers it
(shipline/local/scheduler_rules.py), and the retarget of a schedule made with a StartDate."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError

from pipeline.adapters import schedules
from shipline.local import scheduler_rules
from tests.support.emulated import patched

CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/multi-agent-orchestrator-dev"
ROLE = "arn:aws:iam::123456789012:role/multi-agent-orchestrator-dev-scheduled-tasks"
FAMILY = "multi-agent-orchestrator-dev-langgraph"
DEFINITION = f"arn:aws:ecs:us-east-1:123456789012:task-definition/{FAMILY}"


@pytest.fixture
def scheduler() -> Iterator:
    with patched(scheduler_rules.install):
        yield boto3.client("scheduler", region_name="us-east-1")


def _target(revision: int) -> dict:
    return {"Arn": CLUSTER, "RoleArn": ROLE, "EcsParameters": {"TaskDefinitionArn": f"{DEFINITION}:{revision}"}}


def _made(scheduler, expression: str, start: datetime) -> None:
    """A schedule made with `start` (moto does not check a rate schedule's StartDate on create)."""
    scheduler.create_schedule(Name="cleanup", ScheduleExpression=expression, StartDate=start,
                              Description="nightly cleanup", FlexibleTimeWindow={"Mode": "OFF"}, Target=_target(1))


@pytest.mark.parametrize("expression", ["rate(1 day)", "cron(0 3 * * ? *)"])
def test_update_schedule_refuses_a_start_date_older_than_five_minutes(scheduler, expression):
    _made(scheduler, "rate(1 day)", datetime.now(UTC))
    with pytest.raises(ClientError, match="cannot be earlier than 5 minutes ago") as raised:
        scheduler.update_schedule(Name="cleanup", ScheduleExpression=expression, FlexibleTimeWindow={"Mode": "OFF"},
                                  StartDate=datetime.now(UTC) - timedelta(minutes=6), Target=_target(2))
    assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_update_schedule_takes_a_recent_start_date_and_a_one_time_schedule_any(scheduler):
    _made(scheduler, "rate(1 day)", datetime.now(UTC))
    scheduler.update_schedule(Name="cleanup", ScheduleExpression="rate(1 day)", FlexibleTimeWindow={"Mode": "OFF"},
                              StartDate=datetime.now(UTC) - timedelta(minutes=4), Target=_target(2))
    scheduler.update_schedule(Name="cleanup", ScheduleExpression="at(2030-01-01T00:00:00)",
                              FlexibleTimeWindow={"Mode": "OFF"}, StartDate=datetime.now(UTC) - timedelta(days=30),
                              Target=_target(2))


def test_a_rate_schedule_made_a_month_ago_is_retargeted_from_its_next_run(scheduler):
    _made(scheduler, "rate(1 day)", datetime.now(UTC) - timedelta(days=30))
    sent: list[dict] = []
    scheduler.meta.events.register("provide-client-params.scheduler.UpdateSchedule",
                                   lambda params, **_: sent.append(dict(params)))
    assert schedules.retarget_schedule("cleanup", FAMILY, f"{DEFINITION}:2", scheduler=scheduler)
    assert sent[0]["StartDate"] < datetime.now(UTC) < sent[1]["StartDate"]  # as read, refused; then its next run
    schedule = scheduler.get_schedule(Name="cleanup")
    assert schedule["Target"]["EcsParameters"]["TaskDefinitionArn"] == f"{DEFINITION}:2"
    assert schedule["Description"] == "nightly cleanup" and schedule["ScheduleExpression"] == "rate(1 day)"


def test_a_schedule_whose_start_date_is_to_come_keeps_it(scheduler):
    start = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    _made(scheduler, "rate(1 day)", start)
    assert schedules.retarget_schedule("cleanup", FAMILY, f"{DEFINITION}:2", scheduler=scheduler)
    assert scheduler.get_schedule(Name="cleanup")["StartDate"] == start


def test_another_refusal_of_the_update_is_not_retried_without_the_start_date(scheduler, monkeypatch):
    _made(scheduler, "rate(1 day)", datetime.now(UTC) - timedelta(days=30))
    calls: list[dict] = []

    def refuse(params, **_):
        calls.append(dict(params))
        raise ClientError({"Error": {"Code": "ValidationException", "Message": "Invalid RoleArn"}}, "UpdateSchedule")

    scheduler.meta.events.register("provide-client-params.scheduler.UpdateSchedule", refuse)
    with pytest.raises(schedules.AwsCallError, match="Invalid RoleArn"):
        schedules.retarget_schedule("cleanup", FAMILY, f"{DEFINITION}:2", scheduler=scheduler)
    assert len(calls) == 1


def test_a_cron_schedule_made_with_a_past_start_date_is_retargeted_without_it(scheduler):
    """A cron schedule's runs do not depend on its StartDate: the update leaves it out."""
    scheduler.create_schedule(Name="cleanup", ScheduleExpression="cron(0 3 1 1 ? 2030)",
                              StartDate=datetime.now(UTC) - timedelta(days=30), FlexibleTimeWindow={"Mode": "OFF"},
                              Target=_target(1))
    sent: list[dict] = []
    scheduler.meta.events.register("provide-client-params.scheduler.UpdateSchedule",
                                   lambda params, **_: sent.append(dict(params)))
    assert schedules.retarget_schedule("cleanup", FAMILY, f"{DEFINITION}:2", scheduler=scheduler)
    assert "StartDate" in sent[0] and "StartDate" not in sent[1]
