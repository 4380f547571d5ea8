"""What the ledger holds about one service in one environment, as typed records.

The ledger's item layout (partition and sort keys, attribute names) belongs to
`pipeline.adapters.ledger` alone; everything else reads and writes these records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

BUILD_FAILED = frozenset({"FAILED", "FAULT", "STOPPED", "TIMED_OUT"})
Scanner = Literal["basic", "inspector"]


@dataclass(frozen=True)
class BuildRecord:
    """One CodeBuild build, keyed by its ARN (StartBuild's and the state change's `build-id`)."""

    build_id: str
    status: str  # STARTED, then CodeBuild's final status
    commit: str
    at: str
    trigger: str = ""
    phase: str = ""
    reason: str = ""


@dataclass(frozen=True)
class CommitRecord:
    """A commit of one service as the pipeline planned it: when first (its place in the order of
    commits), and its latest build attempt."""

    commit: str
    planned_at: str
    attempt: int = 0
    last_build: str = ""
    last_status: str = ""

    @property
    def failed(self) -> bool:
        return self.last_status in BUILD_FAILED

    @property
    def built(self) -> bool:
        return self.last_status == "SUCCEEDED"


@dataclass(frozen=True)
class ScanRecord:
    """One scanner's latest result for an image."""

    scanner: Scanner
    status: str  # COMPLETE / INITIAL_SCAN_COMPLETE, or what the scanner said instead (FAILED ...)
    counts: dict[str, int]
    at: str


@dataclass(frozen=True)
class ImageRecord:
    digest: str
    tags: tuple[str, ...] = ()
    last_push_at: str = ""
    scans: dict[str, ScanRecord] = field(default_factory=dict)
    revision: int | None = None
    revision_arn: str = ""
    registered_at: str = ""


@dataclass(frozen=True)
class CurrentRecord:
    """The revision registered last for the service: what runs, as far as shipline knows."""

    digest: str
    revision: int
    revision_arn: str
    registered_at: str
    tag: str = ""
    pushed_at: str = ""
    commit: str = ""
    planned_at: str = ""


@dataclass(frozen=True)
class ServiceHistory:
    builds: tuple[BuildRecord, ...] = ()
    images: tuple[ImageRecord, ...] = ()
    current: CurrentRecord | None = None
