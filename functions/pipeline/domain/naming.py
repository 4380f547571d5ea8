"""Names, exactly as the ECS/ECR guide writes them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.domain.quoting import shown

_SHA = re.compile(r"^[0-9a-f]{7,40}$")
SHORT_SHA_LENGTH = 7
LATEST = "latest"


class InvalidCommitError(ValueError):
    """A commit id that is not a hexadecimal git SHA. Pass the full or short SHA."""


def short_sha(commit: str) -> str:
    """The tag every image carries besides `latest`: the commit's first 7 hex digits."""
    commit = commit.strip().lower()
    if not _SHA.match(commit):
        raise InvalidCommitError(f"'{shown(commit)}' is not a git commit SHA")
    return commit[:SHORT_SHA_LENGTH]


def is_commit(ref: str) -> bool:
    """A full 40-digit commit SHA (anything else is taken as a branch name)."""
    return len(ref) == 40 and bool(_SHA.match(ref))


def is_sha_tag(tag: str) -> bool:
    return len(tag) == SHORT_SHA_LENGTH and bool(_SHA.match(tag))


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
