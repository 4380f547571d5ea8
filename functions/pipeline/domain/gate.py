"""The registration gate: whether an image may become a task-definition revision."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pipeline.domain.scans import ScanVerdict

GateMode = Literal["none", "scan"]
DEFAULT_GATES: dict[str, GateMode] = {"dev": "none", "staging": "scan", "prod": "scan"}

Decision = Literal["register", "hold", "wait"]


@dataclass(frozen=True)
class GateDecision:
    decision: Decision
    reason: str


def gate_for(environment: str, configured: str | None = None) -> GateMode:
    """An explicit setting wins; otherwise dev registers on push, staging and prod wait for the scan."""
    if configured in ("none", "scan"):
        return configured  # type: ignore[return-value]
    return DEFAULT_GATES.get(environment, "scan")


def decide(mode: GateMode, verdict: ScanVerdict | None) -> GateDecision:
    if mode == "none":
        return GateDecision("register", "gate none: registered on push")
    if verdict is None:
        return GateDecision("wait", "gate scan: waiting for the scan of this digest")
    if verdict.passed:
        return GateDecision("register", f"gate scan: no finding at or above {verdict.threshold}")
    blocking = ", ".join(f"{name} {n}" for name, n in verdict.blocking.items())
    return GateDecision("hold", f"gate scan: held back by {blocking} (threshold {verdict.threshold})")
