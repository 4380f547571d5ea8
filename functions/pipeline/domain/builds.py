"""Build planning: from a push (or schedule, or request) to one build per service."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from pipeline.domain.changes import services_for_paths
from pipeline.domain.fixes import RebuildReason
from pipeline.domain.manifest import Manifest
from pipeline.domain.naming import LATEST, Target, is_commit, short_sha
from pipeline.domain.requests import UntrackedSourceError

Trigger = Literal["codecommit", "github", "schedule", "request", "finding"]
_REF = r"^[^-\s~^:?*\[\\\x00-\x1f\x7f][^\s~^:?*\[\\\x00-\x1f\x7f]*$"


@dataclass(frozen=True)
class BuildPlan:
    """One CodeBuild build: a service at a commit (or at a branch head, for the schedule)."""

    service: str
    source_version: str  # a full commit SHA, or a branch named rebuild
    dockerfile: str
    context: str
    repository_uri: str
    tags: tuple[str, ...]  # empty: the buildspec tags with the resolved commit
    trigger: Trigger
    occasion: str = ""  # what makes a build unique beyond its commit (a schedule's or a forced request's event)
    after: str = ""  # the failed build this one retries (a new request for a commit whose build failed)
    inputs: str = ""  # the hash of the build's inputs, when known (pipeline.domain.inputs)

    @property
    def idempotency_key(self) -> str:
        """A commit is built once per service; again after a failed build (once per failure);
        and once per occasion (the nightly schedule, a forced request)."""
        key = f"{self.service}@{self.source_version}"
        if self.after:
            key += f"#after:{self.after}"
        if self.inputs:  # the same commit with other inputs (a base image tag moved) is another build
            key += f"#inputs:{self.inputs[:16]}"
        return f"{key}#{self.occasion}" if self.occasion else key

    def environment_overrides(self) -> dict[str, str]:
        """What the shared CodeBuild project needs to build this one service."""
        return {
            "SERVICE": self.service,
            "DOCKERFILE": self.dockerfile,
            "BUILD_CONTEXT": self.context,
            "REPOSITORY_URI": self.repository_uri,
            "IMAGE_TAGS": " ".join(self.tags),
            "TRIGGER": self.trigger,
            **({"INPUTS_HASH": self.inputs} if self.inputs else {}),
        }


def plan_builds(
    manifest: Manifest,
    target: Target,
    *,
    source_version: str,
    trigger: Trigger,
    changed_paths: Iterable[str] | None = None,
    services: Iterable[str] | None = None,
    occasion: str = "",
    force: bool = False,
) -> tuple[BuildPlan, ...]:
    """Plan the builds for one push.

    `changed_paths=None` and `services=None` mean "everything" (a truncated push, the
    schedule). `services` names services explicitly and is checked against the manifest.
    """
    if services is not None:
        wanted = tuple(dict.fromkeys(manifest.service(name).name for name in services))
    elif changed_paths is not None:
        wanted = services_for_paths(manifest, changed_paths)
    else:
        wanted = manifest.names
    # A branch is tagged by the buildspec with the commit CodeBuild resolved. A scheduled
    # rebuild, or a build of a branch head, is unique per occasion (the event id), so the
    # nightly build happens even when the commit was built before; a commit is built once.
    commit = is_commit(source_version)
    tags = (short_sha(source_version), LATEST) if commit else ()
    occasion = occasion if trigger == "schedule" or force or not commit else ""
    return tuple(
        BuildPlan(
            service=name,
            source_version=source_version,
            dockerfile=manifest.services[name].dockerfile,
            context=manifest.services[name].context,
            repository_uri=target.repository_uri(name),
            tags=tags,
            trigger=trigger,
            occasion=occasion,
        )
        for name in wanted
    )


class BuildStart(BaseModel):
    """One build to start, as the planner queues it: the service, and the commit (or branch)
    fixed when the trigger was planned, so a retry builds what was planned."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True, populate_by_name=True)
    service: Annotated[str, Field(min_length=1)]
    # A commit or a branch name (git check-ref-format's characters): a damaged message would start a
    # build that fails fetching its source.
    source_version: Annotated[str, Field(alias="sourceVersion", pattern=_REF)]
    trigger: Trigger
    occasion: str = ""
    event: str = ""  # the id of the event that was planned
    reason: RebuildReason | None = None  # trigger finding: the image and hour whose finding asked (RebuildOnFix)

    @classmethod
    def of(cls, plan: BuildPlan, event: str, reason: RebuildReason | None = None) -> BuildStart:
        return cls.model_validate({"service": plan.service, "sourceVersion": plan.source_version,
                                   "trigger": plan.trigger, "occasion": plan.occasion, "event": event,
                                   **({"reason": reason} if reason else {})})

    def plan(self, manifest: Manifest, target: Target, branch: str) -> BuildPlan:
        """The build this start asks for. Its source is a full commit id or the tracked `branch`
        (a branch head the planner could not resolve): anything else is UntrackedSourceError,
        before a repository is ensured or a build started."""
        if not is_commit(self.source_version) and self.source_version != branch:
            raise UntrackedSourceError(f"sourceVersion '{self.source_version}' is neither a full commit id nor the "
                                       f"tracked branch {branch}")
        spec = manifest.service(self.service)
        commit = is_commit(self.source_version)
        return BuildPlan(service=spec.name, source_version=self.source_version, dockerfile=spec.dockerfile,
                         context=spec.context, repository_uri=target.repository_uri(spec.name),
                         tags=(short_sha(self.source_version), LATEST) if commit else (), trigger=self.trigger,
                         occasion=self.occasion)
