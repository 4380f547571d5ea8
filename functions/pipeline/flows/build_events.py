"""CodeBuild state changes: the ledger learns each build's end; failures become notifications."""

from __future__ import annotations

from functools import partial

from pipeline.adapters import ledger, sns
from pipeline.domain.manifest import Manifest
from pipeline.domain.notifications import build_failure_notification
from pipeline.domain.records import BUILD_FAILED, BuildRecord
from pipeline.events.builds import BuildStateDetail
from pipeline.events.envelope import NotOursError
from pipeline.flows.idempotency import once
from pipeline.settings import BuildEventsSettings


def on_build_state(settings: BuildEventsSettings, manifest: Manifest, detail: BuildStateDetail) -> dict:
    if detail.project_name != settings.build_project:
        raise NotOursError(f"build of project {detail.project_name} is not ours")
    name = detail.variable("SERVICE")
    if not name:  # started by hand (the console's "Start build"): not a build of a service's commit
        raise NotOursError(f"build {detail.build_id} has no SERVICE variable: not a build shipline started")
    service = manifest.service(name).name
    commit = detail.additional_information.source_version
    failed = detail.failed_phase
    phase = failed.phase_type if failed else detail.current_phase
    ledger.build_ended(settings.ledger_table, settings.ledger_key(service), BuildRecord(
        build_id=detail.build_id, status=detail.build_status, commit=commit, at=ledger.now(), phase=phase,
        reason=failed.context if failed else ""))
    if detail.build_status not in BUILD_FAILED:
        return {"outcome": "recorded", "service": service, "status": detail.build_status}
    notification = build_failure_notification(
        target=settings.target, service=service, commit=commit, status=detail.build_status,
        phase=phase, reason=failed.context if failed else "", project=detail.project_name,
        build_id=detail.build_id, log_link=detail.additional_information.logs.deep_link,
    )
    once(f"build-notice:{detail.build_id}:{detail.build_status}",
         partial(sns.publish, settings.notification_topic_arn, notification))
    return {"outcome": "notified", "service": service, "status": detail.build_status}
