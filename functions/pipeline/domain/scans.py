"""Scan results and the verdict the registration gate takes from them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

# Most to least severe. UNDEFINED (ECR basic) ranks with INFORMATIONAL.
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED")
Severity = Literal["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED"]
_RANK = {name: index for index, name in enumerate(SEVERITIES)}
_RANK["UNDEFINED"] = _RANK["INFORMATIONAL"]


def rank(severity: str) -> int:
    """Lower is worse; unknown severities rank last."""
    return _RANK.get(severity.upper(), len(SEVERITIES))


def severity_counts(raw: Mapping[str, int]) -> dict[str, int]:
    """Counts per known severity, most severe first, zeros and totals left out."""
    counts = {key.upper(): int(value) for key, value in raw.items() if key.upper() in _RANK and int(value) > 0}
    return {name: counts[name] for name in SEVERITIES if name in counts}


@dataclass(frozen=True)
class Finding:
    id: str
    severity: str
    package: str = ""
    version: str = ""
    fixed_in: str = ""


@dataclass(frozen=True)
class ScanVerdict:
    """What a completed scan says about one image, judged against a threshold."""

    counts: dict[str, int]
    threshold: str

    @property
    def worst(self) -> str | None:
        return next(iter(self.counts), None)

    @property
    def blocking(self) -> dict[str, int]:
        limit = rank(self.threshold)
        return {name: n for name, n in self.counts.items() if rank(name) <= limit}

    @property
    def passed(self) -> bool:
        return not self.blocking

    def summary(self) -> str:
        if not self.counts:
            return "no findings"
        return ", ".join(f"{name} {n}" for name, n in self.counts.items())


def judge(raw_counts: Mapping[str, int], threshold: str = "CRITICAL") -> ScanVerdict:
    return ScanVerdict(severity_counts(raw_counts), threshold.upper())


def top_findings(findings: list[Finding], limit: int = 10) -> list[Finding]:
    return sorted(findings, key=lambda f: (rank(f.severity), f.id))[:limit]
