"""ECS deployment events' `updatedAt` in one form, so the ledger's text comparison (what runs,
by the latest event) orders them as times whatever form each event wrote it in."""

from datetime import UTC, datetime

import pytest

from pipeline.events.deployments import DeploymentStateDetail

SENT = datetime(2020, 5, 23, 11, 11, 30, tzinfo=UTC)


def _at(updated_at: str) -> str:
    return DeploymentStateDetail(eventName="SERVICE_DEPLOYMENT_COMPLETED", deploymentId="ecs-svc/1",
                                 updatedAt=updated_at).instant(SENT)


def test_times_within_one_second_in_different_forms_order_as_times():
    # as text, "...:11Z" sorts after "...:11.500Z" and "...:11+00:00" before it
    written = ["2020-05-23T11:11:11Z", "2020-05-23T11:11:11.500Z", "2020-05-23T11:11:11.750+00:00"]
    assert sorted(written) != written
    assert sorted(map(_at, written)) == list(map(_at, written))
    assert _at("2020-05-23T11:11:11Z") == "2020-05-23T11:11:11.000000+00:00"


def test_another_offset_is_taken_to_utc():
    assert _at("2020-05-23T13:11:11+02:00") == _at("2020-05-23T11:11:11Z")


@pytest.mark.parametrize("updated_at", ["", "  ", "yesterday"])
def test_no_readable_time_is_the_events_own(updated_at):
    assert _at(updated_at) == "2020-05-23T11:11:30.000000+00:00"
