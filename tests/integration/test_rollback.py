"""`shipline rollback` against moto (in-process) and the emulated ECS deployments: half-done
states and reruns. The ledger's record is written before ECS is asked and finished after; a
rerun finishes its own rollback's record instead of undoing the rollback; a stop names the
revision ECS returns to (the deployment's source, not the ACTIVE revision before PRIMARY); a
service on another family, or one ECS is already rolling back, is refused."""

from __future__ import annotations

from dataclasses import replace

import boto3
import pytest
from botocore.exceptions import ClientError

from pipeline.adapters import ecs, ledger
from pipeline.adapters.errors import AwsCallError
from pipeline.handlers import rollouts
from shipline.cli import main
from tests.integration.test_rollouts import CLUSTER, FAMILY, ROLLING, SERVICE, _end_deployments, _event, _stand_in

PK = "multi-agent-orchestrator#dev#langgraph"


def _register(n: int, family: str = FAMILY) -> list[int]:
    ecs = boto3.client("ecs")
    return [ecs.register_task_definition(family=family, containerDefinitions=[{
        "name": "langgraph", "image": f"x{i}", "memory": 512}])["taskDefinition"]["revision"] for i in range(n)]


def _service() -> dict:
    return boto3.client("ecs").describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]


def _primary() -> str:
    return next(d["taskDefinition"] for d in _service()["deployments"] if d["status"] == "PRIMARY").rsplit("/", 1)[-1]


def _steady_on_3(emulation, stack) -> str:
    """The service steady on revision 3 (1 the stand-in's, 2 registered and deployed before it)."""
    _stand_in(emulation, stack)
    _register(2)
    boto3.client("ecs").update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=f"{FAMILY}:3")
    _end_deployments(emulation)
    assert _primary() == f"{FAMILY}:3"
    return str(stack.refs["LedgerTable"])


def _deploying(emulation, stack, *, registered: int) -> None:
    """The service steady on the stand-in's revision 1, `registered` more revisions registered, and
    the newest of them deploying, a deployment that does not end by itself."""
    _stand_in(emulation, stack)
    _register(registered)
    emulation.deployments.unending.add(SERVICE)
    boto3.client("ecs").update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=f"{FAMILY}:{registered + 1}")


def _rollback(table: str, *extra: str) -> int:
    return main(["rollback", "--service", "langgraph", "--table", table, *extra])


@pytest.mark.parametrize("stack_parameters", [ROLLING])
def test_a_rollback_whose_record_is_denied_changes_nothing(stack, emulation, faults, capsys):
    table = _steady_on_3(emulation, stack)
    faults.inject("dynamodb", "UpdateItem", "access-denied", times=-1)
    assert _rollback(table) != 0
    faults.clear()
    assert _primary() == f"{FAMILY}:3"  # ECS was not asked
    assert ledger.rollbacks(table, PK) == []
    assert "AccessDenied" in capsys.readouterr().err
    assert _rollback(table) == 0  # the same command, the write allowed: the rollback
    assert _primary() == f"{FAMILY}:2"
    (record,) = ledger.rollbacks(table, PK)
    assert (record.how, record.from_revision, record.to_revision, record.state) == ("updated", 3, 2, "done")


@pytest.mark.parametrize("stack_parameters", [ROLLING])
def test_a_rerun_finishes_its_own_rollbacks_record_and_does_not_stop_its_deployment(stack, emulation, faults,
                                                                                       capsys):
    table = _steady_on_3(emulation, stack)
    emulation.deployments.unending.add(SERVICE)  # the rollback's deployment takes a while
    faults.inject("dynamodb", "UpdateItem", "access-denied", times=-1, containing='"done"')
    assert _rollback(table) != 0  # ECS rolls back; the record's last write is denied
    faults.clear()
    assert _primary() == f"{FAMILY}:2"
    (half,) = ledger.rollbacks(table, PK)
    assert (half.state, half.deployment, half.to_revision) == ("requested", "", 2)
    capsys.readouterr()
    assert _rollback(table) == 0
    out = capsys.readouterr().out
    assert "already rolled back" in out and "stopped deployment" not in out, out
    (deployment,) = [d for d in _service()["deployments"] if d["status"] == "PRIMARY"]
    assert deployment["taskDefinition"].endswith(f"{FAMILY}:2") and deployment["rolloutState"] == "IN_PROGRESS"
    (record,) = ledger.rollbacks(table, PK)
    assert (record.state, record.deployment, record.at) == ("done", deployment["id"], half.at)
    kept = ledger.read_deployment(table, PK, deployment["id"])
    assert kept is not None and (kept.kind, kept.revision, kept.requested_by) == ("rollback", 2, half.requested_by)
    # Once more, the record finished and the deployment still in progress: still not stopped.
    assert _rollback(table) == 0
    assert "already rolled back" in capsys.readouterr().out
    assert _primary() == f"{FAMILY}:2" and len(ledger.rollbacks(table, PK)) == 1


@pytest.mark.parametrize("stack_parameters", [ROLLING])
def test_a_rerun_after_the_unrecorded_rollback_completed_does_not_roll_back_further(stack, emulation, faults,
                                                                                     capsys):
    table = _steady_on_3(emulation, stack)
    faults.inject("dynamodb", "UpdateItem", "access-denied", times=-1, containing='"done"')
    assert _rollback(table) != 0
    faults.clear()
    _end_deployments(emulation)  # the rollback's deployment completes
    assert _rollback(table) == 0
    assert "already rolled back" in capsys.readouterr().out
    assert _primary() == f"{FAMILY}:2"  # not 1
    (record,) = ledger.rollbacks(table, PK)
    assert record.state == "done"
    assert _rollback(table) == 0  # recorded and steady: a new rollback, one revision further
    assert _primary() == f"{FAMILY}:1" and len(ledger.rollbacks(table, PK)) == 2


@pytest.mark.parametrize("stack_parameters", [ROLLING])
def test_the_rollbacks_deployment_is_told_even_when_its_events_come_before_its_record(stack, emulation, faults,
                                                                                      monkeypatch, lambda_context):
    table = _steady_on_3(emulation, stack)
    faults.inject("dynamodb", "UpdateItem", "access-denied", times=-1, containing="deployment#")
    assert _rollback(table) != 0  # ECS rolls back; the deployment's record is not written
    faults.clear()
    deployment = next(d["id"] for d in _service()["deployments"] if d["status"] == "PRIMARY")
    stack.use_function("RolloutFunction", monkeypatch)
    result = rollouts.handler(_event("completed", deployment), lambda_context)
    assert (result["state"], result["notified"]) == ("COMPLETED", True)
    (notice,) = stack.notifications()
    assert notice["subject"] == "[shipline] langgraph in dev: rollback of revision 2 completed"


@pytest.mark.parametrize("stack_parameters", [ROLLING])
def test_a_stop_names_and_records_the_revision_ecs_returns_to(stack, emulation, capsys):
    """Steady on 1; revision 2 registered and never deployed; 3 deploying. A stop with ROLLBACK
    returns the service to 1, the revision the deployment replaces, not to 2."""
    table = str(stack.refs["LedgerTable"])
    _deploying(emulation, stack, registered=2)
    assert _rollback(table) == 0
    out = capsys.readouterr().out
    emulation.deployments.unending.discard(SERVICE)
    _end_deployments(emulation)
    assert _primary() == f"{FAMILY}:1"
    (record,) = ledger.rollbacks(table, PK)
    assert (record.how, record.from_revision, record.to_revision, record.state) == ("stopped", 3, 1, "done")
    assert "(revision 1)" in out, out


@pytest.mark.parametrize("stack_parameters", [ROLLING])
def test_a_rerun_of_a_stop_does_not_stop_again_and_ecs_own_rollback_is_refused(stack, emulation, capsys):
    table = str(stack.refs["LedgerTable"])
    _deploying(emulation, stack, registered=1)
    assert _rollback(table) == 0
    # ECS rolls back (ROLLBACK_REQUESTED until the emulation's loop runs): the same command again
    assert _rollback(table) == 0
    assert "already stopped deployment" in capsys.readouterr().out
    assert len(ledger.rollbacks(table, PK)) == 1
    # A rollback ECS started itself (here: a stop not made by shipline) is refused, nothing done.
    deployments = boto3.client("ecs").list_service_deployments(cluster=CLUSTER, service=SERVICE)
    stopped = deployments["serviceDeployments"][0]["serviceDeploymentArn"]
    (mine,) = ledger.rollbacks(table, PK)
    ledger.rollback_recorded(table, PK, replace(mine, deployment="another"))
    assert _rollback(table) == 2  # a command error: one line, nothing done
    err = capsys.readouterr().err
    assert f"ECS is already rolling back deployment {stopped}" in err and "nothing to stop" in err, err


@pytest.mark.parametrize("stack_parameters", [ROLLING])
def test_a_service_on_another_family_is_refused_without_to(stack, emulation, capsys):
    table = str(stack.refs["LedgerTable"])
    _stand_in(emulation, stack)
    _register(2)  # revisions 2 and 3 of the service's family
    (other,) = _register(1, family="someone-elses")
    boto3.client("ecs").update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=f"someone-elses:{other}")
    _end_deployments(emulation)
    assert _rollback(table) == 2  # a command error: one line, nothing done
    err = capsys.readouterr().err
    assert f"runs someone-elses:{other}, not a revision of {FAMILY}: give --to REVISION" in err, err
    assert _primary() == f"someone-elses:{other}" and ledger.rollbacks(table, PK) == []
    assert _rollback(table, "--to", "3") == 0  # explicit: back onto the family
    assert _primary() == f"{FAMILY}:3"
    (record,) = ledger.rollbacks(table, PK)
    assert (record.from_revision, record.to_revision) == (None, 3)


def _applied_then_lost(monkeypatch, name: str) -> None:
    """ECS carries the request out, but the answer never reaches the command: a 5xx on every one
    of botocore's attempts after the first applied, or a read timeout (botocore's ReadTimeoutError).
    The outcome is unknown to the caller, not a refusal."""
    original = getattr(ecs, name)

    def call(*args, **kwargs):
        original(*args, **kwargs)
        raise AwsCallError(f"{name}: InternalFailure: We encountered an internal error. Please try again.")

    monkeypatch.setattr(ecs, name, call)


@pytest.mark.parametrize("stack_parameters", [ROLLING])
def test_a_rollback_whose_update_answer_was_lost_is_not_rolled_back_further_by_the_rerun(stack, emulation,
                                                                                          monkeypatch, capsys):
    """A 5xx or a timeout says nothing about whether ECS applied the UpdateService (ECS API
    Reference, "Common Errors": InternalFailure / ServiceUnavailable are 500/503): the record
    stays `requested`, not `failed`, and the rerun finishes it instead of rolling the service
    back one revision further."""
    table = _steady_on_3(emulation, stack)
    with monkeypatch.context() as patched:
        _applied_then_lost(patched, "update_service")
        assert _rollback(table) != 0
    _end_deployments(emulation)
    assert _primary() == f"{FAMILY}:2"  # ECS did roll back
    (record,) = ledger.rollbacks(table, PK)
    lost_answer_recorded_as = record.state  # not "failed": ECS may have carried it out
    capsys.readouterr()
    assert _rollback(table) == 0  # the person runs it again, as the README advises for a half-done rollback
    _end_deployments(emulation)
    assert lost_answer_recorded_as == "requested"
    assert _primary() == f"{FAMILY}:2", "the rerun rolled back one revision further"
    (record,) = ledger.rollbacks(table, PK)
    assert record.state == "done"


@pytest.mark.parametrize("stack_parameters", [ROLLING])
def test_a_stop_whose_answer_was_lost_is_recognised_as_the_persons_own_on_rerun(stack, emulation, monkeypatch,
                                                                               capsys):
    """The same for StopServiceDeployment: the stop took effect (ROLLBACK_REQUESTED) and its answer
    was lost; the rerun recognises the person's own stop instead of refusing it as ECS's."""
    table = str(stack.refs["LedgerTable"])
    _deploying(emulation, stack, registered=1)
    with monkeypatch.context() as patched:
        _applied_then_lost(patched, "stop_service_deployment")
        assert _rollback(table) != 0
    capsys.readouterr()
    assert _rollback(table) == 0, capsys.readouterr().err
    assert "already stopped deployment" in capsys.readouterr().out


@pytest.mark.parametrize("stack_parameters", [ROLLING])
def test_a_rollback_ecs_refused_is_recorded_failed(stack, emulation, faults):
    """A 4xx is a refusal: the record says `failed`, and nothing of it is taken for the person's."""
    table = _steady_on_3(emulation, stack)
    faults.inject("ecs", "UpdateService", "throttling", times=-1)
    assert _rollback(table) != 0
    faults.clear()
    assert _primary() == f"{FAMILY}:3"
    (record,) = ledger.rollbacks(table, PK)
    assert record.state == "failed"


@pytest.mark.parametrize("stack_parameters", [ROLLING])
def test_the_emulated_list_of_service_deployments_is_paged_as_ecs_pages_it(stack, emulation):
    """ListServiceDeployments answers 20 a page unless maxResults (1 to 100) says otherwise, with a
    nextToken (ECS API Reference): the adapter reads every page."""
    _stand_in(emulation, stack)
    client = boto3.client("ecs")
    for revision in _register(22):
        client.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=f"{FAMILY}:{revision}")
    first = client.list_service_deployments(cluster=CLUSTER, service=SERVICE)
    assert len(first["serviceDeployments"]) == 20 and first["nextToken"]
    five = client.list_service_deployments(cluster=CLUSTER, service=SERVICE, maxResults=5)
    assert len(five["serviceDeployments"]) == 5
    every = ecs.list_service_deployments(CLUSTER, SERVICE)
    assert len(every) == len({d["serviceDeploymentArn"] for d in every}) >= 22


@pytest.mark.parametrize("stack_parameters", [ROLLING])
def test_the_emulated_stop_answers_the_errors_ecs_lists(stack, emulation):
    """StopServiceDeployment's errors (ECS API Reference): ServiceDeploymentNotFoundException for
    an ARN ECS does not know, ConflictException for a deployment whose state allows no stop."""
    _stand_in(emulation, stack)
    client = boto3.client("ecs")
    unknown = f"arn:aws:ecs:us-east-1:123456789012:service-deployment/{CLUSTER}/{SERVICE}/nosuchdeployment"
    with pytest.raises(ClientError) as missing:
        client.stop_service_deployment(serviceDeploymentArn=unknown, stopType="ROLLBACK")
    assert missing.value.response["Error"]["Code"] == "ServiceDeploymentNotFoundException"
    ended = client.list_service_deployments(cluster=CLUSTER, service=SERVICE)["serviceDeployments"][0]
    with pytest.raises(ClientError) as conflict:
        client.stop_service_deployment(serviceDeploymentArn=ended["serviceDeploymentArn"], stopType="ROLLBACK")
    assert conflict.value.response["Error"]["Code"] == "ConflictException"
