"""Rolling registered revisions out to ECS services on the local account: never by default; on
registration when Rollout is on; a held image never; a failed deployment rolled back and said so;
`shipline rollback` in both of its cases."""

from __future__ import annotations

from pipeline.domain.status import partition
from shipline.cli import statuses
from shipline.rollback import roll_back
from tests.support.events import load_event

ROLLING = {"Rollout": "rolling"}
FAMILY = "multi-agent-orchestrator-dev-langgraph"
SERVICE = "multi-agent-orchestrator-dev-langgraph"
CLUSTER = "multi-agent-orchestrator-dev"


def _deployment_messages(report) -> list[str]:
    return [n["subject"] for n in report["notifications"] if "scanned" not in n["subject"]]


def _status(account, service="langgraph"):
    return next(s for s in statuses(account.stack.refs["LedgerTable"], account.manifest, "dev",
                                    dynamodb=account.client("dynamodb")) if s.service == service)


def test_by_default_no_ecs_service_is_touched(local_account):
    """Rollout=none (the default): registration as it always was, and no cluster, service,
    rollout queue or rollout function exists; no ECS service API is called."""
    account = local_account()
    account.put_event(load_event("build-requested"))
    account.run()
    report = account.report()
    assert report["errors"] == []
    assert [t["revision"] for t in report["taskDefinitions"] if t["family"] == FAMILY] == [1]
    assert report["deployments"] == []
    assert account.client("ecs").list_clusters()["clusterArns"] == []
    assert "RolloutFunction" not in account.stack.functions and "RolloutQueue" not in account.stack.refs
    assert _deployment_messages(report) == []


def test_a_registered_revision_is_rolled_out_and_one_message_names_it(local_account):
    account = local_account(parameters=ROLLING)
    account.put_event(load_event("build-requested"))
    account.run()
    report = account.report()
    assert report["errors"] == []
    # the stand-in service ran revision 1; the push registered revision 2, which ECS now runs
    assert report["deployments"] == [{
        "service": "langgraph", "environment": "dev", "cluster": CLUSTER, "serviceName": SERVICE,
        "taskDefinition": f"{FAMILY}:2", "state": "SUCCESSFUL", "rolledBack": False, "running": f"{FAMILY}:2"}]
    service = account.client("ecs").describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
    assert service["taskDefinition"].endswith(f"{FAMILY}:2")
    assert _deployment_messages(report) == ["[shipline] langgraph in dev: deployment of revision 2 completed"]
    message = next(n["message"] for n in report["notifications"] if "completed" in n["subject"])
    assert f"Now running: {FAMILY}:2" in message
    status = _status(account)
    assert (status.revision, status.running_revision, status.deployment) == (2, 2, "COMPLETED")


def test_a_held_image_is_not_rolled_out(local_account):
    """The scan gate holds an image with a CRITICAL finding: no revision, so no deployment."""
    account = local_account(parameters={**ROLLING, "RegistrationGate": "scan"},
                            findings={"langgraph": {"CRITICAL": 1}})
    account.put_event(load_event("build-requested"))
    account.run()
    report = account.report()
    assert [t["revision"] for t in report["taskDefinitions"] if t["family"] == FAMILY] == [1]  # the stand-in's
    assert report["deployments"] == []
    assert any("held" in n["message"] for n in report["notifications"])
    assert _deployment_messages(report) == []


def test_a_failed_deployment_is_reported_rolled_back_naming_the_revision_that_runs(local_account):
    account = local_account(parameters=ROLLING, failing_deployments={"langgraph"})
    account.put_event(load_event("build-requested"))
    account.run()
    report = account.report()
    assert report["errors"] == []
    assert report["deployments"] == [{
        "service": "langgraph", "environment": "dev", "cluster": CLUSTER, "serviceName": SERVICE,
        "taskDefinition": f"{FAMILY}:2", "state": "ROLLBACK_SUCCESSFUL", "rolledBack": True,
        "running": f"{FAMILY}:1"}]
    # one message, not one per event (FAILED, the rollback's IN_PROGRESS and COMPLETED)
    assert _deployment_messages(report) == [
        "[shipline] langgraph in dev: revision 2 failed and was rolled back to revision 1"]
    message = next(n["message"] for n in report["notifications"] if "rolled back" in n["subject"])
    assert f"Now running: {FAMILY}:1" in message
    assert "circuit breaker" in message
    status = _status(account)
    assert (status.revision, status.running_revision, status.deployment) == (2, 1, "COMPLETED")


def test_rollback_returns_a_steady_service_to_the_previous_revision_and_records_who(local_account):
    from pipeline.adapters import ledger

    account = local_account(parameters=ROLLING)
    account.put_event(load_event("build-requested"))
    account.run()
    table = account.stack.refs["LedgerTable"]
    done = roll_back(account.manifest, "dev", "langgraph", table)
    assert (done.how, done.from_revision, done.to_revision) == ("updated", 2, 1)
    account.run()
    report = account.report()
    assert report["deployments"][-1]["taskDefinition"] == f"{FAMILY}:1"
    assert report["deployments"][-1]["state"] == "SUCCESSFUL"
    assert "[shipline] langgraph in dev: rollback of revision 1 completed" in _deployment_messages(report)
    (record,) = ledger.rollbacks(table, partition("multi-agent-orchestrator", "dev", "langgraph"))
    assert record.requested_by.startswith("arn:aws:") and record.how == "updated" and record.at
    assert _status(account).running_revision == 1


def test_rollback_stops_a_deployment_in_progress_with_rollback(local_account):
    from pipeline.adapters import ledger

    account = local_account(parameters=ROLLING)
    account.emulation.deployments.unending.add(SERVICE)  # a deployment that takes long
    account.put_event(load_event("build-requested"))
    account.run()
    assert [d["state"] for d in account.report()["deployments"]] == ["IN_PROGRESS"]
    table = account.stack.refs["LedgerTable"]
    done = roll_back(account.manifest, "dev", "langgraph", table)
    assert done.how == "stopped" and done.to_revision == 1
    account.run()
    report = account.report()
    assert report["errors"] == []
    (deployment,) = report["deployments"]
    assert (deployment["state"], deployment["rolledBack"], deployment["running"]) == (
        "ROLLBACK_SUCCESSFUL", True, f"{FAMILY}:1")
    messages = _deployment_messages(report)
    assert messages == ["[shipline] langgraph in dev: rollback of revision 1 completed"]
    (record,) = ledger.rollbacks(table, partition("multi-agent-orchestrator", "dev", "langgraph"))
    assert record.how == "stopped" and record.deployment == done.deployment and record.requested_by
    assert _status(account).running_revision == 1


def test_rollback_to_a_revision_that_is_not_active_is_refused(local_account):
    import pytest

    from shipline.cli import CommandError

    account = local_account(parameters=ROLLING)
    account.put_event(load_event("build-requested"))
    account.run()
    with pytest.raises(CommandError, match="is not an ACTIVE revision"):
        roll_back(account.manifest, "dev", "langgraph", account.stack.refs["LedgerTable"], to_revision=7)
    assert len(account.report()["deployments"]) == 1  # nothing more deployed
