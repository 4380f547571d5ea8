"""EventBridge Scheduler's StartDate rule where moto does not apply it. A recurring schedule's
StartDate may not be earlier than five minutes ago ("The StartDate you specify cannot be earlier
than 5 minutes ago.", the ValidationException moto raises on CreateSchedule, for cron
expressions only: getmoto/moto#8172). UpdateSchedule replaces the whole schedule (EventBridge
Scheduler API Reference, "UpdateSchedule"), so the local account refuses an old StartDate there
too, for rate and cron expressions alike: a schedule made with a StartDate cannot be written
back as GetSchedule read it once that date is past. Stricter than moto, and no kinder than AWS.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.scheduler.exceptions import ValidationException
from moto.scheduler.responses import EventBridgeSchedulerResponse

from shipline.local.patches import Patches

START_DATE_GRACE = timedelta(minutes=5)
START_DATE_TOO_OLD = "The StartDate you specify cannot be earlier than 5 minutes ago."


def start_date_problem(expression: str, start_date: Any, *, now: datetime | None = None) -> str | None:
    """The refusal for a recurring schedule's StartDate (epoch seconds, as the SDKs send it)
    earlier than five minutes ago; None otherwise (a one-time `at(...)` schedule ignores it)."""
    if start_date is None or not expression.startswith(("rate(", "cron(")):
        return None
    when = datetime.fromtimestamp(float(start_date), UTC)
    return START_DATE_TOO_OLD if when < (now or datetime.now(UTC)) - START_DATE_GRACE else None


def install(patches: Patches) -> None:
    updated: Callable[[EventBridgeSchedulerResponse], str] = EventBridgeSchedulerResponse.update_schedule

    def update_schedule(response: EventBridgeSchedulerResponse) -> str:
        found = start_date_problem(str(response._get_param("ScheduleExpression") or ""),
                                   response._get_param("StartDate"))
        if found:
            raise ValidationException(message=found)
        return updated(response)

    patches.set(EventBridgeSchedulerResponse, "update_schedule", update_schedule)
