"""What an ECR repository of ours should look like, and how an existing one drifts from it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal

from pipeline.domain.naming import LIVE_TAG_PREFIX

Encryption = Literal["AES256", "KMS"]
# Rule 1 keeps this many `live-` images; a repository has one, plus one per revision in use
# (see lifecycle_policy).
LIVE_IMAGES_KEPT = 9999


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
        """Keep the live image; expire untagged images after N days; keep the last M tagged images.

        ECR expires an image by the first rule, in priority order, whose tags it matches: an
        image that matches a higher-priority rule's tags cannot be expired by a lower one
        (ECR User Guide, "Lifecycle policy evaluation rules"). Rule 1 claims every image with a
        `live-` tag and keeps up to LIVE_IMAGES_KEPT of them, far more than a repository has (a
        repository is one environment's: `live-<environment>` names one digest, and retention's
        `live-<environment>-r<revision>` the image of each revision in use), so the count rule
        can count those images but never expire them. The rule's description (part of the
        policy's text) still names only `live-<environment>`: another text would be drift on
        every existing repository, put again at its next checked build start.

        ECR tag patterns have only `*`, so the count covers every tagged image: `latest` and
        the build cache are re-pushed by every build, so they are always among the newest.
        """
        return {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": "Keep the image a registered revision runs (live-<environment>)",
                    "selection": {
                        "tagStatus": "tagged",
                        "tagPrefixList": [LIVE_TAG_PREFIX],
                        "countType": "imageCountMoreThan",
                        "countNumber": LIVE_IMAGES_KEPT,
                    },
                    "action": {"type": "expire"},
                },
                {
                    "rulePriority": 2,
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
                    "rulePriority": 3,
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
