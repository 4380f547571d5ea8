"""What an ECR repository of ours should look like, and how an existing one drifts from it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal

Encryption = Literal["AES256", "KMS"]


@dataclass(frozen=True)
class RepositoryState:
    """The parts of a repository that shipline sets and watches."""

    name: str
    scan_on_push: bool
    encryption: str
    kms_key: str | None = None
    tag_mutability: str = "MUTABLE"
    lifecycle_policy: str | None = None  # JSON text, as ECR returns it
    uri: str = ""


@dataclass(frozen=True)
class RepositorySpec:
    """The settings the guide asks for, plus a lifecycle policy and tags."""

    name: str
    project: str
    environment: str
    service: str
    encryption: Encryption = "AES256"
    kms_key: str | None = None
    untagged_expiry_days: int = 7
    keep_sha_images: int = 30
    tags: dict[str, str] = field(default_factory=dict)

    def resource_tags(self) -> dict[str, str]:
        return {
            "shipline:project": self.project,
            "shipline:environment": self.environment,
            "shipline:service": self.service,
            **self.tags,
        }

    def lifecycle_policy(self) -> dict:
        """Expire untagged images after N days; keep the last M SHA-tagged images.

        ECR tag patterns have only `*`, so the count covers every tagged image: `latest` and
        the build cache are re-pushed by every build, so they are always among the newest.
        """
        return {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"Expire untagged images after {self.untagged_expiry_days} days",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": self.untagged_expiry_days,
                    },
                    "action": {"type": "expire"},
                },
                {
                    "rulePriority": 2,
                    "description": f"Keep the last {self.keep_sha_images} tagged images",
                    "selection": {
                        "tagStatus": "tagged",
                        "tagPatternList": ["*"],
                        "countType": "imageCountMoreThan",
                        "countNumber": self.keep_sha_images,
                    },
                    "action": {"type": "expire"},
                },
            ]
        }

    def lifecycle_policy_text(self) -> str:
        return json.dumps(self.lifecycle_policy(), sort_keys=True, separators=(",", ":"))


Correction = Literal["scan_on_push", "lifecycle_policy"]


def drift(existing: RepositoryState, spec: RepositorySpec) -> tuple[Correction, ...]:
    """What to correct on an existing repository. Encryption cannot change after creation,
    and tag mutability is left as the owner set it."""
    corrections: list[Correction] = []
    if not existing.scan_on_push:
        corrections.append("scan_on_push")
    if _normalised(existing.lifecycle_policy) != spec.lifecycle_policy():
        corrections.append("lifecycle_policy")
    return tuple(corrections)


def _normalised(policy: str | None) -> dict | None:
    if not policy:
        return None
    try:
        return json.loads(policy)
    except ValueError:
        return None
