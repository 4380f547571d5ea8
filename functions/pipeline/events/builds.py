"""CodeBuild build state changes."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.events.envelope import EventBridgeModel, InvalidEventError, describe


class _EnvironmentVariable(BaseModel):
    name: str
    value: str = ""


class _BuildEnvironment(BaseModel):
    model_config = ConfigDict(extra="ignore")
    environment_variables: Annotated[list[_EnvironmentVariable], Field(alias="environment-variables")] = []


class _BuildLogs(BaseModel):
    model_config = ConfigDict(extra="ignore")
    deep_link: Annotated[str | None, Field(alias="deep-link")] = None


class _BuildInformation(BaseModel):
    model_config = ConfigDict(extra="ignore")
    environment: _BuildEnvironment = _BuildEnvironment()
    source_version: Annotated[str, Field(alias="source-version")] = ""
    logs: _BuildLogs = _BuildLogs()


class BuildStateDetail(BaseModel):
    model_config = ConfigDict(extra="ignore")
    build_status: Annotated[Literal["IN_PROGRESS", "SUCCEEDED", "FAILED", "STOPPED", "FAULT", "TIMED_OUT"],
                            Field(alias="build-status")]
    project_name: Annotated[str, Field(alias="project-name")]
    build_id: Annotated[str, Field(alias="build-id")]
    current_phase: Annotated[str, Field(alias="current-phase")] = "UNKNOWN"
    additional_information: Annotated[_BuildInformation, Field(alias="additional-information")] = _BuildInformation()

    def variable(self, name: str) -> str:
        return next((v.value for v in self.additional_information.environment.environment_variables
                     if v.name == name), "")


class BuildStateChanged(EventBridgeModel):
    source: Literal["aws.codebuild"]
    detail_type: Annotated[Literal["CodeBuild Build State Change"], Field(alias="detail-type")]
    detail: BuildStateDetail  # type: ignore[assignment]


def parse_build_state(event: object) -> BuildStateChanged:
    try:
        return BuildStateChanged.model_validate(event)
    except ValidationError as exc:
        raise InvalidEventError(describe(exc)) from None
