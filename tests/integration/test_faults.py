"""Throttling, 5xx and AccessDenied on each AWS call the functions make.

- Throttling and 5xx are retried by botocore's standard retry mode: the event succeeds.
- AccessDenied, and any failure of RegisterTaskDefinition (not retried by the client: a lost
  response would mean a second revision), fails the invocation: Lambda retries it, then
  dead-letters it. When the retry succeeds, the effect has happened exactly once, and a
  duplicate delivery of the same event adds nothing.
- Except housekeeping: retention's reads of what uses a revision fail nothing; a read that
  still fails means nothing is deregistered until the next registration (the last test).
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import boto3
import pytest

from pipeline.adapters.errors import AwsCallError
from pipeline.handlers import build_events, build_starter, build_trigger, github_webhook, image_events, rollouts
from shipline.local.emulation import Emulation
from tests.support.events import load_event
from tests.support.stacks import GITHUB

REPO = "multi-agent-orchestrator-dev-langgraph"
class WebhookFailed(RuntimeError):
    """The webhook answered 5xx: GitHub shows the delivery failed, and a person redelivers it."""


class StartFailed(RuntimeError):
    """The starter reported the build start failed: SQS brings the message back later."""


def _build_start(stack) -> dict:
    """One queued build start, received as Lambda's SQS mapping receives it."""
    from pipeline.domain.builds import BuildStart
    from tests.integration.conftest import AFTER

    sqs = boto3.client("sqs")
    url = stack.refs["BuildStartsQueue"]
    body = BuildStart.model_validate({"service": "langgraph", "sourceVersion": AFTER, "trigger": "codecommit",
                                      "event": "push"}).model_dump_json(by_alias=True)
    sqs.send_message(QueueUrl=url, MessageBody=body)
    (message,) = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"]
    return {"Records": [{"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"],
                         "body": message["Body"], "attributes": message["Attributes"], "eventSource": "aws:sqs"}]}


ROLLOUT_CLUSTER, ROLLOUT_SERVICE = "multi-agent-orchestrator-dev", REPO


def _rollout_request(stack) -> dict:
    """One queued rollout request (revision 2 of langgraph), received as Lambda's SQS mapping receives it."""
    sqs = boto3.client("sqs")
    url = stack.refs["RolloutQueue"]
    arn = f"arn:aws:ecs:us-east-1:123456789012:task-definition/{REPO}:2"
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"service": "langgraph", "family": REPO, "revision": 2,
                                                           "revisionArn": arn}))
    (message,) = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"]
    return {"Records": [{"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"],
                         "body": message["Body"], "attributes": message["Attributes"], "eventSource": "aws:sqs"}]}


def _stand_in_service(emulation: Emulation) -> None:
    """The user's ECS service on revision 1 of the family, and a revision 2 to roll out."""
    ecs = boto3.client("ecs")
    definitions = [ecs.register_task_definition(family=REPO, containerDefinitions=[{
        "name": "langgraph", "image": f"example/{n}", "memory": 512}])["taskDefinition"]["taskDefinitionArn"]
        for n in (1, 2)]
    emulation.deployments.stand_in(ROLLOUT_CLUSTER, ROLLOUT_SERVICE, definitions[0])


def _rollout_in_progress(emulation: Emulation) -> None:
    """The stand-in service, and shipline's rollout of revision 2 as the ledger holds it: the
    deployment the sample "ECS Deployment State Change" events name."""
    import os

    from pipeline.adapters import ledger
    from pipeline.domain.rollout import DeploymentRecord

    _stand_in_service(emulation)
    deployment = load_event("ecs-deployment-completed")["detail"]["deploymentId"]
    ledger.deployment_recorded(os.environ["LEDGER_TABLE"], "multi-agent-orchestrator#dev#langgraph", DeploymentRecord(
        deployment_id=deployment, cluster=ROLLOUT_CLUSTER, service_name=ROLLOUT_SERVICE, revision=2,
        previous_revision=1))


# How a failed invocation shows: an AWS call that failed after the client's retries, some builds
# not started, or the webhook's 5xx. Anything else would be a defect.
FAILED = (AwsCallError, WebhookFailed, StartFailed)


def _push_sample_image(emulation: Emulation) -> None:
    push = load_event("ecr-image-push")["detail"]
    boto3.client("ecr").create_repository(repositoryName=REPO)
    emulation.ecr.seed_image(REPO, push["image-digest"], push["image-tag"])
    emulation.ecr.report(REPO, push["image-digest"], {"CRITICAL": 1})


def _push_sample_image_latest_too(emulation: Emulation) -> None:
    """The sample image, also tagged `latest` (whose push event carries no commit tag)."""
    _push_sample_image(emulation)
    emulation.ecr.seed_image(REPO, load_event("ecr-image-push")["detail"]["image-digest"], "latest")


def _known_inputs(emulation: Emulation) -> None:
    """The commit's files in the emulated CodeCommit history: the starter reads its build inputs."""
    from tests.integration.conftest import AFTER
    from tests.support.sources import source_files

    for history in emulation.codecommit.histories.values():
        history.files[AFTER] = source_files()  # type: ignore[attr-defined]


def _image_with_the_inputs(emulation: Emulation) -> None:
    """And an image already built from those inputs (tagged inputs-<hash>), under no commit tag."""
    from pipeline.domain.inputs import inputs_tag
    from pipeline.domain.manifest import default_manifest
    from pipeline.flows import inputs
    from tests.integration.conftest import AFTER

    _known_inputs(emulation)
    name = next(iter(emulation.codecommit.histories))

    hashed = inputs.service_inputs(name, default_manifest(), "langgraph", AFTER)
    inputs.reset()  # the starter reads the inputs itself
    boto3.client("ecr").create_repository(repositoryName=REPO)
    emulation.ecr.seed_image(REPO, "sha256:" + "ab" * 32, inputs_tag(hashed))


GITHUB_TOKEN = "ghp_" + "f" * 36
TOKEN_SECRET = "<the secret the test creates>"  # replaced by its ARN (Secrets Manager adds a suffix of its own)
GITHUB_WITH_TOKEN = {**GITHUB, "GitHubTokenSecretArn": TOKEN_SECRET}


def _github_inputs(emulation: Emulation) -> None:
    """The commit's files in a private GitHub repository (the API stand-in), readable with the
    token the stack's secret holds: the starter reads its build inputs there."""
    from tests.integration.conftest import AFTER
    from tests.support.sources import source_files

    (history,) = emulation.codecommit.histories.values()
    history.files[AFTER] = source_files()  # type: ignore[attr-defined]
    emulation.github.add("example-org/multi-agent-orchestrator", history, token=GITHUB_TOKEN)


def _reused(emulation: Emulation) -> int:
    """How many images the commit's tag names (one: the reused image), and none when a build ran."""
    from tests.integration.conftest import AFTER

    if emulation.codebuild.builds:
        return 0
    images = boto3.client("ecr").describe_images(repositoryName=REPO)["imageDetails"]
    return sum(1 for image in images if AFTER[:7] in image.get("imageTags", []))


def _running_image_and_a_capture_of_build_requests(emulation: Emulation) -> None:
    """RebuildOnFixAvailable: the sample finding's image scanned before the finding was first
    observed, and the service's current revision (it runs); the requests bus's events copied to
    a queue, so each Build Requested that reached the bus is counted."""
    import os

    from pipeline.adapters import ledger
    from pipeline.domain.records import CurrentRecord, ScanRecord

    finding = load_event("inspector2-finding")["detail"]
    digest = finding["resources"][0]["details"]["awsEcrContainerImage"]["imageHash"]
    boto3.client("ecr").create_repository(repositoryName=REPO)
    emulation.ecr.seed_image(REPO, digest, "1279bbb")
    table, pk = os.environ["LEDGER_TABLE"], "multi-agent-orchestrator#dev#langgraph"
    ledger.image_scanned(table, pk, digest, ["1279bbb"], ScanRecord("inspector", "INITIAL_SCAN_COMPLETE", {},
                                                                    "2026-11-20T00:00:00+00:00"))
    ledger.registered(table, pk, CurrentRecord(digest=digest, revision=1, registered_at="2026-11-20T00:00:00+00:00",
                                               revision_arn=f"arn:aws:ecs:us-east-1:123456789012:task-definition/"
                                                            f"{REPO}:1"))
    sqs, events = boto3.client("sqs"), boto3.client("events")
    url = sqs.create_queue(QueueName="build-requests")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = os.environ["EVENT_BUS"]
    events.put_rule(Name="capture", EventBusName=bus, EventPattern=json.dumps({"source": ["shipline"]}))
    events.put_targets(Rule="capture", EventBusName=bus, Targets=[{"Id": "queue", "Arn": arn}])


def _build_requests_on_the_bus() -> int:
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="build-requests")["QueueUrl"]
    found = 0
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300).get("Messages"):
        found += sum(1 for m in messages if json.loads(m["Body"])["detail-type"] == "Build Requested")
    return found


@dataclass(frozen=True)
class Scenario:
    function: str
    handler: Callable
    event: str
    setup: Callable[[Emulation], None] | None
    path: tuple[tuple[str, str], ...]  # the AWS calls on this path
    parameters: dict[str, str] = field(default_factory=dict)  # the stack the function exists in


SCENARIOS = {
    "codecommit push": Scenario("BuildTriggerFunction", build_trigger.handler, "codecommit-push", None, (
        ("codecommit", "GetDifferences"), ("sqs", "SendMessageBatch"), ("dynamodb", "PutItem"),
        ("dynamodb", "UpdateItem"))),
    "build start": Scenario("BuildStarterFunction", build_starter.handler, "build-start", None, (
        ("ecr", "DescribeRepositories"), ("ecr", "CreateRepository"), ("ecr", "PutLifecyclePolicy"),
        ("logs", "CreateLogGroup"), ("logs", "PutRetentionPolicy"), ("codebuild", "StartBuild"),
        # the commit's ledger item, noted and read (UpdateItem), is the start's idempotency record;
        # the build and the plan's entry on the commit go in one TransactWriteItems
        ("dynamodb", "UpdateItem"), ("dynamodb", "TransactWriteItems"))),
    "build start with known inputs": Scenario("BuildStarterFunction", build_starter.handler, "build-start",
                                              _known_inputs, (("codecommit", "GetFolder"), ("codecommit", "GetFile"),
                                                              ("ecr", "BatchGetImage"))),
    "build start reusing an image": Scenario("BuildStarterFunction", build_starter.handler, "build-start",
                                             _image_with_the_inputs, (("ecr", "BatchGetImage"), ("ecr", "PutImage"))),
    "image push": Scenario("ImageEventsFunction", image_events.handler, "ecr-image-push", _push_sample_image, (
        ("ecr", "BatchGetImage"), ("dynamodb", "TransactGetItems"), ("dynamodb", "UpdateItem"),
        ("ecs", "DescribeTaskDefinition"), ("ecs", "RegisterTaskDefinition"), ("dynamodb", "TransactWriteItems"),
        ("ecr", "PutImage"))),
    "image push without a commit tag": Scenario(
        "ImageEventsFunction", image_events.handler, "ecr-image-push-latest", _push_sample_image_latest_too, (
            ("ecr", "DescribeImages"), ("ecr", "BatchGetImage"), ("dynamodb", "TransactGetItems")),
        {"RegisterManualPushes": "true"}),
    "image scan": Scenario("ImageEventsFunction", image_events.handler, "ecr-image-scan", _push_sample_image, (
        ("ecr", "DescribeImageScanFindings"), ("sns", "Publish"), ("dynamodb", "UpdateItem"))),
    # RebuildOnFixAvailable: a later finding with a fix in the running image asks for a rebuild.
    "finding with a fix": Scenario("ImageEventsFunction", image_events.handler, "inspector2-finding",
                                   _running_image_and_a_capture_of_build_requests, (
                                       ("dynamodb", "PutItem"), ("events", "PutEvents")),
                                   {"RebuildOnFixAvailable": "true"}),
    "build failed": Scenario("BuildEventsFunction", build_events.handler, "codebuild-build-failed", None, (
        ("sns", "Publish"), ("dynamodb", "UpdateItem"), ("dynamodb", "PutItem"), ("dynamodb", "TransactWriteItems"))),
    # GitHub: the token is read (Secrets Manager), then GitHub's API (no AWS call), then ECR.
    "github build start with known inputs": Scenario("BuildStarterFunction", build_starter.handler, "build-start",
                                                     _github_inputs, (("secretsmanager", "GetSecretValue"),
                                                                      ("ecr", "BatchGetImage")), GITHUB_WITH_TOKEN),
    "github push": Scenario("GitHubWebhookFunction", github_webhook.handler, "github-push", None, (
        ("secretsmanager", "GetSecretValue"), ("sqs", "SendMessageBatch")), GITHUB),
    # Rollout on: the registration queues the revision's rollout; the rollout function updates the service.
    "image push, rollout on": Scenario("ImageEventsFunction", image_events.handler, "ecr-image-push",
                                       _push_sample_image, (("sqs", "SendMessage"),), {"Rollout": "rolling"}),
    "deployment completed": Scenario("RolloutFunction", rollouts.handler, "ecs-deployment-completed",
                                     _rollout_in_progress, (("dynamodb", "GetItem"), ("dynamodb", "UpdateItem"),
                                                            ("sns", "Publish")), {"Rollout": "rolling"}),
    "rollout": Scenario("RolloutFunction", rollouts.handler, "rollout-request", _stand_in_service, (
        ("ecs", "DescribeServices"), ("ecs", "UpdateService"), ("ecs", "ListServiceDeployments"),
        ("dynamodb", "GetItem"), ("dynamodb", "PutItem"), ("dynamodb", "UpdateItem")), {"Rollout": "rolling"}),
}
CASES = [(name, service, operation) for name, s in SCENARIOS.items() for service, operation in s.path]
# RegisterTaskDefinition: throttling is retried (ECS refuses it before processing), a 5xx is not
# (it may have registered a revision): the invocation fails, and its retry checks first.
NOT_RETRIED_ON_SERVER_ERROR = {("ecs", "RegisterTaskDefinition")}
# Calls whose failure leaves the build inputs unknown: the service is built (as without build
# avoidance), never a failed invocation.
FAILS_OPEN = {("github build start with known inputs", "secretsmanager", "GetSecretValue")}


@pytest.fixture
def stack_parameters(request, aws) -> dict[str, str]:
    """The scenario's stack: the webhook's is a GitHub stack; a GitHub token secret is created first."""
    parameters = dict(SCENARIOS[request.node.callspec.params["run"]].parameters)
    if parameters.get("GitHubTokenSecretArn") == TOKEN_SECRET:
        parameters["GitHubTokenSecretArn"] = boto3.client("secretsmanager").create_secret(
            Name="github-token", SecretString=GITHUB_TOKEN)["ARN"]
    return parameters


@pytest.fixture
def run(request, stack, emulation, codecommit_history, calls, monkeypatch, lambda_context):
    scenario = SCENARIOS[request.param]
    stack.use_function(scenario.function, monkeypatch)
    event = (_build_start(stack) if scenario.event == "build-start" else
             _rollout_request(stack) if scenario.event == "rollout-request" else load_event(scenario.event))
    if scenario.setup:
        scenario.setup(emulation)
    calls.made.clear()
    # A short remaining time: an invocation that dies mid-effect releases its idempotency lock
    # by the time Lambda retries it, as it would in AWS.
    lambda_context.remaining_ms = 1

    def invoke():
        result = scenario.handler(event, lambda_context)
        if isinstance(result, dict) and result.get("statusCode", 200) >= 500:
            raise WebhookFailed(f"{result['statusCode']} {result['body']}")
        if isinstance(result, dict) and result.get("batchItemFailures"):
            raise StartFailed(f"build start failed and comes back later: {calls.of('sqs', 'ChangeMessageVisibility')}")
        return result

    notifications: list = []

    def effect() -> int:
        """How many times this event's one effect has happened."""
        notifications.extend(stack.notifications())
        if request.param in ("codecommit push", "github push"):  # a start queued twice is one build (the
            # starter's keys: the commit and the service)
            return len({(start["service"], start["sourceVersion"]) for batch in calls.of("sqs", "SendMessageBatch")
                        for start in map(json.loads, (e["MessageBody"] for e in batch["Entries"]))})
        if request.param in ("build start", "build start with known inputs",
                             "github build start with known inputs"):  # CodeBuild's idempotencyToken
            return len(emulation.codebuild.builds)
        if request.param == "build start reusing an image":  # retagged once, never built
            return _reused(emulation)
        if request.param == "image push, rollout on":  # one rollout request per revision, in the queue
            queued = boto3.client("sqs").receive_message(QueueUrl=stack.refs["RolloutQueue"], MaxNumberOfMessages=10,
                                                         VisibilityTimeout=0).get("Messages", [])
            revisions = [json.loads(m["Body"])["revision"] for m in queued]
            return len(revisions) if len(set(revisions)) == len(revisions) else -len(revisions)
        if request.param.startswith("image push"):  # one revision, and its image tagged live (no step lost)
            revisions = len(boto3.client("ecs").list_task_definitions()["taskDefinitionArns"])
            tags = {t for i in boto3.client("ecr").describe_images(repositoryName=REPO)["imageDetails"]
                    for t in i.get("imageTags", [])}
            return revisions if "live-dev" in tags else -revisions
        if request.param == "rollout":  # one ECS deployment, however often the request came
            return len(emulation.deployments.deployments)
        if request.param == "finding with a fix":  # one Build Requested on the bus, however often delivered
            return _build_requests_on_the_bus()
        return len(notifications)

    return invoke, effect


def _deliver_until_done(invoke, attempts: int = 3):
    """Lambda's asynchronous invocation: the first try and up to two retries."""
    for attempt in range(attempts):
        try:
            return invoke()
        except FAILED:
            if attempt == attempts - 1:
                raise
    return None


@pytest.mark.parametrize("run, service, operation", CASES, indirect=["run"])
def test_throttling_is_retried_and_the_effect_happens_once(run, service, operation, faults):
    invoke, effect = run
    fault = faults.inject(service, operation, "throttling", times=2)
    _deliver_until_done(invoke)
    assert fault.hits == 2
    invoke()  # a duplicate delivery
    assert effect() == 1


@pytest.mark.parametrize("run, service, operation", CASES, indirect=["run"])
def test_server_error_is_retried_and_the_effect_happens_once(run, service, operation, faults):
    invoke, effect = run
    fault = faults.inject(service, operation, "server-error", times=1)
    if (service, operation) in NOT_RETRIED_ON_SERVER_ERROR:
        with pytest.raises(AwsCallError, match="InternalFailure"):
            invoke()
    _deliver_until_done(invoke)
    assert fault.hits == 1
    invoke()
    assert effect() == 1


TRANSACTIONS = [(name, service, operation) for name, service, operation in CASES
                if (service, operation) in {("dynamodb", "TransactWriteItems"), ("dynamodb", "TransactGetItems")}]


@pytest.mark.parametrize("run, service, operation", TRANSACTIONS, indirect=["run"])
def test_a_transaction_cancelled_by_a_conflict_fails_the_invocation_and_its_retry_has_one_effect(
        run, service, operation, faults):
    """DynamoDB cancels a transaction that meets a concurrent one on an item
    (TransactionCanceledException, reason TransactionConflict), and botocore does not retry it:
    the invocation fails (it is not a condition that did not hold), and its retry does the work."""
    invoke, effect = run
    fault = faults.inject(service, operation, "transaction-conflict", times=1)
    with pytest.raises(FAILED):
        invoke()
    assert fault.hits == 1
    _deliver_until_done(invoke)
    invoke()  # a duplicate delivery
    assert effect() == 1


@pytest.mark.parametrize("run, service, operation", CASES, indirect=["run"])
def test_access_denied_fails_the_invocation_and_its_retry_has_one_effect(run, service, operation, faults, request,
                                                                         calls):
    invoke, effect = run
    faults.inject(service, operation, "access-denied", times=-1)
    if (request.node.callspec.params["run"], service, operation) in FAILS_OPEN:
        invoke()  # no failure: the build starts without its inputs
        (build,) = calls.of("codebuild", "StartBuild")
        assert "INPUTS_HASH" not in {v["name"] for v in build["environmentVariablesOverride"]}
        invoke()  # a duplicate delivery, the secret still unreadable: the same build, not another
        assert effect() == 1 and len(calls.of("codebuild", "StartBuild")) == 1
        return
    with pytest.raises(FAILED) as failure:
        invoke()
    chain = [failure.value, failure.value.__cause__, failure.value.__context__]
    if isinstance(failure.value, WebhookFailed):  # GitHub gets a 503, never the reason
        assert str(failure.value).startswith("503 ")
    elif isinstance(failure.value, StartFailed):  # the message waits, and comes back
        assert "ChangeMessageVisibility" in str(failure.value) or "VisibilityTimeout" in str(failure.value)
    else:
        assert any("AccessDenied" in str(e) for e in chain if e)
    faults.clear()
    _deliver_until_done(invoke)  # Lambda's retry, once the permission is back
    invoke()  # and a duplicate delivery
    assert effect() == 1


# ---------------------------------------------------------------------------- retention's reads
# Housekeeping after a registration: what uses the family's revisions (the ledger's running
# record, the ECS service, its scheduled tasks) is read before any revision is deregistered.
# These reads fail nothing: throttling and 5xx are retried by the client, and retention goes on
# in the same invocation; a read that still fails (AccessDenied) deregisters nothing this time.
RETENTION_READS = [("ecs", "DescribeServices"), ("events", "ListTargetsByRule"), ("scheduler", "GetSchedule"),
                   ("dynamodb", "GetItem")]


@pytest.mark.parametrize("stack_parameters", [{}])
@pytest.mark.parametrize(("service", "operation"), RETENTION_READS)
@pytest.mark.parametrize(("kind", "times"), [("throttling", 2), ("server-error", 1), ("access-denied", -1)])
def test_retention_reads_are_retried_by_the_client_and_a_failed_one_deregisters_nothing(
        stack, emulation, codecommit_history, calls, faults, monkeypatch, lambda_context, tmp_path, service,
        operation, kind, times):
    from tests.integration import test_retention as retention

    retention.scheduled_manifest(tmp_path, monkeypatch)
    stack.use_function("ImageEventsFunction", monkeypatch, REVISIONS_TO_KEEP="1")
    boto3.client("ecr").create_repository(repositoryName=REPO)

    def register(n: int) -> None:
        tag = f"{n:07x}"
        digest = retention.digest_of(f"image {n}")
        emulation.ecr.seed_image(REPO, digest, tag)
        assert image_events.handler(retention.push_event(tag, digest), lambda_context)["outcome"] == "registered"

    register(1)
    emulation.deployments.stand_in(ROLLOUT_CLUSTER, ROLLOUT_SERVICE, retention.arn(1))
    retention.schedule_rule(retention.arn(1))
    retention.schedule(retention.arn(1))
    register(2)  # revision 1 is in use: kept
    fault = faults.inject(service, operation, kind, times=times, containing="running" if service == "dynamodb" else "")
    register(3)  # the registration stands whatever the read did
    assert fault.hits == (1 if times == -1 else times)  # AccessDenied is not retried
    if kind == "access-denied":
        assert retention.statuses() == {1: "ACTIVE", 2: "ACTIVE", 3: "ACTIVE"}  # not read: nothing deregistered
        faults.clear()
        register(4)  # the next registration reads again and catches up
        assert retention.statuses() == {1: "ACTIVE", 2: "INACTIVE", 3: "INACTIVE", 4: "ACTIVE"}
    else:
        assert retention.statuses() == {1: "ACTIVE", 2: "INACTIVE", 3: "ACTIVE"}
