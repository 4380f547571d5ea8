"""ECS's own rollback, whose events came before the failure's and which an earlier stop of the
same revision was matched to, is still taken for ECS's (one message, not two). (Found by a review.)"""

from __future__ import annotations

import boto3
import pytest

from pipeline.adapters import ledger
from pipeline.domain.rollout import RollbackRecord
from pipeline.handlers import rollouts
from tests.integration.test_rollouts import (
    CLUSTER,
    FAMILY,
    ROLLING,
    SERVICE,
    _end_deployments,
    _event,
    _request,
    _stand_in,
)

PK = "multi-agent-orchestrator#dev#langgraph"


def _register() -> dict:
    return boto3.client("ecs").register_task_definition(family=FAMILY, containerDefinitions=[{
        "name": "langgraph", "image": "x", "memory": 512}])["taskDefinition"]


def _primary_id() -> str:
    service = boto3.client("ecs").describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
    return next(d["id"] for d in service["deployments"] if d["status"] == "PRIMARY")


@pytest.mark.parametrize("stack_parameters", [ROLLING])
def test_circuit_breaker_rollback_seen_first_is_not_a_stale_stop_persons_rollback(stack, emulation, monkeypatch,
                                                                                  lambda_context):
    """Weeks ago a person stopped some deployment with ROLLBACK back to revision 1 (a done
    `stopped` rollback record). Today shipline's rollout of revision 2 fails; ECS's circuit
    breaker rolls back to revision 1. The rollback deployment's IN_PROGRESS event is handled
    before the FAILED one, so `_unknown` records it as kind "rollback" (the stale stop matches:
    how == "stopped", to_revision 1). Before 39a1d82 the FAILED event rewrote that record as
    ECS's "automatic rollback"; now `_ecs_rollback` trusts the kind, the record stays the
    person's, and its COMPLETED sends a second message crediting that person with a rollback
    they did not do."""
    _stand_in(emulation, stack)
    table = stack.refs["LedgerTable"]
    ledger.rollback_recorded(table, PK, RollbackRecord(
        at="2020-01-01T00:00:00+00:00", requested_by="arn:aws:iam::123456789012:user/alice", how="stopped",
        cluster=CLUSTER, service_name=SERVICE, from_revision=9, to_revision=1,
        deployment=f"arn:aws:ecs:us-east-1:123456789012:service-deployment/{CLUSTER}/{SERVICE}/old", state="done"))
    emulation.deployments.failing.add(SERVICE)
    _register()
    stack.use_function("RolloutFunction", monkeypatch)
    failed = rollouts.handler(_request(2), lambda_context)["rollouts"][0]["deployment"]
    _end_deployments(emulation)  # circuit breaker; ECS's rollback to revision 1 completes
    rollback = _primary_id()
    assert rollback != failed

    rollouts.handler(_event("in-progress", rollback), lambda_context)  # ECS's rollback seen first
    assert rollouts.handler(_event("failed", failed), lambda_context)["state"] == "ROLLED_BACK"
    rollouts.handler(_event("completed", rollback), lambda_context)

    record = ledger.read_deployment(table, PK, rollback)
    assert record.kind == "automatic rollback", (record.kind, record.requested_by)
    subjects = [n["subject"] for n in stack.notifications()]
    assert len(subjects) == 1, subjects
