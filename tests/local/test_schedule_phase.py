"""A rate() schedule keeps its phase when retargeted: its StartDate is its first run
(EventBridge Scheduler User Guide, "Rate-based schedules"; without one the schedule "starts
invoking the target immediately"). Dropped on the retry, the scheduled task would run at the
deployment's time and every later run move to that time of day. (Found by a review.)"""

from datetime import UTC, datetime, timedelta

from pipeline.adapters import schedules
from tests.local.test_scheduler_rules import DEFINITION, FAMILY, _made, scheduler  # noqa: F401


def test_a_rate_schedule_made_a_month_ago_keeps_its_phase_when_retargeted(scheduler):  # noqa: F811
    start = (datetime.now(UTC) - timedelta(days=30)).replace(hour=3, minute=0, second=0, microsecond=0)
    _made(scheduler, "rate(1 day)", start)
    sent: list[dict] = []
    scheduler.meta.events.register("provide-client-params.scheduler.UpdateSchedule",
                                   lambda params, **_: sent.append(dict(params)))
    assert schedules.retarget_schedule("cleanup", FAMILY, f"{DEFINITION}:2", scheduler=scheduler)
    last = sent[-1]
    assert "StartDate" in last, "the rate schedule was updated without a StartDate: it runs now and at this time daily"
    moved = last["StartDate"] - start
    assert last["StartDate"] > datetime.now(UTC) and moved % timedelta(days=1) == timedelta(0), last["StartDate"]
