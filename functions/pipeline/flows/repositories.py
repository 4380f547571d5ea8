"""Ensure the ECR repositories: create what is missing, correct drift, change nothing else."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from aws_lambda_powertools import Logger

from pipeline.adapters import ecr
from pipeline.domain.repositories import RepositorySpec, drift
from pipeline.settings import Settings

logger = Logger(child=True)

Action = Literal["created", "corrected", "unchanged"]


@dataclass(frozen=True)
class RepositoryOutcome:
    service: str
    repository: str
    action: Action
    corrections: tuple[str, ...] = ()


def repository_spec(settings: Settings, service: str) -> RepositorySpec:
    return RepositorySpec(
        name=settings.target.repository(service),
        project=settings.project,
        environment=settings.environment,
        service=service,
        encryption=settings.ecr_encryption,
        kms_key=settings.ecr_kms_key,
        untagged_expiry_days=settings.untagged_expiry_days,
        keep_sha_images=settings.keep_images,
    )


def ensure_repositories(settings: Settings, services: Iterable[str]) -> list[RepositoryOutcome]:
    """Idempotent by construction: a second run finds nothing to create or correct."""
    outcomes = []
    for service in services:
        spec = repository_spec(settings, service)
        state = ecr.describe_repository(spec.name)
        if state is None and ecr.create_repository(spec):
            logger.info("repository created", extra={"repository": spec.name})
            outcomes.append(RepositoryOutcome(service, spec.name, "created"))
            continue
        state = state or ecr.describe_repository(spec.name)
        corrections = drift(state, spec) if state else ()
        if "scan_on_push" in corrections:
            ecr.enable_scan_on_push(spec.name)
        if "lifecycle_policy" in corrections:
            ecr.put_lifecycle_policy(spec)
        if corrections:
            logger.warning("repository drift corrected", extra={"repository": spec.name, "corrected": corrections})
        outcomes.append(RepositoryOutcome(service, spec.name, "corrected" if corrections else "unchanged", corrections))
    return outcomes
