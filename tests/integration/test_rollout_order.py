"""Rollouts when ECS's events and deployments overlap: a FAILED event handled after a newer
rollout began, or after ECS's own rollback was seen (and matched to an earlier stop of the same
revision), and the circuit breaker's rollback while an older deployment is still in progress.
(Found by a probe and a review; each test failed before its fix.)"""

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


def _register(image: str = "x") -> dict:
    return boto3.client("ecs").register_task_definition(family=FAMILY, containerDefinitions=[{
        "name": "langgraph", "image": image, "memory": 512}])["taskDefinition"]


# ---------------------------------------------------------------------------- 1. a late FAILED event
@pytest.mark.parametrize("stack_parameters", [ROLLING])
def test_a_late_failed_event_does_not_take_a_newer_rollout_for_ecs_rollback(stack, emulation, monkeypatch,
                                                                          lambda_context):
    """ECS sends events at least once and not in order ("Handling Amazon ECS events"); EventBridge
    retries a failed invocation for up to an hour (the rule's RetryPolicy). Revision 2 fails, ECS
    rolls back to revision 1, and revision 3 is rolled out; the FAILED event of revision 2 is
    handled only then. It must say revision 2 was rolled back to revision 1, and must not turn
    revision 3's rollout into "ECS's automatic rollback" (whose end tells no one)."""
    from pipeline.adapters import ledger

    _stand_in(emulation, stack)
    emulation.deployments.failing.add(SERVICE)
    _register()
    stack.use_function("RolloutFunction", monkeypatch)
    failed = rollouts.handler(_request(2), lambda_context)["rollouts"][0]["deployment"]
    _end_deployments(emulation)  # circuit breaker; ECS's rollback to revision 1 completes
    _register()
    newer = rollouts.handler(_request(3), lambda_context)["rollouts"][0]
    assert newer["outcome"] == "rolling out"
    emulation.deployments.unending.add(SERVICE)  # revision 3 still deploying when the late event comes

    late = rollouts.handler(_event("failed", failed), lambda_context)
    assert late["running"] == 1, f"the late FAILED event says revision {late['running']} runs"
    record = ledger.read_deployment(stack.refs["LedgerTable"], PK, newer["deployment"])
    assert (record.kind, record.revision) == ("rollout", 3), \
        f"revision 3's rollout became kind={record.kind!r} requested_by={record.requested_by!r}"
    notices = stack.notifications()
    assert all("rolled back to revision 3" not in n["subject"] for n in notices), [n["subject"] for n in notices]


# ---------------------------------------------------------------------------- 2. the circuit breaker's rollback target
@pytest.mark.parametrize("stack_parameters", [ROLLING])
def test_the_circuit_breaker_rolls_back_to_the_last_completed_deployment_not_the_one_replaced(
        stack, emulation, monkeypatch, lambda_context):
    """DeploymentCircuitBreaker (ECS API Reference): "If rollback is on, when a service deployment
    fails, the service is rolled back to the last deployment that completed successfully"; "The
    rollback method requires a previous deployment in COMPLETED state" (Developer Guide, "Amazon
    ECS deployment failure detection"). Revision 2 is still deploying when revision 3 is rolled
    out and fails: ECS goes back to revision 1. The local account goes back to revision 2 (the
    task definition UpdateService replaced), which never completed."""
    _stand_in(emulation, stack)
    _register()
    _register()
    stack.use_function("RolloutFunction", monkeypatch)
    emulation.deployments.unending.add(SERVICE)
    assert rollouts.handler(_request(2), lambda_context)["rollouts"][0]["outcome"] == "rolling out"
    emulation.deployments.unending.discard(SERVICE)
    emulation.deployments.failing.add(SERVICE)
    failed = rollouts.handler(_request(3), lambda_context)["rollouts"][0]
    assert failed["outcome"] == "rolling out" and failed.get("previous") == 1  # the flow reads it as ECS does
    _end_deployments(emulation)  # revision 3: circuit breaker, rollback
    service = boto3.client("ecs").describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
    primary = next(d for d in service["deployments"] if d["status"] == "PRIMARY")
    assert primary["taskDefinition"].endswith(f"{FAMILY}:1"), (
        f"the emulated rollback went to {primary['taskDefinition'].rsplit('/', 1)[-1]}, not the last completed "
        "revision 1")


# ---------------------------------------------------------------------------- 3. ECS's rollback seen first
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
