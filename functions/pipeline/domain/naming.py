"""Names, exactly as the ECS/ECR guide writes them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.domain.outcomes import Rejected
from pipeline.domain.quoting import shown

_SHA = re.compile(r"^[0-9a-f]{7,40}$")
SHORT_SHA_LENGTH = 7
LATEST = "latest"
LIVE_TAG_PREFIX = "live-"


class InvalidCommitError(ValueError, Rejected):
    """A commit id that is not a hexadecimal git SHA. Pass the full or short SHA."""


def short_sha(commit: str) -> str:
    """The tag every image carries besides `latest`: the commit's first 7 hex digits."""
    commit = commit.strip().lower()
    if not _SHA.match(commit):
        raise InvalidCommitError(f"'{shown(commit)}' is not a git commit SHA")
    return commit[:SHORT_SHA_LENGTH]


NULL_COMMIT = "0" * 40  # git's null object id: a branch created (no commit before) or deleted (none after)


def is_commit(ref: str) -> bool:
    """A full 40-digit commit SHA (anything else is taken as a branch name)."""
    return len(ref) == 40 and bool(_SHA.match(ref))


_COMMIT_TAG = re.compile(r"^[0-9a-f]{7}(?:-b[0-9]+)?$")


def is_sha_tag(tag: str) -> bool:
    """A commit tag: the short SHA (a commit's first build), or `<short sha>-b<N>` (its Nth)."""
    return bool(_COMMIT_TAG.match(tag))


def commit_of_tag(tag: str) -> str:
    """The short SHA a commit tag names (`<short sha>` or `<short sha>-b<N>`)."""
    return tag.split("-b", 1)[0]


def commit_tag(commit: str, attempt: int = 1) -> str:
    """The tag of a commit's build: its short SHA the first time; `-b<N>` on a rebuild, so the
    image the first build pushed keeps its tag (and is never left untagged for the lifecycle
    policy to expire while a revision still runs it)."""
    short = short_sha(commit)
    return short if attempt <= 1 else f"{short}-b{attempt}"


def live_tag(environment: str) -> str:
    """The tag on the image the environment's registered revision runs: the repository's
    lifecycle policy never expires an image carrying it."""
    return f"{LIVE_TAG_PREFIX}{environment}"


def in_use_tag(environment: str, revision: int) -> str:
    """The tag on the image of a revision in use (the ECS service runs it or would roll back to it,
    a scheduled task names it) that is not the registered one: `live-<environment>-r<revision>`.
    Under the `live-` prefix, so the lifecycle policy never expires it either; one per revision,
    since a revision's image never changes."""
    return f"{live_tag(environment)}-r{revision}"


def is_live_tag(tag: str) -> bool:
    """`live-<environment>` or an in-use tag: shipline's own, under the lifecycle policy's kept prefix."""
    return tag.startswith(LIVE_TAG_PREFIX)


@dataclass(frozen=True)
class Target:
    """Where images go: one project, one environment, in one account and region."""

    project: str
    environment: str
    account: str
    region: str

    def repository(self, service: str) -> str:
        return f"{self.project}-{self.environment}-{service}"

    def registry(self) -> str:
        return f"{self.account}.dkr.ecr.{self.region}.amazonaws.com"

    def repository_uri(self, service: str) -> str:
        return f"{self.registry()}/{self.repository(service)}"

    def image_uri(self, service: str, tag: str) -> str:
        return f"{self.repository_uri(service)}:{tag}"

    def family(self, service: str) -> str:
        return self.repository(service)

    def requests_bus(self) -> str:
        """The event bus "Build Requested" travels on (template.yaml's BuildRequestsBus)."""
        return f"shipline-{self.project}-{self.environment}-requests"

    def log_group(self, service: str) -> str:
        return f"/ecs/{self.repository(service)}"

    def service_of(self, repository: str) -> str | None:
        """The service a repository name belongs to, or None when it is not this target's."""
        prefix = f"{self.project}-{self.environment}-"
        if not repository.startswith(prefix):
            return None
        return repository[len(prefix):] or None
