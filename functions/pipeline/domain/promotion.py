"""Promotion by digest: the decisions, with no AWS in them.

An image the source environment registered moves, unchanged (same manifest, same digest), into
the target environment's repository `<project>-<to>-<service>`; from there the target's own
chain runs (its gate, its registration). An environment whose stack says `PromotionApproval=
required` gets a pending promotion instead, copied only once someone approves it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pipeline.domain.naming import is_sha_tag
from pipeline.domain.records import PromotionRecord

ApprovalPolicy = Literal["none", "required"]
APPROVAL_POLICIES: tuple[ApprovalPolicy, ...] = ("none", "required")
# What `shipline promote` / `shipline approve` did, one closed set of spellings.
PromoteOutcome = Literal["copied", "pending approval", "already pending", "already promoted"]
ApproveOutcome = Literal["copied", "already approved", "already copied"]
NO_APPROVAL = "(no approval required)"


class PromotionError(ValueError):
    """A promotion that cannot go on; the message says what to change. Nothing was copied."""


class SameEnvironmentError(PromotionError):
    pass


class NoCurrentImageError(PromotionError):
    pass


class NotACommitImageError(PromotionError):
    pass


class TagTakenError(PromotionError):
    pass


class NothingToApproveError(PromotionError):
    pass


class SelfApprovalError(PromotionError):
    pass


@dataclass(frozen=True)
class Route:
    """Where an image goes: one service, from one environment's repository to another's."""

    project: str
    service: str
    source: str
    target: str

    def __post_init__(self) -> None:
        if self.source == self.target:
            raise SameEnvironmentError(f"--from and --to are both {self.source}: a promotion moves an image "
                                       "into another environment")

    def source_repository(self) -> str:
        return f"{self.project}-{self.source}-{self.service}"

    def target_repository(self) -> str:
        return f"{self.project}-{self.target}-{self.service}"


def parse_policy(value: str, stack: str) -> ApprovalPolicy:
    """The target stack's `PromotionApproval` output. A stack without it (deployed before
    promotion existed) is refused rather than taken as "none": an environment that meant to
    require approval must not get an unapproved image because its stack is old."""
    if value not in APPROVAL_POLICIES:
        raise PromotionError(f"stack {stack} does not say whether promotions into it need approval (output "
                             f"PromotionApproval is {value or 'missing'}): deploy it again with this template")
    return value  # type: ignore[return-value]


def source_digest(given: str | None, current_digest: str | None, route: Route) -> str:
    """The digest to promote: the one given, else the source environment's registered one."""
    if given:
        return given
    if not current_digest:
        raise NoCurrentImageError(f"{route.service} has no registered image in {route.source} (its ledger has no "
                                  "current revision): build it there first, or pass --digest")
    return current_digest


def promotion_tag(tags: tuple[str, ...] | list[str], route: Route, digest: str) -> str:
    """The tag the image carries into the target: its commit tag (`<short sha>` or
    `<short sha>-b<N>`). The target registers only images with one, as it does its own builds."""
    commit_tags = sorted(t for t in tags if is_sha_tag(t))
    if not commit_tags:
        raise NotACommitImageError(f"{route.source_repository()}@{digest} has no commit tag (tags: "
                                   f"{', '.join(tags) or 'none'}): only images shipline built from a commit are "
                                   "promoted")
    return commit_tags[0]


def check_tag_free(holder: str | None, tag: str, digest: str, route: Route) -> None:
    """The commit tag must be free in the target repository, or already on this digest: moving it
    off the target's own build of the commit would leave that image without its commit tag."""
    if holder and holder != digest:
        raise TagTakenError(f"{route.target_repository()} already has tag {tag} on another image ({holder[:19]}, "
                            f"{route.target}'s own build of that commit): nothing copied; register it there "
                            "instead, or remove the tag")


def may_approve(record: PromotionRecord | None, approver: str, *, self_approval: bool, route: Route) -> None:
    """Whether `approver` may approve this promotion: it must be pending, and (unless the target
    stack allows self-approval) not requested by the same identity."""
    if record is None:
        raise NothingToApproveError(f"no promotion of {route.service} into {route.target} waits for approval")
    if record.state != "pending":
        return  # already approved: the caller finishes (or reports) the copy
    if record.requested_by == approver and not self_approval:
        raise SelfApprovalError(f"{approver} requested this promotion and cannot approve it too "
                                f"(PromotionSelfApproval=false in {route.target}'s stack): ask someone else")


def choose_pending(records: list[PromotionRecord], digest: str | None, route: Route) -> PromotionRecord:
    """The promotion `shipline approve` means: the one of the digest given, or the only one pending."""
    if digest:
        found = next((r for r in records if r.digest == digest), None)
        if found is None:
            raise NothingToApproveError(f"no promotion of {route.service}@{digest} into {route.target} was requested")
        return found
    pending = [r for r in records if r.state == "pending"]
    if not pending:
        raise NothingToApproveError(f"no promotion of {route.service} into {route.target} waits for approval")
    if len(pending) > 1:
        raise NothingToApproveError(f"{len(pending)} promotions of {route.service} into {route.target} wait: pass "
                                    "--digest (" + ", ".join(r.digest[:19] for r in pending) + ")")
    return pending[0]
