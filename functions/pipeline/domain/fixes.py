"""Rebuilds for a fix (`RebuildOnFixAvailable=true`): a later Amazon Inspector finding with a
fix available, in an image a service runs, asks for a rebuild of that service at the tracked
branch head, and people are told what came of it.

Who decides is the build starter, by the build avoidance it applies to every build: a rebuild
happens only when the head's build inputs (the service's files, the Dockerfile, the base
images' digests) have no image yet. An image whose base images are pinned by digest and
whose files did not change would be rebuilt into the same software under a new digest, so
the answer there is "no rebuild: update the pin". The findings digest of the image carries
the decision (the request is made when the finding is queued, the digest sent at the next
hour), so the one message per image and hour says it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from pipeline.domain.naming import is_commit, short_sha

# Amazon Inspector API Reference, "Finding": fixAvailable is YES, NO or PARTIAL (some, not
# all, of the finding's packages have a fixed version); a package's fixedInVersion is its
# fixed version, "NotAvailable" (or absent) when it has none.
FIX_AVAILABLE = frozenset({"YES", "PARTIAL"})
NO_FIXED_VERSION = "NotAvailable"

_DIGEST = r"^sha256:[0-9a-f]{64}$"


def has_fix(fix_available: str, fixed_versions: Iterable[str]) -> bool:
    """Whether a finding has a fix a rebuild could pick up: Inspector says YES or PARTIAL and
    at least one of its vulnerable packages names the version that fixes it."""
    return fix_available.upper() in FIX_AVAILABLE and any(v and v != NO_FIXED_VERSION for v in fixed_versions)


class RebuildReason(BaseModel):
    """Why a Build Requested asks for a rebuild: a finding with a fix in the image `digest`,
    queued for its digest message of `hour`. It travels in the request and the queued build
    start, so the starter can record its decision where that message reads it."""

    model_config = ConfigDict(defer_build=True, extra="ignore", frozen=True)

    digest: Annotated[str, Field(pattern=_DIGEST)]
    hour: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}$")]
    vulnerability: str = ""


# What the build starter made of a rebuild request, one spelling per outcome.
RebuildDecision = Literal[
    "rebuild started",    # the head's inputs had no image: a build started
    "rebuild under way",  # a build of the head's inputs had started already (an earlier request, the push)
    "reused",             # another image had the head's inputs: it was tagged as the head's build, no build
    "inputs unchanged",   # the running image has the head's inputs: a rebuild would make the same software
    "built already",      # another image has the head's inputs already (not the running one)
    "inputs unknown",     # the head's inputs could not be read (its source did not answer): no rebuild
]


def rebuild_decision(state: str, *, running: str, image: str) -> RebuildDecision:
    """The decision, from the build starter's outcome for the request (`state`, as
    `pipeline.flows.builds.StartResult` spells it) and the image it found with the head's
    inputs (`image`, "" when none)."""
    if state == "started":
        return "rebuild started"
    if state in ("already started", "in flight"):
        return "rebuild under way"
    if state == "reused":
        return "reused"
    if state == "already built":
        return "inputs unchanged" if image == running else "built already"
    return "inputs unknown"


@dataclass(frozen=True)
class RebuildRecord:
    """One rebuild request for an image and hour, as the ledger keeps it: when it was asked,
    and once the build starter decided, what it decided, at which commit, and the build or
    image concerned."""

    service: str
    digest: str  # the running image the finding is in
    hour: str
    requested_at: str
    vulnerability: str = ""
    decision: RebuildDecision | None = None
    commit: str = ""  # what the head resolved to (a branch name where it is resolved by the build)
    build: str = ""
    image: str = ""  # the image with the head's inputs, when one was found
    decided_at: str = ""


def _at(commit: str) -> str:
    return short_sha(commit) if is_commit(commit) else commit or "the branch head"


def _short(digest: str) -> str:
    return digest.removeprefix("sha256:")[:12]


def rebuild_line(record: RebuildRecord) -> str:
    """The findings digest's "Rebuild:" line: what was asked and what the build starter decided."""
    at = _at(record.commit)
    if record.decision is None:
        return ("rebuild requested at the branch head; the build starter had not decided when this was sent "
                "(shipline status shows a build if one starts)")
    if record.decision == "rebuild started":
        return f"rebuild requested: building {at}, whose inputs differ from this image's"
    if record.decision == "rebuild under way":
        return f"rebuild requested: a build of {at} with new inputs is under way"
    if record.decision == "reused":
        return (f"rebuild requested: no build needed, image {_short(record.image)} already has the inputs at {at} "
                "and is tagged as its build")
    if record.decision == "inputs unchanged":
        return (f"no rebuild: the inputs are unchanged (base images pinned by digest); update the pin (the inputs "
                f"at {at} are this image's: a rebuild would make the same software under a new digest)")
    if record.decision == "built already":
        return (f"no rebuild: image {_short(record.image)} already has the inputs at {at} (it is not the running "
                "one: see its scan message and registration)")
    return (f"no rebuild: the inputs at {at} cannot be read before a build here, so whether a rebuild would change "
            f"them is unknown; shipline trigger --service {record.service} --force rebuilds")
