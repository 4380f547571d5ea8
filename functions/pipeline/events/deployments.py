"""Amazon ECS's service events: "ECS Deployment State Change" and "ECS Service Action"
(Developer Guide, "Amazon ECS service deployment state change events", "Amazon ECS service
action events"). `resources[0]` is the service's ARN; a deployment is named by `deploymentId`
(`ecs-svc/...`), the id DescribeServices gives each of the service's deployments."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.events.envelope import EventBridgeModel, InvalidEventError, describe


class DeploymentStateDetail(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    event_type: Annotated[str, Field(alias="eventType")] = "INFO"
    event_name: Annotated[Literal["SERVICE_DEPLOYMENT_IN_PROGRESS", "SERVICE_DEPLOYMENT_COMPLETED",
                                  "SERVICE_DEPLOYMENT_FAILED"], Field(alias="eventName")]
    deployment_id: Annotated[str, Field(alias="deploymentId", min_length=1)]
    updated_at: Annotated[str, Field(alias="updatedAt")] = ""
    reason: str = ""


class ServiceActionDetail(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    event_type: Annotated[str, Field(alias="eventType")] = "INFO"
    event_name: Annotated[str, Field(alias="eventName", min_length=1)]
    created_at: Annotated[str, Field(alias="createdAt")] = ""
    reason: str = ""


class _EcsEvent(EventBridgeModel):
    source: Literal["aws.ecs"]  # what the rules match: an event that says otherwise is not ECS's


class DeploymentStateChanged(_EcsEvent):
    detail: DeploymentStateDetail  # type: ignore[assignment]

    @property
    def service_arn(self) -> str:
        return self.resources[0] if self.resources else ""


class ServiceAction(_EcsEvent):
    detail: ServiceActionDetail  # type: ignore[assignment]

    @property
    def service_arn(self) -> str:
        return self.resources[0] if self.resources else ""


def parse_service_event(event: object) -> DeploymentStateChanged | ServiceAction:
    kind = event.get("detail-type") if isinstance(event, dict) else None
    model: type[DeploymentStateChanged] | type[ServiceAction]
    if kind == "ECS Deployment State Change":
        model = DeploymentStateChanged
    elif kind == "ECS Service Action":
        model = ServiceAction
    else:
        raise InvalidEventError(f"not an ECS service event: detail-type {kind!r}")
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        raise InvalidEventError(describe(exc)) from None
