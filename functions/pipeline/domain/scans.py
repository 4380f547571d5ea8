"""Scan results and the verdict the registration gate takes from them."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

# Most to least severe. UNDEFINED (ECR basic) ranks with INFORMATIONAL. UNTRIAGED (Amazon
# Inspector: the vendor has not rated it yet) ranks with MEDIUM: not known to be harmless.
# UNLISTED: findings Inspector's scan event counts in its TOTAL but under no severity it lists
# (LOW, INFORMATIONAL or UNTRIAGED: the event "will only return a value for a severity level if
# one exists", ECR User Guide, enhanced scanning events), until the image's findings say which;
# it may be UNTRIAGED, so it ranks with MEDIUM too.
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "UNTRIAGED", "LOW", "INFORMATIONAL", "UNDEFINED")
Severity = Literal["CRITICAL", "HIGH", "MEDIUM", "UNTRIAGED", "LOW", "INFORMATIONAL", "UNDEFINED"]
UNLISTED = "UNLISTED"  # a count, never a finding's severity: listed after MEDIUM and UNTRIAGED
_ORDER = {name: index for index, name in enumerate(SEVERITIES)}
_RANK = dict(_ORDER)
_RANK["UNTRIAGED"] = _RANK[UNLISTED] = _RANK["MEDIUM"]
_RANK["UNDEFINED"] = _RANK["INFORMATIONAL"]
# The scan statuses that mean "completed" (ECR basic: COMPLETE; Amazon Inspector's "Inspector2
# Scan": INITIAL_SCAN_COMPLETE). Anything else holds the image: the gate fails closed.
COMPLETED = frozenset({"COMPLETE", "INITIAL_SCAN_COMPLETE"})


# Amazon Inspector's count of all its findings, beside the severities it lists: not a severity.
TOTAL = "TOTAL"


def rank(severity: str) -> int:
    """Lower is worse. A severity not named here ranks with CRITICAL: nothing says it is less
    (the gate fails closed on a name a scanner starts sending)."""
    return _RANK.get(severity.upper(), _RANK["CRITICAL"])


def severity_counts(raw: Mapping[str, int]) -> dict[str, int]:
    """Counts per severity, most severe first, zeros and Inspector's TOTAL left out. A severity
    not named here is kept under its own name and ranks with CRITICAL, after it."""
    counts: dict[str, int] = {}
    for key, value in raw.items():
        name = key.upper()
        if name != TOTAL and int(value) > 0:
            counts[name] = counts.get(name, 0) + int(value)
    return dict(sorted(counts.items(), key=lambda item: (rank(item[0]), _ORDER.get(item[0], len(_ORDER)), item[0])))


def inspector_counts(raw: Mapping[str, int]) -> dict[str, int]:
    """Amazon Inspector's counts: its TOTAL may exceed the severities it lists (it lists only
    CRITICAL, HIGH and MEDIUM, say); what is left over is UNLISTED, so it is not lost (see
    resolve_unlisted)."""
    counts = severity_counts(raw)
    total = next((int(v) for k, v in raw.items() if k.upper() == TOTAL), 0)
    rest = total - sum(counts.values())
    if rest > 0:
        counts = severity_counts({**counts, UNLISTED: rest})
    return counts


def listed_severities(raw: Mapping[str, int]) -> frozenset[str]:
    """The severities a scan event's counts name (zeros included), TOTAL aside."""
    return frozenset(key.upper() for key in raw if key.upper() != TOTAL)


def resolve_unlisted(counts: Mapping[str, int], listed: Collection[str], findings: Iterable[Finding]) -> dict[str, int]:
    """The counts with UNLISTED told apart by the image's findings: each finding of a severity
    the event did not list (`listed`) takes one of the UNLISTED count under its own severity.
    What the findings do not account for (more findings than were read) stays UNLISTED."""
    left = int(counts.get(UNLISTED, 0))
    resolved = {name: n for name, n in counts.items() if name != UNLISTED}
    for finding in findings:
        severity = finding.severity.upper()
        if left <= 0:
            break
        if severity not in listed and severity not in (TOTAL, UNLISTED):
            resolved[severity] = resolved.get(severity, 0) + 1
            left -= 1
    if left > 0:
        resolved[UNLISTED] = left
    return severity_counts(resolved)


@dataclass(frozen=True)
class Finding:
    id: str
    severity: str
    package: str = ""
    version: str = ""
    fixed_in: str = ""


@dataclass(frozen=True)
class ScanVerdict:
    """What a scan says about one image, judged against a threshold. A scan that did not
    complete passes nothing."""

    counts: dict[str, int]
    threshold: str
    status: str = "COMPLETE"
    scanner: str = ""

    @property
    def completed(self) -> bool:
        return self.status in COMPLETED

    @property
    def worst(self) -> str | None:
        return next(iter(self.counts), None)

    @property
    def blocking(self) -> dict[str, int]:
        limit = rank(self.threshold)
        return {name: n for name, n in self.counts.items() if rank(name) <= limit}

    @property
    def passed(self) -> bool:
        return self.completed and not self.blocking

    def summary(self) -> str:
        if not self.completed:
            return f"scan {self.status}, no result"
        if not self.counts:
            return "no findings"
        return ", ".join(f"{name} {n}" for name, n in self.counts.items())


def judge(raw_counts: Mapping[str, int], threshold: str = "CRITICAL", *, status: str = "COMPLETE",
          scanner: str = "") -> ScanVerdict:
    return ScanVerdict(severity_counts(raw_counts), threshold.upper(), status, scanner)


def worst_verdict(verdicts: list[ScanVerdict]) -> ScanVerdict | None:
    """The verdict for an image scanned by several scanners: the worst of each one's latest
    result (one that did not complete, then one that blocks, then the most severe finding)."""
    def badness(verdict: ScanVerdict) -> tuple:
        worst = rank(verdict.worst) if verdict.worst else len(SEVERITIES) + 1
        return (verdict.completed, verdict.passed, worst, -sum(verdict.counts.values()))

    return min(verdicts, key=badness, default=None)


def top_findings(findings: list[Finding], limit: int = 10) -> list[Finding]:
    return sorted(findings, key=lambda f: (rank(f.severity), f.id))[:limit]
