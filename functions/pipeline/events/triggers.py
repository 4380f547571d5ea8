"""What triggers builds: CodeCommit pushes, the schedule and "Build Requested"."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipeline.domain.naming import NULL_COMMIT
from pipeline.domain.requests import BuildRequest
from pipeline.events.envelope import EventBridgeModel, by_detail_type, parse_by_detail_type


class CodeCommitReferenceDetail(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")
    event: Literal["referenceCreated", "referenceUpdated"]
    repository_name: Annotated[str, Field(alias="repositoryName")]
    reference_type: Annotated[Literal["branch"], Field(alias="referenceType")]
    reference_name: Annotated[str, Field(alias="referenceName")]
    commit_id: Annotated[str, Field(alias="commitId", pattern=r"^[0-9a-f]{40}$")]
    old_commit_id: Annotated[str | None, Field(alias="oldCommitId", pattern=r"^[0-9a-f]{40}$")] = None

    @field_validator("old_commit_id")
    @classmethod
    def _null_id_is_no_commit(cls, value: str | None) -> str | None:
        # git's null object id (forty zeros) names no commit: no "before", as for a new branch
        return None if value == NULL_COMMIT else value


class CodeCommitPush(EventBridgeModel):
    source: Literal["aws.codecommit"]
    detail_type: Annotated[Literal["CodeCommit Repository State Change"], Field(alias="detail-type")]
    detail: CodeCommitReferenceDetail  # type: ignore[assignment]


class ScheduledRebuild(EventBridgeModel):
    source: Literal["aws.events"]
    detail_type: Annotated[Literal["Scheduled Event"], Field(alias="detail-type")]


class BuildRequested(EventBridgeModel):
    source: Literal["shipline"]
    detail_type: Annotated[Literal["Build Requested"], Field(alias="detail-type")]
    detail: BuildRequest  # type: ignore[assignment]

BuildTrigger = CodeCommitPush | ScheduledRebuild | BuildRequested
_BUILD_TRIGGERS: dict[str, type[BuildTrigger]] = by_detail_type(CodeCommitPush, ScheduledRebuild, BuildRequested)


def parse_build_trigger(event: object) -> BuildTrigger:
    return parse_by_detail_type(event, _BUILD_TRIGGERS, "a build trigger")
