"""Rebuilds for a fix (RebuildOnFixAvailable): the image events function asks, on shipline's
requests bus, once per running image and hour; the build starter decides by the head's build
inputs and records its decision, which the image's findings digest then carries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from aws_lambda_powertools import Logger

from pipeline.adapters import ledger
from pipeline.adapters.eventbridge import put_event
from pipeline.domain.builds import BuildStart
from pipeline.domain.fixes import RebuildDecision, RebuildReason, RebuildRecord, rebuild_decision, rebuild_line
from pipeline.domain.requests import BUILD_REQUESTED, SOURCE, BuildRequest
from pipeline.flows.idempotency import once
from pipeline.settings import BuildStarterSettings, ImageEventsSettings

if TYPE_CHECKING:  # the image events function does not import the build starter's flow
    from pipeline.flows.builds import StartResult

logger = Logger(child=True)

RebuildAsked = Literal["requested", "requested before", "in flight"]


def request_rebuild(settings: ImageEventsSettings, service: str, digest: str, hour: str,
                    vulnerability: str) -> RebuildAsked:
    """One Build Requested for the service at the tracked branch head, per running image and
    hour however many findings with a fix arrive (and however often each is delivered): the
    ledger notes the request, then the event goes on shipline's bus. A failure fails the
    invocation before its finding is queued, so Lambda's retry asks again."""
    reason = RebuildReason(digest=digest, hour=hour, vulnerability=vulnerability)
    request = BuildRequest.model_validate({
        "project": settings.project, "environment": settings.environment, "branch": settings.branch,
        "services": [service], "trigger": "finding", "requestedBy": "RebuildOnFixAvailable",
        "reason": reason.model_dump()})
    table, pk = settings.ledger_table, settings.ledger_key(service)

    def ask() -> str:
        ledger.rebuild_requested(table, pk, RebuildRecord(service=service, digest=digest, hour=hour,
                                                          requested_at=ledger.now(), vulnerability=vulnerability))
        event = put_event(SOURCE, BUILD_REQUESTED, request.detail(), bus=settings.event_bus)
        logger.info("rebuild requested for a fix", extra={"service": service, "digest": digest,
                                                          "vulnerability": vulnerability, "event": event})
        return event

    effect = once(f"fix-rebuild:{settings.target.repository(service)}@{digest}:{hour}", ask)
    return "requested" if effect.fresh else "requested before" if effect.state == "replayed" else "in flight"


def rebuild_decided(settings: BuildStarterSettings, start: BuildStart, result: StartResult) -> RebuildDecision | None:
    """The starter's decision on a rebuild for a finding, in the ledger where the image's
    findings digest reads it; None for any other start (or one another invocation holds)."""
    if start.reason is None or result.state == "in flight":
        return None
    reason = start.reason
    decision = rebuild_decision(result.state, running=reason.digest, image=result.image)
    ledger.rebuild_decided(settings.ledger_table, settings.ledger_key(start.service), RebuildRecord(
        service=start.service, digest=reason.digest, hour=reason.hour, requested_at="", decision=decision,
        commit=start.source_version, build=result.build, image=result.image, decided_at=ledger.now()))
    logger.info(f"rebuild for a fix: {decision}", extra={"service": start.service, "digest": reason.digest})
    return decision


def rebuild_text(settings: ImageEventsSettings, service: str, digest: str, hours: set[str]) -> str:
    """The findings digest's "Rebuild:" line for an image: the latest of its requests among the
    hours its findings were queued in ("" when none was asked)."""
    pk = settings.ledger_key(service)
    for hour in sorted(hours, reverse=True):
        record = ledger.read_rebuild(settings.ledger_table, pk, digest, hour)
        if record is not None:
            return rebuild_line(record)
    return ""

