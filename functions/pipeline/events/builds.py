"""CodeBuild build state changes."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.events.envelope import EventBridgeModel, InvalidEventError, describe


class _EnvironmentVariable(BaseModel):
    name: str
    value: str = ""


class _BuildEnvironment(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")
    environment_variables: Annotated[list[_EnvironmentVariable], Field(alias="environment-variables")] = []


class _BuildLogs(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")
    deep_link: Annotated[str | None, Field(alias="deep-link")] = None


class BuildPhase(BaseModel):
    """One entry of `additional-information.phases`; the last (COMPLETED) has only its type."""

    model_config = ConfigDict(defer_build=True, extra="ignore")
    phase_type: Annotated[str, Field(alias="phase-type")]
    phase_status: Annotated[str | None, Field(alias="phase-status")] = None
    phase_context: Annotated[list[str | None], Field(alias="phase-context")] = []

    @property
    def context(self) -> str:
        """The phase's message: "COMMAND_EXECUTION_ERROR: Error while executing command: ..."."""
        return "; ".join(c for c in self.phase_context if c and c.strip(": "))


class _BuildInformation(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")
    environment: _BuildEnvironment = _BuildEnvironment()
    source_version: Annotated[str, Field(alias="source-version")] = ""
    logs: _BuildLogs = _BuildLogs()
    phases: list[BuildPhase] = []


class BuildStateDetail(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")
    build_status: Annotated[Literal["IN_PROGRESS", "SUCCEEDED", "FAILED", "STOPPED", "FAULT", "TIMED_OUT"],
                            Field(alias="build-status")]
    project_name: Annotated[str, Field(alias="project-name", min_length=1)]
    build_id: Annotated[str, Field(alias="build-id", min_length=1)]  # the ledger's and the notice's key
    current_phase: Annotated[str, Field(alias="current-phase")] = "UNKNOWN"
    additional_information: Annotated[_BuildInformation, Field(alias="additional-information")] = _BuildInformation()

    def variable(self, name: str) -> str:
        return next((v.value for v in self.additional_information.environment.environment_variables
                     if v.name == name), "")

    @property
    def failed_phase(self) -> BuildPhase | None:
        """The phase that failed: on a final state `current-phase` is COMPLETED, and the failure
        is in `additional-information.phases` (CodeBuild's "Build notifications input format")."""
        return next((p for p in self.additional_information.phases
                     if p.phase_status not in (None, "SUCCEEDED")), None)


class BuildStateChanged(EventBridgeModel):
    source: Literal["aws.codebuild"]
    detail_type: Annotated[Literal["CodeBuild Build State Change"], Field(alias="detail-type")]
    detail: BuildStateDetail  # type: ignore[assignment]


def parse_build_state(event: object) -> BuildStateChanged:
    try:
        return BuildStateChanged.model_validate(event)
    except ValidationError as exc:
        raise InvalidEventError(describe(exc)) from None
