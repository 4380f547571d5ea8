"""Promotion by digest: copy an image the source environment registered into the target
environment's repository, unchanged, once; or, where the target requires approval, record the
request and copy when someone else approves it. What the copy pushes is an ordinary ECR push
in the target repository: its "ECR Image Action" event reaches the target stack's
ImageEventsFunction, which gates and registers it like one of its own builds. Nothing is built.

Reached from the CLI (`shipline promote`, `shipline approve`), with the operator's credentials;
no function of the stack runs it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pipeline.adapters import ecr, ledger
from pipeline.domain.promotion import (
    NO_APPROVAL,
    ApprovalPolicy,
    ApproveOutcome,
    PromoteOutcome,
    PromotionError,
    Route,
    check_tag_free,
    choose_pending,
    may_approve,
    promotion_tag,
    source_digest,
)
from pipeline.domain.records import PromotionRecord
from pipeline.domain.status import partition

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class Ends:
    """Both environments of a promotion: their ledgers, the target's approval rules, and the
    clients for each side (the source's may be another account's, through an assumed role)."""

    route: Route
    source_table: str
    target_table: str
    policy: ApprovalPolicy
    self_approval: bool
    source_ecr: Any
    source_dynamodb: Any
    target_ecr: Any
    source_registry: str = ""  # the source account when it is another one
    fetch: Any | None = None  # opens a download URL (default: urllib)

    def target_key(self) -> str:
        return partition(self.route.project, self.route.target, self.route.service)

    def source_key(self) -> str:
        return partition(self.route.project, self.route.source, self.route.service)


def promote(ends: Ends, *, digest: str | None, requester: str) -> tuple[PromoteOutcome, PromotionRecord]:
    """Check everything first (nothing is recorded or copied when a check fails), then record
    the request; copy at once unless the target requires approval."""
    route = ends.route
    if digest is not None and not _DIGEST.match(digest):
        raise PromotionError(f"--digest {digest[:80]!r} is not an image digest (sha256: and 64 hex digits)")
    current = ledger.read_current_of(ends.source_table, ends.source_key(), dynamodb=ends.source_dynamodb)
    chosen = source_digest(digest, current.digest if current else None, route)
    tag = _checked_tag(ends, chosen)
    at = ledger.now()
    approved = ends.policy == "none"
    record = PromotionRecord(service=route.service, digest=chosen, source=route.source, tag=tag,
                             requested_by=requester, requested_at=at, state="approved" if approved else "pending",
                             approved_by=NO_APPROVAL if approved else "", approved_at=at if approved else "",
                             source_registry=ends.source_registry)
    held, fresh = ledger.promotion_requested(ends.target_table, ends.target_key(), record)
    if held.state == "copied":
        return "already promoted", held
    if held.state == "pending":
        return ("pending approval" if fresh else "already pending"), held
    # approved: this request's, or an earlier one whose copy was interrupted (the copy is idempotent)
    copy_image(ends, held.digest, held.tag)
    return "copied", ledger.promotion_copied(ends.target_table, ends.target_key(), held.digest, ledger.now())


def approve(ends: Ends, *, digest: str | None, approver: str) -> tuple[ApproveOutcome, PromotionRecord]:
    """Approve the pending promotion and copy it. Of concurrent approvals, the conditional write
    lets one through; the others copy nothing and say who approved."""
    route = ends.route
    chosen = choose_pending(ledger.promotions(ends.target_table, ends.target_key()), digest, route)
    if chosen.state == "copied":
        return "already copied", chosen
    may_approve(chosen, approver, self_approval=ends.self_approval, route=route)
    _checked_tag(ends, chosen.digest, expected=chosen.tag)  # before the approval is written: nothing half-done
    if chosen.state == "pending":
        won = ledger.promotion_approved(ends.target_table, ends.target_key(), chosen.digest, approver, ledger.now(),
                                        self_approval=ends.self_approval)
        if won is None:
            now = ledger.read_promotion(ends.target_table, ends.target_key(), chosen.digest) or chosen
            return ("already copied" if now.state == "copied" else "already approved"), now
        chosen = won
    copy_image(ends, chosen.digest, chosen.tag)
    return "copied", ledger.promotion_copied(ends.target_table, ends.target_key(), chosen.digest, ledger.now())


def copy_image(ends: Ends, digest: str, tag: str) -> ecr.PutOutcome:
    """The manifest, its blobs (and, for an index, its images) into the target repository."""
    route = ends.route
    source, target = route.source_repository(), route.target_repository()

    def copy(manifest: ecr.StoredManifest, tag: str | None) -> ecr.PutOutcome:
        if manifest.is_index():
            for child in manifest.children():
                copy(ecr.read_manifest(source, child, ecr=ends.source_ecr), None)
        else:
            for blob in ecr.missing_blobs(target, manifest.blobs(), ecr=ends.target_ecr):
                ecr.copy_blob(source, target, blob, source_ecr=ends.source_ecr, target_ecr=ends.target_ecr,
                              fetch=ends.fetch)
        return ecr.put_manifest(target, manifest, tag, ecr=ends.target_ecr)

    try:
        return copy(ecr.read_manifest(source, digest, ecr=ends.source_ecr), tag)
    except (ecr.RepositoryMissingError, ecr.ImageGoneError) as exc:  # deleted since the checks: promote again
        raise PromotionError(f"{exc}: the copy stopped; nothing was registered") from None


def _checked_tag(ends: Ends, digest: str, expected: str | None = None) -> str:
    """The image's commit tag, after checking the image is in the source repository, the target
    repository exists, and the tag is free there (or on this digest already)."""
    route = ends.route
    try:
        stored = ecr.describe_image(route.source_repository(), digest, ecr=ends.source_ecr)
    except ecr.ImageGoneError:
        raise PromotionError(f"{route.source_repository()} has no image {digest}: nothing to promote") from None
    tag = expected or promotion_tag(stored.tags, route, digest)
    try:
        holder = ecr.tag_holder(route.target_repository(), tag, ecr=ends.target_ecr)
    except ecr.RepositoryMissingError:
        raise PromotionError(f"repository {route.target_repository()} does not exist: {route.target} has never "
                             f"built {route.service}. Create it with its stack's settings by building there once "
                             f"(shipline trigger --environment {route.target} --service {route.service}), then "
                             "promote") from None
    check_tag_free(holder, tag, digest, route)
    return tag
