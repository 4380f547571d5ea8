"""Ensure the ECR repositories: create what is missing, correct drift, change nothing else.

A function instance remembers the repositories it has ensured (with the settings it ensured
them with) for ENSURED_FOR_SECONDS: a warm starter's next build start of the same service makes
no ECR call, and drift made by hand is corrected by the first build start in a new instance,
or after that time.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Literal

from aws_lambda_powertools import Logger

from pipeline.adapters import ecr
from pipeline.domain.repositories import RepositorySpec, drift
from pipeline.settings import Settings

logger = Logger(child=True)

Action = Literal["created", "corrected", "unchanged", "ensured recently"]
ENSURED_FOR_SECONDS = 600.0


class _Ensured:
    """Repositories this instance ensured, by their spec, and when (one per process: a spec
    changes with the function's environment, so a new setting is applied at once)."""

    def __init__(self) -> None:
        self._at: dict[str, float] = {}
        self._lock = threading.Lock()

    def recent(self, spec: RepositorySpec) -> bool:
        with self._lock:
            at = self._at.get(_key(spec))
            return at is not None and time.monotonic() - at < ENSURED_FOR_SECONDS

    def note(self, spec: RepositorySpec) -> None:
        with self._lock:
            self._at[_key(spec)] = time.monotonic()

    def clear(self) -> None:
        with self._lock:
            self._at.clear()


def _key(spec: RepositorySpec) -> str:
    return json.dumps(asdict(spec), sort_keys=True)


_ENSURED = _Ensured()


def reset() -> None:
    """Forget what was ensured (tests, and the local account between runs)."""
    _ENSURED.clear()


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
        if _ENSURED.recent(spec):
            outcomes.append(RepositoryOutcome(service, spec.name, "ensured recently"))
            continue
        state = ecr.describe_repository(spec.name)
        if state is None and ecr.create_repository(spec):
            logger.info("repository created", extra={"repository": spec.name})
            _ENSURED.note(spec)
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
        _ENSURED.note(spec)
        outcomes.append(RepositoryOutcome(service, spec.name, "corrected" if corrections else "unchanged", corrections))
    return outcomes
