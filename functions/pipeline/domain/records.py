"""What the ledger holds about one service in one environment, as typed records.

The ledger's item layout (partition and sort keys, attribute names) belongs to
`pipeline.adapters.ledger` alone; everything else reads and writes these records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pipeline.domain.inputs import inputs_of_tag
from pipeline.domain.rollout import RunningRecord
from pipeline.domain.scans import Finding

STARTED = "STARTED"  # a build's status from its start until its end is recorded
BUILD_FAILED = frozenset({"FAILED", "FAULT", "STOPPED", "TIMED_OUT"})
BUILT = frozenset({"SUCCEEDED", "REUSED"})  # REUSED: an image with the same inputs was retagged
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
class StartedBuild:
    """A build the starter started for one plan of a commit (its idempotency key), and when."""

    build: str
    at: str


@dataclass(frozen=True)
class CommitRecord:
    """A commit of one service as the pipeline planned it: when first (its place in the order of
    commits), its latest build attempt, and the builds started for it, by plan."""

    commit: str
    planned_at: str
    attempt: int = 0
    last_build: str = ""
    last_status: str = ""
    reused_digest: str = ""  # when REUSED: the image retagged as this commit's
    reused_at: str = ""  # when REUSED: when it was retagged
    # The build started for each plan of the commit (BuildPlan.idempotency_key), within the
    # idempotency window: the build starter's record that a plan was started, so a duplicate
    # delivery of it starts nothing.
    starts: dict[str, StartedBuild] = field(default_factory=dict, hash=False, compare=False)

    @property
    def failed(self) -> bool:
        return self.last_status in BUILD_FAILED

    @property
    def built(self) -> bool:
        return self.last_status in BUILT


@dataclass(frozen=True)
class ReuseRecord:
    """A commit built by retagging the image that already had its inputs (no build ran)."""

    commit: str
    digest: str
    inputs: str
    tag: str
    attempt: int
    at: str


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
    registering: str = ""  # the claim of the invocation registering it now (see RegistrationClaim)
    registering_until: str = ""
    messages: dict[str, MessageClaim] = field(default_factory=dict)  # scan messages, by their key

    @property
    def inputs(self) -> str:
        """The hash of the build inputs the image was built from ("" when unknown): its
        `inputs-<hash>` tag, which the ledger records as the push of that tag arrives."""
        return next((found for tag in self.tags if (found := inputs_of_tag(tag))), "")


@dataclass(frozen=True)
class RegistrationClaim:
    """One invocation's claim to register an image: held on the image's ledger item until the
    revision is recorded there (or the claim is released), and good until `until` (the
    invocation's deadline): a claim left by an invocation that died is taken over after it."""

    token: str
    until: str  # ISO 8601, UTC


@dataclass(frozen=True)
class MessageClaim:
    """A message about an image (its scan result), claimed on the image's ledger item by the
    invocation that sends it: sent once `sent_at` is set; until then held by `token` until
    `until` (the invocation's deadline), after which a retry takes it over and sends it."""

    token: str
    until: str  # ISO 8601, UTC
    sent_at: str = ""


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
class RunningRevision:
    """Where an image runs: it is the digest of the service's current registered revision in
    that environment's ledger partition, or (`on_ecs`) of the revision the ECS service runs as
    its deployments' events last said (after a rollback, an older one)."""

    service: str
    environment: str
    revision: int
    on_ecs: bool = False

    def describe(self) -> str:
        return (f"{self.service} in {self.environment}, revision {self.revision}"
                + (" (the ECS service runs it)" if self.on_ecs else ""))


@dataclass(frozen=True)
class ServiceHistory:
    builds: tuple[BuildRecord, ...] = ()
    images: tuple[ImageRecord, ...] = ()
    current: CurrentRecord | None = None
    running: RunningRecord | None = None  # what the ECS service runs (Rollout on)
    commits: tuple[CommitRecord, ...] = ()


@dataclass(frozen=True)
class FindingRecord:
    """One Amazon Inspector finding of an image, as last seen; `queued_at` is when it was queued
    for its image's digest ("" when it never was: its image's scan message carried it, or it is
    not one to report)."""

    finding_arn: str
    digest: str
    finding: Finding
    status: str  # ACTIVE, SUPPRESSED or CLOSED
    first_observed_at: str = ""  # ISO 8601, UTC; "" when the event did not say
    queued_at: str = ""
    # The event's updatedAt (ISO 8601, UTC; "" when it did not say): Inspector sends a finding
    # again, same ARN, whenever its state changes, and EventBridge does not keep order, so the
    # ledger keeps the newest state, not the last delivered.
    updated_at: str = ""
    sent_in: str = ""  # the hour of the digest that carried it ("" when none did)


@dataclass(frozen=True)
class PendingFinding:
    """A finding that arrived after its image's scan message: it waits for the image's next
    hourly digest. `hour` is the UTC hour it was queued in (`2026-11-21T06`)."""

    service: str
    digest: str
    tags: tuple[str, ...]
    finding_arn: str
    finding: Finding
    hour: str


PromotionState = Literal["pending", "approved", "copied"]


@dataclass(frozen=True)
class PromotionRecord:
    """One promotion of one digest into the target environment, as its ledger keeps it."""

    service: str
    digest: str
    source: str
    tag: str
    requested_by: str
    requested_at: str
    state: PromotionState
    approved_by: str = ""
    approved_at: str = ""
    copied_at: str = ""
    source_registry: str = ""  # the source account, when it is not the target's

    def describe(self) -> str:
        text = f"{self.service}@{self.digest[:19]} ({self.tag}) from {self.source}, requested by " \
               f"{self.requested_by} at {self.requested_at}"
        if self.approved_by:
            text += f", approved by {self.approved_by} at {self.approved_at}"
        return text
