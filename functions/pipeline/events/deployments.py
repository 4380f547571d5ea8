"""Amazon ECS's service events: "ECS Deployment State Change" and "ECS Service Action"
(Developer Guide, "Amazon ECS service deployment state change events", "Amazon ECS service
action events"). `resources[0]` is the service's ARN; a deployment is named by `deploymentId`
(`ecs-svc/...`), the id DescribeServices gives each of the service's deployments."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from pipeline.events.envelope import EventBridgeModel, parse_by_detail_type


class DeploymentStateDetail(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    event_type: Annotated[str, Field(alias="eventType")] = "INFO"
    event_name: Annotated[Literal["SERVICE_DEPLOYMENT_IN_PROGRESS", "SERVICE_DEPLOYMENT_COMPLETED",
                                  "SERVICE_DEPLOYMENT_FAILED"], Field(alias="eventName")]
    deployment_id: Annotated[str, Field(alias="deploymentId", min_length=1)]
    updated_at: Annotated[str, Field(alias="updatedAt")] = ""
    reason: str = ""

    def instant(self, sent: datetime) -> str:
        """`updatedAt` in one form, UTC to the microsecond, so that the ledger's text comparison
        of two events' times compares times (ECS's documented sample has no fraction of a second,
        "2020-05-23T11:11:11Z"; others carry milliseconds); the event's own time, `sent`, when it
        has none or it cannot be read."""
        try:
            when = datetime.fromisoformat(self.updated_at.strip()) if self.updated_at.strip() else sent
        except ValueError:
            when = sent
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC).isoformat(timespec="microseconds")


class ServiceActionDetail(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    event_type: Annotated[str, Field(alias="eventType")] = "INFO"
    event_name: Annotated[str, Field(alias="eventName", min_length=1)]
    created_at: Annotated[str, Field(alias="createdAt")] = ""
    reason: str = ""


class _EcsEvent(EventBridgeModel):
    source: Literal["aws.ecs"]  # what the rules match: an event that says otherwise is not ECS's

    @property
    def service_arn(self) -> str:
        return self.resources[0] if self.resources else ""


class DeploymentStateChanged(_EcsEvent):
    detail: DeploymentStateDetail  # type: ignore[assignment]


class ServiceAction(_EcsEvent):
    detail: ServiceActionDetail  # type: ignore[assignment]


_SERVICE_EVENTS: dict[str, type[DeploymentStateChanged] | type[ServiceAction]] = {
    "ECS Deployment State Change": DeploymentStateChanged,
    "ECS Service Action": ServiceAction,
}


def parse_service_event(event: object) -> DeploymentStateChanged | ServiceAction:
    return parse_by_detail_type(event, _SERVICE_EVENTS, "an ECS service event")
