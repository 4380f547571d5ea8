"""Rollouts against moto (in-process), with the stack provisioned from template.yaml: the
registration's hook (never a call with Rollout=none; one request per revision with it on), the
rollout function's UpdateService (once per revision, with the circuit breaker and the strategy;
a missing service reported once), and ECS's deployment events (one message, naming what runs)."""

from __future__ import annotations

import json

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.handlers import image_events, rollouts
from tests.support.events import load_event
from tests.support.properties import TRIED, mutated, one_printable_line, property_settings

REPO = "multi-agent-orchestrator-dev-langgraph"
FAMILY = REPO
CLUSTER = "multi-agent-orchestrator-dev"
SERVICE = REPO
DIGEST = load_event("ecr-image-push")["detail"]["image-digest"]
TAG = load_event("ecr-image-push")["detail"]["image-tag"]


def _push(emulation) -> None:
    boto3.client("ecr").create_repository(repositoryName=REPO, imageScanningConfiguration={"scanOnPush": True})
    emulation.ecr.seed_image(REPO, DIGEST, TAG)


def _stand_in(emulation, stack, *, revision_image: str = "stand-in") -> str:
    """The user's service, steady on a first revision of the family."""
    ecs = boto3.client("ecs")
    first = ecs.register_task_definition(family=FAMILY, containerDefinitions=[{
        "name": "langgraph", "image": f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{REPO}:{revision_image}",
        "memory": 512}])["taskDefinition"]["taskDefinitionArn"]
    emulation.deployments.stand_in(CLUSTER, SERVICE, first)
    return first


def _requests(stack) -> list[dict]:
    sqs = boto3.client("sqs")
    found = []
    while True:
        messages = sqs.receive_message(QueueUrl=stack.refs["RolloutQueue"], MaxNumberOfMessages=10).get("Messages")
        if not messages:
            return found
        for m in messages:
            found.append({"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                          "attributes": {"ApproximateReceiveCount": "1"}, "eventSource": "aws:sqs"})
            sqs.delete_message(QueueUrl=stack.refs["RolloutQueue"], ReceiptHandle=m["ReceiptHandle"])


def _request(revision: int) -> dict:
    arn = f"arn:aws:ecs:us-east-1:123456789012:task-definition/{FAMILY}:{revision}"
    body = {"service": "langgraph", "family": FAMILY, "revision": revision, "revisionArn": arn}
    return {"Records": [{"messageId": f"m{revision}", "receiptHandle": "", "body": json.dumps(body),
                         "attributes": {"ApproximateReceiveCount": "1"}, "eventSource": "aws:sqs"}]}


# ---------------------------------------------------------------------------- Rollout=none
def test_with_rollout_none_registration_calls_no_ecs_service_and_queues_nothing(stack, emulation, calls,
                                                                                 monkeypatch, lambda_context):
    _push(emulation)
    stack.use_function("ImageEventsFunction", monkeypatch)
    assert image_events.handler(load_event("ecr-image-push"), lambda_context)["outcome"] == "registered"
    operations = calls.operations()
    assert "ecs:RegisterTaskDefinition" in operations
    assert not [o for o in operations if o.startswith("ecs:") and "Service" in o]
    assert "sqs:SendMessage" not in operations
    assert "RolloutQueue" not in stack.refs and "RolloutFunction" not in stack.provisioned.functions


# ---------------------------------------------------------------------------- Rollout on
ROLLING = {"Rollout": "rolling"}


@pytest.mark.parametrize("stack_parameters", [ROLLING])
def test_a_registration_queues_one_rollout_request_per_revision(stack, emulation, monkeypatch, lambda_context):
    _push(emulation)
    stack.use_function("ImageEventsFunction", monkeypatch)
    image_events.handler(load_event("ecr-image-push"), lambda_context)
    image_events.handler(load_event("ecr-image-push"), lambda_context)  # a duplicate delivery
    latest = load_event("ecr-image-push")
    latest["detail"]["image-tag"] = "latest"  # the same digest under another tag: the same revision
    image_events.handler(latest, lambda_context)
    (request,) = _requests(stack)
    assert json.loads(request["body"]) == {
        "service": "langgraph", "family": FAMILY, "revision": 1,
        "revisionArn": f"arn:aws:ecs:us-east-1:123456789012:task-definition/{FAMILY}:1"}


@pytest.mark.parametrize("stack_parameters", [{**ROLLING, "RegistrationGate": "scan"}])
def test_a_held_image_queues_no_rollout(stack, emulation, monkeypatch, lambda_context):
    _push(emulation)
    emulation.ecr.report(REPO, DIGEST, {"CRITICAL": 1})
    stack.use_function("ImageEventsFunction", monkeypatch)
    assert image_events.handler(load_event("ecr-image-push"), lambda_context)["outcome"] == "waiting for scan"
    assert image_events.handler(load_event("ecr-image-scan"), lambda_context)["outcome"] == "held"
    assert _requests(stack) == []


@pytest.mark.parametrize("stack_parameters", [ROLLING])
def test_a_rollout_updates_the_service_once_with_the_circuit_breaker(stack, emulation, calls, monkeypatch,
                                                                     lambda_context):
    _stand_in(emulation, stack)
    second = boto3.client("ecs").register_task_definition(family=FAMILY, containerDefinitions=[{
        "name": "langgraph", "image": "x", "memory": 512}])["taskDefinition"]
    stack.use_function("RolloutFunction", monkeypatch)
    calls.made.clear()
    first = rollouts.handler(_request(second["revision"]), lambda_context)
    again = rollouts.handler(_request(second["revision"]), lambda_context)  # a redelivered request
    assert first["rollouts"][0]["outcome"] == "rolling out" and first["batchItemFailures"] == []
    assert again["rollouts"][0]["outcome"] in ("rolling out", "already rolling out")
    (update,) = calls.of("ecs", "UpdateService")
    assert update["taskDefinition"] == second["taskDefinitionArn"]
    assert update["deploymentConfiguration"] == {"deploymentCircuitBreaker": {"enable": True, "rollback": True},
                                                 "strategy": "ROLLING"}


@pytest.mark.parametrize("stack_parameters", [{"Rollout": "canary", "RolloutAlarmNames": "p99-latency,errors"}])
def test_the_strategy_and_alarms_come_from_the_template(stack, emulation, calls, monkeypatch, lambda_context):
    _stand_in(emulation, stack)
    second = boto3.client("ecs").register_task_definition(family=FAMILY, containerDefinitions=[{
        "name": "langgraph", "image": "x", "memory": 512}])["taskDefinition"]
    stack.use_function("RolloutFunction", monkeypatch)
    rollouts.handler(_request(second["revision"]), lambda_context)
    (update,) = calls.of("ecs", "UpdateService")
    assert update["deploymentConfiguration"] == {
        "deploymentCircuitBreaker": {"enable": True, "rollback": True}, "strategy": "CANARY",
        "bakeTimeInMinutes": 10, "canaryConfiguration": {"canaryPercent": 5.0, "canaryBakeTimeInMinutes": 6},
        "alarms": {"alarmNames": ["p99-latency", "errors"], "enable": True, "rollback": True}}


def _refused_twice(stack, calls, lambda_context, revisions: tuple[int, int], outcome: str) -> dict:
    """Two revisions' requests, each refused with `outcome` and dropped (not retried), no
    UpdateService made, and one message for both: that message."""
    first, second = (rollouts.handler(_request(revision), lambda_context) for revision in revisions)
    assert [r["outcome"] for r in first["rollouts"] + second["rollouts"]] == [outcome] * 2
    assert first["batchItemFailures"] == second["batchItemFailures"] == []  # dropped, not retried
    assert calls.of("ecs", "UpdateService") == []
    (notice,) = stack.notifications()
    return notice


@pytest.mark.parametrize("stack_parameters", [ROLLING])
def test_a_missing_service_is_reported_once_and_not_retried(stack, emulation, calls, monkeypatch, lambda_context):
    stack.use_function("RolloutFunction", monkeypatch)
    notice = _refused_twice(stack, calls, lambda_context, (1, 2), "service missing")
    assert f"no ECS service {SERVICE}" in notice["subject"]
    assert "ClusterNotFoundException" in notice["message"] or "MISSING" in notice["message"]


@pytest.mark.parametrize("controller", ["CODE_DEPLOY", "EXTERNAL"])
@pytest.mark.parametrize("stack_parameters", [ROLLING])
def test_a_service_another_controller_deploys_is_reported_once_and_not_updated(stack, emulation, calls, monkeypatch,
                                                                               lambda_context, controller):
    """ECS refuses UpdateService's task definition for a CODE_DEPLOY or EXTERNAL service, so it is
    not called: one message naming the controller, each revision recorded, nothing retried."""
    from pipeline.adapters import ledger

    ecs = boto3.client("ecs")
    ecs.create_cluster(clusterName=CLUSTER)
    first = ecs.register_task_definition(family=FAMILY, containerDefinitions=[{
        "name": "langgraph", "image": "x", "memory": 512}])["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster=CLUSTER, serviceName=SERVICE, taskDefinition=first, desiredCount=1,
                       deploymentController={"type": controller})
    stack.use_function("RolloutFunction", monkeypatch)
    calls.made.clear()
    notice = _refused_twice(stack, calls, lambda_context, (2, 3), "another controller")
    assert notice["subject"] == f"[shipline] langgraph in dev: not rolled out, {controller} deploys its ECS service"
    assert f"uses the {controller} deployment controller" in notice["message"]
    table, pk = stack.refs["LedgerTable"], "multi-agent-orchestrator#dev#langgraph"
    for revision in (2, 3):
        item = ledger._read(table, pk, f"rollout#{revision}")
        assert item is not None and item["outcome"] == "another controller"


@pytest.mark.parametrize("stack_parameters", [ROLLING])
def test_an_older_revision_is_not_rolled_out_over_a_newer_registration(stack, emulation, calls, monkeypatch,
                                                                        lambda_context):
    from pipeline.adapters import ledger
    from pipeline.domain.records import CurrentRecord

    _stand_in(emulation, stack)
    ledger.registered(stack.refs["LedgerTable"], "multi-agent-orchestrator#dev#langgraph", CurrentRecord(
        digest="sha256:" + "1" * 64, revision=3, revision_arn="arn", registered_at="2026-11-26T00:00:00+00:00"))
    stack.use_function("RolloutFunction", monkeypatch)
    result = rollouts.handler(_request(2), lambda_context)
    assert result["rollouts"][0]["outcome"] == "superseded"
    assert calls.of("ecs", "UpdateService") == []


@pytest.mark.parametrize("stack_parameters", [ROLLING])
def test_a_failed_update_is_left_on_the_queue_and_its_retry_updates_once(stack, emulation, calls, faults,
                                                                          monkeypatch, lambda_context):
    _stand_in(emulation, stack)
    second = boto3.client("ecs").register_task_definition(family=FAMILY, containerDefinitions=[{
        "name": "langgraph", "image": "x", "memory": 512}])["taskDefinition"]
    stack.use_function("RolloutFunction", monkeypatch)
    lambda_context.remaining_ms = 1  # the failed try's idempotency lock is released for the retry
    faults.inject("ecs", "UpdateService", "server-error", times=1)
    failed = rollouts.handler(_request(second["revision"]), lambda_context)
    assert failed["batchItemFailures"] == [{"itemIdentifier": "m2"}]
    retried = rollouts.handler(_request(second["revision"]), lambda_context)
    assert retried["rollouts"][0]["outcome"] == "rolling out"
    service = boto3.client("ecs").describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
    assert [d["taskDefinition"] for d in service["deployments"] if d["status"] == "PRIMARY"] == [
        second["taskDefinitionArn"]]
    assert len(emulation.deployments.deployments) == 1  # one deployment, not two


# ---------------------------------------------------------------------------- ECS's events
def _event(name: str, deployment_id: str) -> dict:
    event = load_event(f"ecs-deployment-{name}")
    event["detail"]["deploymentId"] = deployment_id
    return event


@pytest.mark.parametrize("stack_parameters", [ROLLING])
def test_a_failed_deployment_gives_one_message_naming_the_revision_that_runs(stack, emulation, monkeypatch,
                                                                              lambda_context):
    from pipeline.adapters import ledger

    _stand_in(emulation, stack)
    emulation.deployments.failing.add(SERVICE)
    second = boto3.client("ecs").register_task_definition(family=FAMILY, containerDefinitions=[{
        "name": "langgraph", "image": "x", "memory": 512}])["taskDefinition"]
    stack.use_function("RolloutFunction", monkeypatch)
    deployment = rollouts.handler(_request(second["revision"]), lambda_context)["rollouts"][0]["deployment"]
    _end_deployments(emulation)  # the emulated ECS ends the deployment: circuit breaker, rollback to revision 1
    assert rollouts.handler(_event("failed", deployment), lambda_context)["state"] == "ROLLED_BACK"
    repeated = rollouts.handler(_event("failed", deployment), lambda_context)
    assert (repeated["state"], repeated["running"], repeated["notified"]) == ("ROLLED_BACK", 1, False)
    assert rollouts.handler(_event("in-progress", deployment), lambda_context)["outcome"] == "already ended"
    (notice,) = stack.notifications()
    assert notice["subject"] == "[shipline] langgraph in dev: revision 2 failed and was rolled back to revision 1"
    assert f"Now running: {FAMILY}:1" in notice["message"]
    record = ledger.read_deployment(stack.refs["LedgerTable"], "multi-agent-orchestrator#dev#langgraph", deployment)
    assert (record.state, record.rolled_back, record.running_revision, record.revision) == ("ROLLED_BACK", True, 1, 2)
    assert record.arn.startswith("arn:aws:ecs:us-east-1:123456789012:service-deployment/")


@pytest.mark.parametrize("stack_parameters", [ROLLING])
def test_a_deployment_shipline_did_not_start_is_recorded_not_told(stack, emulation, monkeypatch, lambda_context):
    _stand_in(emulation, stack)
    stack.use_function("RolloutFunction", monkeypatch)
    result = rollouts.handler(load_event("ecs-deployment-completed"), lambda_context)
    assert result["outcome"] == "recorded" and result["notified"] is False
    assert rollouts.handler(load_event("ecs-service-action"), lambda_context)["action"] == "SERVICE_TASK_START_IMPAIRED"
    assert stack.notifications() == []


@pytest.mark.parametrize("stack_parameters", [ROLLING])
def test_events_of_another_service_are_ignored(stack, emulation, monkeypatch, lambda_context):
    stack.use_function("RolloutFunction", monkeypatch)
    event = load_event("ecs-deployment-completed")
    event["resources"] = ["arn:aws:ecs:us-east-1:123456789012:service/other-cluster/someone-elses-service"]
    assert rollouts.handler(event, lambda_context)["outcome"] == "ignored"



@pytest.mark.parametrize("stack_parameters", [ROLLING])
@pytest.mark.parametrize("sample", ["ecs-deployment-failed", "ecs-service-action"])
def test_an_ecs_event_from_another_source_is_rejected_before_any_write(sample, stack, emulation, calls, monkeypatch,
                                                                       lambda_context):
    """The rules match source aws.ecs; an event that says otherwise (invoked directly) is not ECS's word."""
    stack.use_function("RolloutFunction", monkeypatch)
    event = load_event(sample)
    event["source"] = "aws.ecr"
    calls.made.clear()
    result = rollouts.handler(event, lambda_context)
    assert result == {"outcome": "rejected", "reason": f"{event['detail-type']}.source: Input should be 'aws.ecs'"}
    assert calls.made == []


@pytest.mark.parametrize("stack_parameters", [ROLLING])
def test_an_ecs_event_naming_no_service_says_so(stack, emulation, monkeypatch, lambda_context):
    stack.use_function("RolloutFunction", monkeypatch)
    event = load_event("ecs-deployment-completed")
    event["resources"] = []
    result = rollouts.handler(event, lambda_context)
    assert result == {"outcome": "ignored", "reason": "the event names no ECS service (resources is empty)"}

@pytest.mark.property
@pytest.mark.parametrize("stack_parameters", [ROLLING])
def test_the_rollout_function_gives_a_defined_outcome_for_any_damaged_ecs_event(stack, emulation, monkeypatch,
                                                                                  lambda_context):
    from pipeline.adapters.errors import AwsCallError

    _stand_in(emulation, stack)
    stack.use_function("RolloutFunction", monkeypatch)
    samples = [load_event(n) for n in ("ecs-deployment-in-progress", "ecs-deployment-completed",
                                       "ecs-deployment-failed", "ecs-service-action")]

    @property_settings(60, fixtures=True)
    @given(st.sampled_from(samples).flatmap(mutated))
    def check(event):
        TRIED["RolloutFunction, damaged events"] += 1
        try:
            result = rollouts.handler(event, lambda_context)
        except AwsCallError:
            return
        assert isinstance(result, dict) and result.get("outcome")
        assert one_printable_line(str(result.get("reason", "-")))

    check()



_ARN = f"arn:aws:ecs:us-east-1:123456789012:task-definition/{FAMILY}:2"


@pytest.mark.parametrize("stack_parameters", [ROLLING])
@pytest.mark.parametrize(("body", "problem"), [
    ("{not json", "event: Invalid JSON: key must be a string at line 1 column 2"),
    ("[1]", "event: Input should be an object"),
    (json.dumps({"service": "langgraph", "family": FAMILY, "revision": 1.7, "revisionArn": _ARN}),
     "revision: Input should be a valid integer"),
    (json.dumps({"service": "langgraph", "family": FAMILY, "revision": True, "revisionArn": _ARN}),
     "revision: Input should be a valid integer"),
    (json.dumps({"service": "langgraph", "family": FAMILY, "revision": 0, "revisionArn": _ARN}),
     "revision: Input should be greater than or equal to 1"),
    ('{"service": "langgraph", "family": "f", "revision": Infinity, '
     '"revisionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/f:1"}',
     "revision: Input should be a valid integer"),
    (json.dumps({"service": ["langgraph"], "family": FAMILY, "revision": 2, "revisionArn": _ARN}),
     "service: Input should be a valid string"),
    (json.dumps({"service": "langgraph", "family": FAMILY, "revision": 2}), "revisionArn: Field required"),
    (json.dumps({"service": "langgraph", "family": FAMILY, "revision": 2,
                 "revisionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/multi-agent-orchestrator-dev-"
                                "aws-agent-core:1"}),
     f"event: Value error, revisionArn names multi-agent-orchestrator-dev-aws-agent-core:1, not the request's "
     f"{FAMILY}:2"),
    (json.dumps({"service": "langgraph", "family": FAMILY, "revision": 2, "revisionArn": f"{FAMILY}:2"}),
     "revisionArn: Value error, not a task-definition ARN (arn:aws:ecs:<region>:<account>:task-definition/<family>:"
     "<revision>)"),
    (json.dumps({"service": "langgraph", "family": "multi-agent-orchestrator-dev-aws-agent-core", "revision": 1,
                 "revisionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/multi-agent-orchestrator-dev-"
                                "aws-agent-core:1"}),
     "family multi-agent-orchestrator-dev-aws-agent-core is not langgraph's (multi-agent-orchestrator-dev-langgraph)"),
    ("[" * 100_000 + "]" * 100_000, "event: Invalid JSON: recursion limit exceeded at line 1 column 202"),
])
def test_a_damaged_rollout_request_is_rejected_once_naming_its_problem(body, problem, stack, emulation, calls,
                                                                      monkeypatch, lambda_context):
    """Dropped with one line that says what is wrong: not retried into the dead-letter queue (Infinity,
    nesting), not rolled out as another revision (1.7 and true were revision 1), not a Python message."""
    _stand_in(emulation, stack)
    stack.use_function("RolloutFunction", monkeypatch)
    calls.made.clear()
    result = rollouts.handler({"Records": [{"messageId": "m1", "receiptHandle": "", "body": body,
                                            "attributes": {"ApproximateReceiveCount": "1"},
                                            "eventSource": "aws:sqs"}]}, lambda_context)
    assert result["batchItemFailures"] == []
    assert result["rollouts"] == [{"outcome": "rejected", "reason": problem}]
    assert calls.made == []  # no UpdateService, no ledger write, no message

@pytest.mark.parametrize("stack_parameters", [ROLLING])
def test_a_rollout_request_for_a_service_not_in_the_manifest_is_rejected_as_drift(stack, emulation, calls, capsys,
                                                                                  caplog, monkeypatch, lambda_context):
    """Rejected once, named, and counted as configuration drift (the alarm's metric), like any other
    function's event for a service services.toml no longer has: not retried into the dead-letter queue."""
    _stand_in(emulation, stack)
    stack.use_function("RolloutFunction", monkeypatch)
    calls.made.clear()
    body = json.dumps({"service": "retired-service", "family": FAMILY, "revision": 2, "revisionArn": _ARN})
    result = rollouts.handler({"Records": [{"messageId": "m1", "receiptHandle": "", "body": body,
                                            "attributes": {"ApproximateReceiveCount": "1"},
                                            "eventSource": "aws:sqs"}]}, lambda_context)
    assert result["batchItemFailures"] == []
    (outcome,) = result["rollouts"]
    assert outcome["outcome"] == "rejected" and "retired-service" in outcome["reason"]
    (line,) = [r.getMessage() for r in caplog.records if "rejected" in r.getMessage()]
    assert line.startswith("rollout request m1 rejected: ") and "retired-service" in line
    out = capsys.readouterr().out
    assert '"ConfigurationDrift"' in out and '"EventsRejected"' in out
    assert calls.made == []


# ---------------------------------------------------------------------------- scheduled tasks
RULE, SCHEDULE = f"{REPO}-nightly-report", f"{REPO}-cleanup"
ROLE = "arn:aws:iam::123456789012:role/multi-agent-orchestrator-dev-scheduled-tasks"


def _scheduled_manifest(tmp_path) -> str:
    from tests.support.paths import MANIFEST

    path = tmp_path / "services.toml"
    path.write_text(MANIFEST.read_text() + f'\n[services.langgraph.environments.dev]\nschedule_rules = ["{RULE}"]\n'
                                           f'schedules = ["{SCHEDULE}"]\n')
    return str(path)


def _scheduled_tasks(first: str) -> None:
    cluster = f"arn:aws:ecs:us-east-1:123456789012:cluster/{CLUSTER}"
    ecs = {"TaskDefinitionArn": first, "TaskCount": 1}
    boto3.client("events").put_rule(Name=RULE, ScheduleExpression="cron(0 3 * * ? *)")
    boto3.client("events").put_targets(Rule=RULE, Targets=[
        {"Id": "report", "Arn": cluster, "RoleArn": ROLE, "EcsParameters": ecs},
        {"Id": "other", "Arn": cluster, "RoleArn": ROLE,
         "EcsParameters": {"TaskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/other:4"}}])
    boto3.client("scheduler").create_schedule(
        Name=SCHEDULE, ScheduleExpression="rate(1 day)", FlexibleTimeWindow={"Mode": "FLEXIBLE",
                                                                            "MaximumWindowInMinutes": 15},
        Description="cleanup", Target={"Arn": cluster, "RoleArn": ROLE, "EcsParameters": ecs})


def _targets() -> tuple[dict, dict]:
    rule = {t["Id"]: t["EcsParameters"]["TaskDefinitionArn"].rsplit("/", 1)[-1]
            for t in boto3.client("events").list_targets_by_rule(Rule=RULE)["Targets"]}
    schedule = boto3.client("scheduler").get_schedule(Name=SCHEDULE)
    return rule, schedule


def _end_deployments(emulation) -> None:
    """The emulated ECS ends what is due (as the local account's loop does)."""
    while any(callable(item[2]) for item in emulation.outbox._heap):
        for item in list(emulation.outbox._heap):
            if callable(item[2]):
                emulation.outbox._heap.remove(item)
                item[2]()


@pytest.mark.parametrize("stack_parameters", [ROLLING])
def test_scheduled_tasks_run_the_revision_the_service_runs_once_it_completes(stack, emulation, monkeypatch,
                                                                              lambda_context, tmp_path):
    first = _stand_in(emulation, stack)
    _scheduled_tasks(first)
    second = boto3.client("ecs").register_task_definition(family=FAMILY, containerDefinitions=[{
        "name": "langgraph", "image": "x", "memory": 512}])["taskDefinition"]
    stack.use_function("RolloutFunction", monkeypatch, SHIPLINE_MANIFEST=_scheduled_manifest(tmp_path))
    deployment = rollouts.handler(_request(2), lambda_context)["rollouts"][0]["deployment"]
    assert rollouts.handler(_event("in-progress", deployment), lambda_context).get("retargeted") is None
    assert _targets()[0]["report"] == f"{FAMILY}:1"  # not before the deployment completes
    _end_deployments(emulation)
    result = rollouts.handler(_event("completed", deployment), lambda_context)
    assert result["retargeted"] == [f"rule/{RULE}", f"schedule/default/{SCHEDULE}"]
    rule, schedule = _targets()
    assert rule == {"report": f"{FAMILY}:2", "other": "other:4"}  # another family's target is left alone
    assert schedule["Target"]["EcsParameters"]["TaskDefinitionArn"] == second["taskDefinitionArn"]
    # UpdateSchedule replaces the whole schedule: what GetSchedule gave is kept
    assert schedule["Description"] == "cleanup" and schedule["FlexibleTimeWindow"]["MaximumWindowInMinutes"] == 15
    assert schedule["Target"]["RoleArn"] == ROLE


@pytest.mark.parametrize("stack_parameters", [ROLLING])
def test_scheduled_tasks_stay_on_the_revision_a_failed_deployment_rolled_back_to(stack, emulation, monkeypatch,
                                                                                  lambda_context, tmp_path):
    first = _stand_in(emulation, stack)
    _scheduled_tasks(first)
    emulation.deployments.failing.add(SERVICE)
    boto3.client("ecs").register_task_definition(family=FAMILY, containerDefinitions=[{
        "name": "langgraph", "image": "x", "memory": 512}])
    stack.use_function("RolloutFunction", monkeypatch, SHIPLINE_MANIFEST=_scheduled_manifest(tmp_path))
    deployment = rollouts.handler(_request(2), lambda_context)["rollouts"][0]["deployment"]
    _end_deployments(emulation)
    result = rollouts.handler(_event("failed", deployment), lambda_context)
    assert result["state"] == "ROLLED_BACK" and "retargeted" not in result
    rule, schedule = _targets()
    assert rule["report"] == f"{FAMILY}:1"
    assert schedule["Target"]["EcsParameters"]["TaskDefinitionArn"] == first


@pytest.mark.parametrize("stack_parameters", [ROLLING])
def test_a_message_that_failed_to_send_is_sent_by_the_events_retry(stack, emulation, faults, monkeypatch,
                                                                   lambda_context):
    """The deployment's end is recorded before its message: a retry of the event (Lambda's, after
    SNS failed) still sends the one message."""
    from pipeline.adapters.errors import AwsCallError

    _stand_in(emulation, stack)
    boto3.client("ecs").register_task_definition(family=FAMILY, containerDefinitions=[{
        "name": "langgraph", "image": "x", "memory": 512}])
    stack.use_function("RolloutFunction", monkeypatch)
    lambda_context.remaining_ms = 1
    deployment = rollouts.handler(_request(2), lambda_context)["rollouts"][0]["deployment"]
    _end_deployments(emulation)
    faults.inject("sns", "Publish", "access-denied", times=-1)
    with pytest.raises(AwsCallError, match="AccessDenied"):
        rollouts.handler(_event("completed", deployment), lambda_context)
    faults.clear()
    assert rollouts.handler(_event("completed", deployment), lambda_context)["notified"] is True
    assert rollouts.handler(_event("completed", deployment), lambda_context)["notified"] is False
    assert [n["subject"] for n in stack.notifications()] == [
        "[shipline] langgraph in dev: deployment of revision 2 completed"]


SCHEDULING = [("events", "ListTargetsByRule"), ("events", "PutTargets"), ("scheduler", "GetSchedule"),
              ("scheduler", "UpdateSchedule")]


@pytest.mark.parametrize("kind", ["throttling", "server-error", "access-denied"])
@pytest.mark.parametrize(("service", "operation"), SCHEDULING)
@pytest.mark.parametrize("stack_parameters", [ROLLING])
def test_a_failed_retarget_is_done_by_the_events_retry(stack, emulation, faults, calls, monkeypatch, lambda_context,
                                                        tmp_path, service, operation, kind):
    """Throttling and 5xx are retried by the client; AccessDenied fails the invocation, and
    Lambda's retry of the event retargets the scheduled tasks and sends the one message."""
    from pipeline.adapters.errors import AwsCallError

    first = _stand_in(emulation, stack)
    _scheduled_tasks(first)
    second = boto3.client("ecs").register_task_definition(family=FAMILY, containerDefinitions=[{
        "name": "langgraph", "image": "x", "memory": 512}])["taskDefinition"]
    stack.use_function("RolloutFunction", monkeypatch, SHIPLINE_MANIFEST=_scheduled_manifest(tmp_path))
    lambda_context.remaining_ms = 1
    deployment = rollouts.handler(_request(2), lambda_context)["rollouts"][0]["deployment"]
    _end_deployments(emulation)
    faults.inject(service, operation, kind, times=1 if kind != "access-denied" else -1)
    if kind == "access-denied":
        with pytest.raises(AwsCallError, match="AccessDenied"):
            rollouts.handler(_event("completed", deployment), lambda_context)
        faults.clear()
    rollouts.handler(_event("completed", deployment), lambda_context)
    rollouts.handler(_event("completed", deployment), lambda_context)  # a duplicate delivery
    rule, schedule = _targets()
    assert rule["report"] == f"{FAMILY}:2"
    assert schedule["Target"]["EcsParameters"]["TaskDefinitionArn"] == second["taskDefinitionArn"]
    assert len(stack.notifications()) == 1


@pytest.mark.parametrize("stack_parameters", [ROLLING])
def test_an_event_with_records_that_are_not_a_list_is_rejected_with_one_line(stack, emulation, calls, monkeypatch,
                                                                             lambda_context):
    stack.use_function("RolloutFunction", monkeypatch)
    calls.made.clear()
    result = rollouts.handler({"Records": None}, lambda_context)
    assert result == {"outcome": "rejected", "reason": "not an ECS service event: detail-type None "
                                                       "(expected 'ECS Deployment State Change', 'ECS Service Action')"}
    assert calls.made == []
