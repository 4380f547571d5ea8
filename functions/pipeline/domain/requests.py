"""The "Build Requested" event: shipline's own request to build services at a commit.

It travels on shipline's own event bus, whose policy admits only the operator principal and,
under RebuildOnFixAvailable, the image events function's role (template.yaml); the build trigger
still builds only commits the tracked branch holds. (A GitHub push does not pass here: the
webhook plans it and queues its build starts itself.)
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipeline.domain.fixes import RebuildReason
from pipeline.domain.outcomes import Refused
from pipeline.domain.quoting import one_line


class UntrackedSourceError(ValueError, Refused):
    """A request to build a branch other than the tracked one, or a commit its history does not
    hold. Refused: request a commit of the tracked branch."""

    def __init__(self, message: str):
        super().__init__(one_line(message))


BUILD_REQUESTED = "Build Requested"
SOURCE = "shipline"

_FULL_SHA = r"^[0-9a-f]{40}$"


class BuildRequest(BaseModel):
    """Build `services` (all when absent) of `project`/`environment` at `commit`, or at the
    head of `branch` when no commit is given."""

    model_config = ConfigDict(defer_build=True, extra="ignore", frozen=True)

    project: Annotated[str, Field(min_length=1)]
    environment: Literal["dev", "staging", "prod"]
    commit: Annotated[str | None, Field(pattern=_FULL_SHA)] = None
    branch: Annotated[str | None, Field(min_length=1)] = None
    services: tuple[str, ...] | None = None
    # finding: RebuildOnFixAvailable's rebuild for a fix in a running image (`reason` says which)
    trigger: Literal["github", "request", "finding"] = "request"
    requested_by: Annotated[str, Field(alias="requestedBy")] = "unknown"
    force: bool = False  # build even a commit already built successfully (shipline trigger --force)
    reason: RebuildReason | None = None

    @model_validator(mode="after")
    def _one_source(self) -> BuildRequest:
        if (self.commit is None) == (self.branch is None):
            raise ValueError("give exactly one of commit (a full 40-digit SHA) and branch")
        if self.services is not None and not self.services:
            raise ValueError("services, when given, must name at least one service")
        if (self.trigger == "finding") != (self.reason is not None):
            raise ValueError("a reason (the finding's image and hour) goes with trigger finding, and only with it")
        if self.trigger == "finding" and self.force:
            raise ValueError("a rebuild for a finding is never forced: its build inputs decide")
        return self

    def detail(self) -> dict:
        return self.model_dump(by_alias=True, exclude_none=True, exclude_defaults=False, mode="json",
                               exclude={"force"} if not self.force else set())
