"""IAM coverage, proven: every AWS call each function makes on the local account is allowed by
that function's policy in the translated template, and every action the policy grants is
used by some code path.

Two stacks, one per SourceProvider: the webhook exists only in a GitHub stack, and the build
trigger's policy differs between the two (it reads CodeCommit only under CodeCommit), so each
is checked in the stack it runs in. The other functions' policies are the
same in both stacks (a test says so), so one stack's check holds for the other."""

import copy
import json
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from shipline.local.account import prepare_for
from tests.support.events import load_event
from tests.support.iam import Facts, Need, coverage_problems, needs
from tests.support.stacks import GITHUB

GITHUB_TOKEN = "ghp_" + "i" * 36  # the GitHub stack's repository is private: its API is read with this token

# Where each function's policy is checked both ways: (stack, function).
CHECKED = [("CodeCommit", "BuildTriggerFunction"), ("CodeCommit", "BuildStarterFunction"),
           ("CodeCommit", "ImageEventsFunction"), ("CodeCommit", "BuildEventsFunction"),
           ("GitHub", "GitHubWebhookFunction"), ("GitHub", "BuildTriggerFunction"), ("Rollout", "RolloutFunction")]
# Stacks whose every call is checked against the policies (the functions CHECKED elsewhere run in them too).
SCENARIOS = ["CodeCommit", "GitHub", "Rollout"]
# Per stack: the requests bus's ARN, the principals its policy's Deny excepts, and each function's role.
# (The local account keeps the bus policy but does not evaluate it: this suite does.)
BUS_ADMISSIONS: dict[str, tuple[str, list[str], dict[str, str]]] = {}
STARTS_QUEUES: dict[str, str] = {}  # per stack: the build-starts queue's ARN


def _exercise_basic(account) -> None:
    """Every function of a CodeCommit stack down every path that touches AWS, on a registry with
    basic scanning."""
    ecr = account.client("ecr")
    # A repository that drifted: scan-on-push off, no lifecycle policy.
    ecr.create_repository(repositoryName="multi-agent-orchestrator-dev-aws-agent-core",
                          imageScanningConfiguration={"scanOnPush": False})
    push = load_event("codecommit-push")
    for event in (push, push, load_event("schedule-nightly"), load_event("codebuild-build-failed"),
                  load_event("codebuild-build-failed")):
        account.put_event(event)
        account.run()
    # A push the planner cannot read (an unknown "before" commit): its record is deleted for the retry.
    unknown = load_event("codecommit-push")
    unknown["detail"]["oldCommitId"] = "0" * 39 + "1"
    account.put_event(unknown)
    account.run()
    # Failures inside an effect: the idempotency record is deleted so a retry can redo it.
    gone = load_event("ecr-image-push")  # an image that is not in the registry
    account.put_event(gone)
    account.run()
    # A push whose event names no commit tag (a hand-pushed `latest`): ECR is asked for its tags.
    manual = load_event("ecr-image-push-latest")
    manual["detail"]["image-digest"] = "sha256:" + "7" * 64
    prepare_for(account, manual)
    account.put_event(manual)
    account.run()
    sns = account.client("sns")
    failed = load_event("codebuild-build-failed")
    failed["detail"]["build-id"] += "-second"
    topic = account.stack.refs["NotificationTopic"]
    sns.delete_topic(TopicArn=topic)
    account.put_event(failed)
    account.run()
    # An image whose commit tag was removed by hand: a request for its commit finds the image by its
    # inputs and tags it again (BatchGetImage, PutImage), building nothing.
    ecr.batch_delete_image(repositoryName="multi-agent-orchestrator-dev-langgraph",
                           imageIds=[{"imageTag": push["detail"]["commitId"][:7]}])
    retag = load_event("build-requested")
    retag["id"] = "retag-by-inputs"
    retag["detail"]["commit"] = push["detail"]["commitId"]
    account.put_event(retag)
    account.run()
    # A scan message that cannot be sent (the topic gone): its claim on the image's ledger item is given up.
    scan = load_event("ecr-image-scan")
    prepare_for(account, scan)
    account.put_event(scan)
    account.run()
    # Nor can the findings digest of the finding the enhanced registry's exercise left waiting: its
    # idempotency record is deleted for the retry (Powertools' DeleteItem).
    digest_run = load_event("schedule-findings-digest")
    digest_run["time"] = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest_run["id"] = "digest-with-no-topic"
    account.put_event(digest_run)
    account.run()
    # A build start delivered twice (SQS delivers at least once): the second finds the commit's
    # build running, and reads its build's item to see whether it has ended (GetItem).
    body = json.dumps({"service": "snowflake-cortex", "sourceVersion": push["detail"]["oldCommitId"],
                       "trigger": "request", "event": "delivered-twice"})
    queue = account.stack.refs["BuildStartsQueue"]
    account.client("sqs").send_message_batch(QueueUrl=queue, Entries=[{"Id": "a", "MessageBody": body},
                                                                      {"Id": "b", "MessageBody": body}])
    account.run()
    _delete_a_retired_revision(account)
    _tag_and_untag_a_revision_in_use(account)
    _tag_the_digest_a_service_resolved(account)
    account.client("codebuild").delete_project(name=account.stack.refs["BuildProject"])
    request = load_event("build-requested")
    request["detail"]["commit"] = push["detail"]["oldCommitId"]  # a commit not built yet
    account.put_event(request)
    account.run()


def _name_scheduled_tasks(account, tmp_path) -> None:
    """aws-agent-core's scheduled tasks in services.toml (a rule and a schedule, which exist) for the
    image events function: retention (RevisionsToKeep=1) reads them, and the ECS service (its
    cluster does not exist: Rollout none), before it deregisters."""
    from tests.support.paths import MANIFEST

    rule = "multi-agent-orchestrator-dev-aws-agent-core-report"
    schedule = "multi-agent-orchestrator-dev-aws-agent-core-sweep"
    manifest = tmp_path / "services.toml"
    manifest.write_text(MANIFEST.read_text() + f'\n[services.aws-agent-core.environments.dev]\n'
                                               f'schedule_rules = ["{rule}"]\nschedules = ["{schedule}"]\n')
    account.stack.functions["ImageEventsFunction"].environment["SHIPLINE_MANIFEST"] = str(manifest)
    target = {"Arn": "arn:aws:ecs:us-east-1:123456789012:cluster/multi-agent-orchestrator-dev",
              "RoleArn": "arn:aws:iam::123456789012:role/multi-agent-orchestrator-dev-scheduled-tasks",
              # the family alone: its latest ACTIVE revision, which retention keeps anyway
              "EcsParameters": {"TaskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/"
                                                     "multi-agent-orchestrator-dev-aws-agent-core"}}
    account.client("events").put_rule(Name=rule, ScheduleExpression="rate(1 day)")
    account.client("events").put_targets(Rule=rule, Targets=[{"Id": "report", **target}])
    account.client("scheduler").create_schedule(Name=schedule, ScheduleExpression="rate(1 day)",
                                                FlexibleTimeWindow={"Mode": "OFF"}, Target=target)


def _delete_a_retired_revision(account) -> None:
    """A revision retention deregistered two days ago is deleted by the next registration
    (DeleteInactiveAfterDays=1): the ledger is aged, then an image of a new commit is pushed."""
    ecs = account.client("ecs")
    family = "multi-agent-orchestrator-dev-aws-agent-core"
    inactive = ecs.list_task_definitions(familyPrefix=family, status="INACTIVE")["taskDefinitionArns"]
    assert inactive, "retention (RevisionsToKeep=1) left no INACTIVE revision to delete"
    then = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    account.client("dynamodb").update_item(
        TableName=account.stack.refs["LedgerTable"],
        Key={"pk": {"S": "multi-agent-orchestrator#dev#aws-agent-core"}, "sk": {"S": "retired"}},
        UpdateExpression="SET #r = :then", ExpressionAttributeNames={"#r": "r" + inactive[0].rsplit(":", 1)[1]},
        ExpressionAttributeValues={":then": {"S": then}})
    push = load_event("ecr-image-push")
    push["detail"].update({"repository-name": "multi-agent-orchestrator-dev-aws-agent-core",
                           "image-digest": "sha256:" + "6" * 64, "image-tag": "6666666"})
    push["time"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    prepare_for(account, push)  # the image is in ECR, as its push event says
    account.put_event(push)
    account.run()
    deleted = ecs.list_task_definitions(familyPrefix=family, status="DELETE_IN_PROGRESS")["taskDefinitionArns"]
    assert deleted == [inactive[0]]


def _push_agent_core(account, n: str) -> None:
    """A new commit's image of aws-agent-core, registered as its next revision."""
    push = load_event("ecr-image-push")
    push["id"] = f"agent-core-push-{n}"
    push["detail"].update({"repository-name": "multi-agent-orchestrator-dev-aws-agent-core",
                           "image-digest": "sha256:" + n * 64, "image-tag": n * 7})
    push["time"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    prepare_for(account, push)
    account.put_event(push)
    account.run()


def _tag_and_untag_a_revision_in_use(account) -> None:
    """aws-agent-core's scheduled rule names its latest revision: the next registration keeps it
    (RevisionsToKeep=1) and tags its image live-dev-r<revision> (DescribeTaskDefinition,
    BatchGetImage, PutImage); once the rule names the family alone again, the registration after
    takes the tag off (DescribeImages, BatchDeleteImage)."""
    ecs, ecr = account.client("ecs"), account.client("ecr")
    family = "multi-agent-orchestrator-dev-aws-agent-core"
    rule = f"{family}-report"
    (target,) = account.client("events").list_targets_by_rule(Rule=rule)["Targets"]
    latest = ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]
    pinned = {**target, "EcsParameters": {**target["EcsParameters"], "TaskDefinitionArn": latest["taskDefinitionArn"]}}
    account.client("events").put_targets(Rule=rule, Targets=[pinned])
    _push_agent_core(account, "7")
    tag = f"live-dev-r{latest['revision']}"
    assert ecr.describe_images(repositoryName=family, imageIds=[{"imageTag": tag}])["imageDetails"]
    account.client("events").put_targets(Rule=rule, Targets=[target])
    _push_agent_core(account, "8")
    with pytest.raises(ecr.exceptions.ImageNotFoundException):
        ecr.describe_images(repositoryName=family, imageIds=[{"imageTag": tag}])


def _tag_the_digest_a_service_resolved(account) -> None:
    """An ECS service created on a revision registered by hand that names `<repository>:latest`:
    the next registration keeps that revision and tags the digest ECS resolved for it
    (ListServiceDeployments, DescribeServiceRevisions), though `latest` has moved on."""
    ecs, ecr = account.client("ecs"), account.client("ecr")
    family = "multi-agent-orchestrator-dev-aws-agent-core"
    latest = ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]
    repository_uri, _, digest = next(c["image"] for c in latest["containerDefinitions"]
                                     if f"/{family}@" in c["image"]).partition("@")
    (image,) = ecr.batch_get_image(repositoryName=family, imageIds=[{"imageDigest": digest}])["images"]
    ecr.put_image(repositoryName=family, imageManifest=image["imageManifest"], imageTag="latest")
    containers = [dict(c, image=f"{repository_uri}:latest") if c["image"].startswith(repository_uri) else c
                  for c in latest["containerDefinitions"]]
    by_tag = ecs.register_task_definition(
        family=family, containerDefinitions=containers,
        **{k: latest[k] for k in ("cpu", "memory", "networkMode", "requiresCompatibilities") if k in latest},
    )["taskDefinition"]["revision"]
    if not ecs.describe_clusters(clusters=["multi-agent-orchestrator-dev"])["clusters"]:
        ecs.create_cluster(clusterName="multi-agent-orchestrator-dev")
    ecs.create_service(cluster="multi-agent-orchestrator-dev", serviceName=family,
                       taskDefinition=f"{family}:{by_tag}", desiredCount=1)
    ecr.batch_delete_image(repositoryName=family, imageIds=[{"imageTag": "latest"}])  # the tag moved on
    _push_agent_core(account, "9")
    tag = f"live-dev-r{by_tag}"
    (detail,) = ecr.describe_images(repositoryName=family, imageIds=[{"imageTag": tag}])["imageDetails"]
    assert detail["imageDigest"] == digest


def _exercise_github(account) -> None:
    """A GitHub stack: the webhook down every path that touches AWS (it queues the push's build
    starts itself), and the build trigger as it runs there (no CodeCommit)."""
    account.invoke_webhook(load_event("github-push"))
    account.run()
    # A plan that cannot be queued (the queue gone for a moment): the trigger's record is deleted
    # for the retry, which queues it once the queue is back.
    # In Lambda each function is a process of its own; here they share one, and Powertools' cache of
    # the token with it: the trigger, cold, reads the token itself (the schedule asks GitHub for the head).
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()
    sqs, url = account.client("sqs"), account.stack.refs["BuildStartsQueue"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout", "RedrivePolicy"])
    sqs.delete_queue(QueueUrl=url)
    account.put_event(load_event("schedule-nightly"))
    account.run_until(lambda: any(i.function.logical_id == "BuildTriggerFunction" and i.error is not None
                                  for i in account.invocations))
    sqs.create_queue(QueueName=url.rsplit("/", 1)[-1], Attributes=attributes["Attributes"])
    account.run()
    # GitHub's redelivery of the push: the same build start queued again, which starts nothing new.
    again = load_event("github-push")
    again["headers"]["x-github-delivery"] = "another-delivery"
    account.invoke_webhook(again)
    account.run()
    _exercise_github_branch_builds(account)


def _exercise_github_branch_builds(account) -> None:
    """The schedule when GitHub's API does not name the head (the token's rate limit spent): the
    branch is planned, and the starter keeps a Powertools record for each start of it (a commit's
    start is recorded on the commit's ledger item instead). Then a start of the branch that
    fails (the build project gone): its record is deleted for the retry."""
    account.emulation.github.limits["token"] = 0
    night = load_event("schedule-nightly")
    night["id"] = "a-night-github-cannot-answer"
    account.put_event(night)
    account.run()
    account.client("codebuild").delete_project(name=account.stack.refs["BuildProject"])
    night["id"] = "another-night-without-the-project"
    account.put_event(night)
    account.run()


def _exercise_enhanced(account) -> None:
    """The paths that differ on a registry with enhanced scanning (Amazon Inspector)."""
    account.client("ecr").put_registry_scanning_configuration(scanType="ENHANCED", rules=[{
        "scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}]}])
    account.put_event(load_event("build-requested"))
    account.run()
    # Continuous scanning finds something in that image later: queued, then the hourly digest.
    repository = "multi-agent-orchestrator-dev-langgraph"
    commit = load_event("build-requested")["detail"]["commit"]
    (image,) = account.client("ecr").describe_images(repositoryName=repository,
                                                     imageIds=[{"imageTag": commit[:7]}])["imageDetails"]
    finding = load_event("inspector2-finding")
    later = (datetime.now(UTC) + timedelta(minutes=1)).strftime("%b %d, %Y, %I:%M:%S %p")
    finding["detail"].update(firstObservedAt=later, lastObservedAt=later)
    finding["detail"]["resources"][0]["details"]["awsEcrContainerImage"]["imageHash"] = image["imageDigest"]
    with_fix = copy.deepcopy(finding)
    finding["detail"]["fixAvailable"] = "NO"  # no fix: no rebuild, so the image still runs at the digest
    account.put_event(finding)
    account.run()
    digest_run = load_event("schedule-findings-digest")
    digest_run["time"] = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    account.put_event(digest_run)
    account.run()
    assert any("new findings: CRITICAL 1" in n["subject"] for n in account.report()["notifications"])
    # RebuildOnFixAvailable: a later finding with a fix asks for a rebuild (PutEvents on the requests
    # bus); the image runs an older commit than the head, whose inputs have no image: the starter builds.
    with_fix["id"] = "finding-with-a-fix"
    with_fix["detail"]["findingArn"] += "-with-a-fix"
    account.put_event(with_fix)
    account.run()
    assert [i.event["detail"]["trigger"] for i in account.invocations if i.function.logical_id ==
            "BuildTriggerFunction" and i.label == "Build Requested"][-1] == "finding"


def _exercise_rollout(account, tmp_path) -> None:
    """A stack with Rollout on: every service's revision rolled out to its stand-in ECS service;
    one deployment fails and ECS rolls it back; one service does not exist; a deployment shipline
    did not start (it reads the rollbacks people asked for); and langfuse's scheduled tasks (a rule
    and a schedule the manifest names) retargeted to its new revision."""
    from tests.support.paths import MANIFEST

    rule, schedule = "multi-agent-orchestrator-dev-langfuse-report", "multi-agent-orchestrator-dev-langfuse-cleanup"
    manifest = tmp_path / "services.toml"
    manifest.write_text(MANIFEST.read_text() + f'\n[services.langfuse.environments.dev]\nschedule_rules = ["{rule}"]\n'
                                               f'schedules = ["{schedule}"]\n')
    account.stack.functions["RolloutFunction"].environment["SHIPLINE_MANIFEST"] = str(manifest)
    first = "arn:aws:ecs:us-east-1:123456789012:task-definition/multi-agent-orchestrator-dev-langfuse:1"
    target = {"Arn": "arn:aws:ecs:us-east-1:123456789012:cluster/multi-agent-orchestrator-dev",
              "RoleArn": "arn:aws:iam::123456789012:role/multi-agent-orchestrator-dev-scheduled-tasks",
              "EcsParameters": {"TaskDefinitionArn": first}}
    account.client("events").put_rule(Name=rule, ScheduleExpression="rate(1 day)")
    account.client("events").put_targets(Rule=rule, Targets=[{"Id": "report", **target}])
    account.client("scheduler").create_schedule(Name=schedule, ScheduleExpression="rate(1 day)",
                                                FlexibleTimeWindow={"Mode": "OFF"}, Target=target)
    account.client("ecs").delete_service(cluster="multi-agent-orchestrator-dev",
                                         service="multi-agent-orchestrator-dev-snowflake-cortex", force=True)
    account.emulation.deployments.failing.add("multi-agent-orchestrator-dev-langgraph")
    account.put_event(load_event("codecommit-push"))
    account.run()
    report = account.report()
    assert {d["service"]: d["rolledBack"] for d in report["deployments"]} == {
        "aws-agent-core": False, "langgraph": True, "langfuse": False}
    account.put_event(load_event("ecs-deployment-completed"))
    account.run()
    # A request UpdateService refuses (a revision that does not exist): its effect's record is
    # deleted, it comes back later, and after RolloutAttempts receives it is dead-lettered.
    family = "multi-agent-orchestrator-dev-langfuse"
    account.client("sqs").send_message(QueueUrl=account.stack.refs["RolloutQueue"], MessageBody=json.dumps({
        "service": "langfuse", "family": family, "revision": 99,
        "revisionArn": f"arn:aws:ecs:us-east-1:123456789012:task-definition/{family}:99"}))
    account.run()
    assert any("RolloutFunction" in e and "dead-lettered" in e for e in account.errors), account.errors
    assert account.client("scheduler").get_schedule(Name=schedule)["Target"]["EcsParameters"][
        "TaskDefinitionArn"].endswith("-langfuse:2")


@pytest.fixture(scope="module")
def exercised(tmp_path_factory):
    """Drive every function down every path that touches AWS, recording each call with what it
    implies (whether the registry it reads uses enhanced scanning)."""
    from pipeline.settings import environment
    from shipline.local.account import LocalAccount

    recorded: dict[str, dict[str, list[tuple[str, str, dict, Facts]]]] = defaultdict(lambda: defaultdict(list))
    original = boto3.session.Session.client
    current: list[tuple[str, LocalAccount]] = []

    def client(self, *args, **kwargs):
        made = original(self, *args, **kwargs)
        service = made.meta.service_model.service_name

        def record(params, model, **_):
            function = environment().get("AWS_LAMBDA_FUNCTION_NAME")
            if function and current:
                scenario, account = current[-1]
                repository = params.get("repositoryName", "") if service == "ecr" else ""
                facts = Facts(topic_keys={account.stack.refs["NotificationTopic"]:
                                          account.model.resolve.values["NotificationKey.Arn"]},
                              enhanced_scanning=bool(repository) and account.emulation.ecr.enhanced_for(repository))
                recorded[scenario][function].append((service, model.name, copy.deepcopy(params), facts))

        made.meta.events.register("provide-client-params.*.*", record)
        return made

    boto3.session.Session.client = client  # type: ignore[method-assign]
    # A build start or delivery that keeps failing comes back after a second, then goes to the
    # dead-letter queue.
    quick = {"BuildStartRetrySeconds": "1", "BuildStartAttempts": "2", "RevisionsToKeep": "1",
             "DeleteInactiveAfterDays": "1", "RebuildOnFixAvailable": "true"}
    policies: dict[str, dict[str, list[dict]]] = {}
    names: dict[str, dict[str, str]] = {}
    try:
        with LocalAccount(findings={"langgraph": {"HIGH": 1}}, parameters=quick) as account:
            current.append(("CodeCommit", account))
            _name_scheduled_tasks(account, tmp_path_factory.mktemp("scheduled"))
            _exercise_enhanced(account)  # first, while the build project and topic still exist
            account.client("ecr").put_registry_scanning_configuration(scanType="BASIC", rules=[])
            _exercise_basic(account)
            assert not [e for e in account.errors if "did not settle" in e], account.errors
            policies["CodeCommit"] = account.function_policies()
            BUS_ADMISSIONS["CodeCommit"] = _bus_admissions(account)
            names["CodeCommit"] = {f.name: logical for logical, f in account.stack.functions.items()}
        with LocalAccount(parameters={**GITHUB, **quick}, github_token=GITHUB_TOKEN) as account:
            current.append(("GitHub", account))
            _exercise_github(account)
            assert not [e for e in account.errors if "did not settle" in e], account.errors
            policies["GitHub"] = account.function_policies()
            BUS_ADMISSIONS["GitHub"] = _bus_admissions(account)
            STARTS_QUEUES["GitHub"] = account.model.resolve.values["BuildStartsQueue.Arn"]
            names["GitHub"] = {f.name: logical for logical, f in account.stack.functions.items()}
        with LocalAccount(parameters={**quick, "Rollout": "rolling", "RolloutAttempts": "2"}) as account:
            current.append(("Rollout", account))
            _exercise_rollout(account, tmp_path_factory.mktemp("rollout"))
            assert not [e for e in account.errors if "did not settle" in e], account.errors
            policies["Rollout"] = account.function_policies()
            BUS_ADMISSIONS["Rollout"] = _bus_admissions(account)
            names["Rollout"] = {f.name: logical for logical, f in account.stack.functions.items()}
    finally:
        boto3.session.Session.client = original  # type: ignore[method-assign]
    calls = {scenario: {names[scenario][name]: [need for call in made for need in needs(*call)]
                        for name, made in by_function.items()}
             for scenario, by_function in recorded.items()}
    yield policies, calls


def _bus_admissions(account) -> tuple[str, list[str], dict[str, str]]:
    bus = account.stack.refs["BuildRequestsBus"]
    (statement,) = account.stack.bus_policies[bus]["Statement"]
    assert statement["Effect"] == "Deny" and statement["Action"] == "events:PutEvents"
    admitted = statement.get("Condition", {}).get("ArnNotEquals", {}).get("aws:PrincipalArn", [])
    roles = {logical: account.model.resolve.values.get(f"{logical}Role.Arn", "") for logical in account.stack.functions}
    return account.model.resolve.values["BuildRequestsBus.Arn"], admitted, roles


# The CodeCommit exercise puts a request (RebuildOnFixAvailable); the GitHub and Rollout ones put none:
# a GitHub push's build starts are queued by the webhook (the next test).
@pytest.mark.parametrize("scenario", ["CodeCommit"])
def test_every_function_that_puts_on_the_requests_bus_is_admitted_by_its_policy(exercised, scenario):
    """The requests bus's policy denies every principal it does not name: a function whose own
    policy grants events:PutEvents there would still be refused by AWS unless the bus admits its role."""
    _, calls = exercised
    bus, admitted, roles = BUS_ADMISSIONS[scenario]
    putting = {function for function, needs_ in calls[scenario].items()
               if any(n.action == "events:PutEvents" and n.resource == bus for n in needs_)}
    assert putting  # the image events function (RebuildOnFixAvailable)
    assert {f: roles[f] in admitted for f in putting} == dict.fromkeys(putting, True)


def test_a_github_push_reaches_the_build_starts_queue_from_the_webhook_without_the_bus(exercised):
    _, calls = exercised
    bus = BUS_ADMISSIONS["GitHub"][0]
    queued = {n.resource for n in calls["GitHub"]["GitHubWebhookFunction"] if n.action == "sqs:SendMessage"}
    assert queued == {STARTS_QUEUES["GitHub"]}
    assert not [f for f, needs_ in calls["GitHub"].items()
                if any(n.action == "events:PutEvents" and n.resource == bus for n in needs_)]


def test_every_function_of_each_stack_was_exercised_and_each_is_checked_in_one(exercised):
    policies, calls = exercised
    for scenario in SCENARIOS:
        assert set(calls[scenario]) == set(policies[scenario]), scenario
    assert {f for _, f in CHECKED} == set(policies["CodeCommit"]) | set(policies["GitHub"]) | set(policies["Rollout"])
    assert "RolloutFunction" not in set(policies["CodeCommit"]) | set(policies["GitHub"])  # Rollout=none: none
    assert "GitHubWebhookFunction" not in set(policies["CodeCommit"])


@pytest.mark.parametrize(("scenario", "function"), CHECKED)
def test_policy_grants_exactly_what_the_code_calls(exercised, scenario, function):
    policies, calls = exercised
    assert coverage_problems(function, policies[scenario][function], calls[scenario][function]) == []


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_call_in_either_stack_is_granted(exercised, scenario):
    policies, calls = exercised
    for function, statements in policies[scenario].items():
        problems = coverage_problems(function, statements, calls[scenario][function])
        assert [p for p in problems if "does not grant" in p] == []


# Build avoidance reads a commit's inputs from CodeCommit (GetFolder, GetFile) or, under GitHub,
# from its API with the token the stack names: the build starter's statements for each are
# granted under that provider only.
CODECOMMIT_ONLY = {"BuildStarterFunction": {"ReadBuildInputs"}}
# A start of a branch (planned only in a GitHub stack) keeps a Powertools record; a commit's is
# recorded on its ledger item.
GITHUB_ONLY = {"BuildStarterFunction": {"ReadGitHubToken", "Idempotency"}}


def test_a_function_checked_in_one_stack_has_the_same_policy_in_the_other(exercised):
    policies, _ = exercised
    for function in set(policies["CodeCommit"]) & set(policies["GitHub"]):
        if ("CodeCommit", function) in CHECKED and ("GitHub", function) in CHECKED:
            continue
        only, github_only = CODECOMMIT_ONLY.get(function, set()), GITHUB_ONLY.get(function, set())
        codecommit = [s for s in policies["CodeCommit"][function] if s.get("Sid") not in only]
        github = [s for s in policies["GitHub"][function] if s.get("Sid") not in github_only]
        assert _same_keys(codecommit) == _same_keys(github), function
        assert not {s.get("Sid") for s in policies["GitHub"][function]} & only, function
        assert not {s.get("Sid") for s in policies["CodeCommit"][function]} & github_only, function


def test_a_github_stack_reads_its_token_secret_and_only_it(exercised):
    """GitHubTokenSecretArn set: the build starter (a commit's inputs) and the build trigger (the
    branch's head) read that one secret, and their grants name it alone."""
    policies, calls = exercised
    for function in ("BuildStarterFunction", "BuildTriggerFunction"):
        reads = [n for n in calls["GitHub"][function] if n.action == "secretsmanager:GetSecretValue"]
        (statement,) = [s for s in policies["GitHub"][function] if s.get("Sid") == "ReadGitHubToken"]
        assert reads and {n.resource for n in reads} == {statement["Resource"]}, function
        assert ":secret:shipline-local/github-token-" in statement["Resource"]
        assert not [s for s in policies["CodeCommit"][function] if s.get("Sid") == "ReadGitHubToken"]


def test_only_a_github_stacks_build_starter_keeps_idempotency_records_and_uses_each_grant(exercised):
    """A start of a commit is recorded on the commit's ledger item; a start of a branch (a GitHub
    stack's schedule when GitHub's API does not name the head) keeps a Powertools record, whose
    claim, completion and (the start failing) deletion the GitHub stack's starter makes."""
    policies, calls = exercised
    (statement,) = [s for s in policies["GitHub"]["BuildStarterFunction"] if s.get("Sid") == "Idempotency"]
    made = [n for n in calls["GitHub"]["BuildStarterFunction"] if n.resource == statement["Resource"]]
    assert {n.action for n in made} == {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
    assert coverage_problems("BuildStarterFunction", [statement], made) == []
    assert not [s for s in policies["CodeCommit"]["BuildStarterFunction"] if s.get("Sid") == "Idempotency"]
    idempotency = statement["Resource"].rsplit("/", 1)[-1]
    assert not [n for n in calls["CodeCommit"]["BuildStarterFunction"] if n.resource.endswith("/" + idempotency)]


def _same_keys(statements: list[dict]) -> str:
    """The statements, with each stack's own KMS key id (KMS makes a new one per account) left out."""
    return re.sub(r":key/[0-9a-f-]{36}", ":key/<id>", json.dumps(statements, sort_keys=True))


def test_the_rollout_stack_queues_rollouts_and_updates_only_the_projects_services(exercised):
    policies, calls = exercised
    queue = [n for n in calls["Rollout"]["ImageEventsFunction"] if n.action == "sqs:SendMessage"]
    assert queue and all(":sqs:" in n.resource for n in queue)
    updates = [n for n in calls["Rollout"]["RolloutFunction"] if n.action == "ecs:UpdateService"]
    assert updates and not [n for n in updates if n.resource.endswith("-snowflake-cortex")]  # missing: never updated
    (statement,) = [s for s in policies["Rollout"]["RolloutFunction"] if s.get("Sid") == "RollOut"]
    assert statement["Resource"] == ("arn:aws:ecs:us-east-1:123456789012:service/*/multi-agent-orchestrator-dev-*")
    foreign = Need("ecs:UpdateService", "arn:aws:ecs:us-east-1:123456789012:service/c/someone-else", "test")
    assert coverage_problems("RolloutFunction", [statement], [foreign])[0].startswith(
        "RolloutFunction: test needs ecs:UpdateService")


def test_retention_reads_what_uses_a_revision_and_only_the_projects(exercised):
    """With Rollout none: before deregistering, the image events function reads the ECS service
    and the scheduled tasks services.toml names, on names <project>-<environment>-* only."""
    policies, calls = exercised
    made = {n.action: n.resource for n in calls["CodeCommit"]["ImageEventsFunction"]}
    assert made["ecs:DescribeServices"] == ("arn:aws:ecs:us-east-1:123456789012:service/multi-agent-orchestrator-dev/"
                                            "multi-agent-orchestrator-dev-aws-agent-core")
    assert made["events:ListTargetsByRule"].endswith(":rule/multi-agent-orchestrator-dev-aws-agent-core-report")
    assert made["scheduler:GetSchedule"].endswith(":schedule/default/multi-agent-orchestrator-dev-aws-agent-core-sweep")
    statements = [s for s in policies["CodeCommit"]["ImageEventsFunction"]
                  if s.get("Sid") in ("ReadServicesInUse", "ReadScheduledRulesInUse", "ReadSchedulesInUse")]
    assert len(statements) == 3
    for foreign in (Need("ecs:DescribeServices", "arn:aws:ecs:us-east-1:123456789012:service/c/someone-else", "test"),
                    Need("events:ListTargetsByRule", "arn:aws:events:us-east-1:123456789012:rule/someone-else", "test"),
                    Need("scheduler:GetSchedule",
                         "arn:aws:scheduler:us-east-1:123456789012:schedule/default/someone-else", "test")):
        problems = coverage_problems("ImageEventsFunction", statements, [foreign])
        assert [p for p in problems if "does not grant" in p] == [
            f"ImageEventsFunction: test needs {foreign.action} on {foreign.resource}, which its policy does not grant"]


def test_removing_one_needed_action_is_caught(exercised):
    policies, calls = exercised
    statements = copy.deepcopy(policies["CodeCommit"]["ImageEventsFunction"])
    for statement in statements:
        if statement.get("Sid") == "ReadImages":
            statement["Action"] = ["ecr:DescribeImages"]  # drop ecr:DescribeImageScanFindings
    problems = coverage_problems("ImageEventsFunction", statements, calls["CodeCommit"]["ImageEventsFunction"])
    assert len(problems) == 1 and "needs ecr:DescribeImageScanFindings" in problems[0]


def test_granting_an_unused_action_is_caught(exercised):
    policies, calls = exercised
    statements = copy.deepcopy(policies["CodeCommit"]["BuildEventsFunction"])
    statements.append({"Effect": "Allow", "Action": "sns:DeleteTopic", "Resource": "*"})
    problems = coverage_problems("BuildEventsFunction", statements, calls["CodeCommit"]["BuildEventsFunction"])
    assert problems == ["BuildEventsFunction: its policy grants sns:DeleteTopic on *, which no code path uses"]


def test_needs_names_the_implied_permissions():
    found = needs("ecs", "RegisterTaskDefinition", {"family": "f", "tags": [{"key": "k", "value": "v"}],
                                                     "executionRoleArn": "arn:aws:iam::1:role/r"}, Facts())
    assert {n.action for n in found} == {"ecs:RegisterTaskDefinition", "ecs:TagResource", "iam:PassRole"}
    assert Need("iam:PassRole", "arn:aws:iam::1:role/r", "ecs:RegisterTaskDefinition with executionRoleArn") in found


def test_findings_of_an_enhanced_registry_need_inspector(exercised):
    """On a registry with enhanced scanning, DescribeImageScanFindings reads Amazon Inspector's
    findings: the policy must grant inspector2:ListFindings, and the coverage check sees it."""
    policies, calls = exercised
    assert Need("inspector2:ListFindings", "*", "ecr:DescribeImageScanFindings on an enhanced-scanning registry") \
        in calls["CodeCommit"]["ImageEventsFunction"]
    statements = [s for s in copy.deepcopy(policies["CodeCommit"]["ImageEventsFunction"])
                  if s.get("Sid") != "ReadInspectorFindings"]
    problems = coverage_problems("ImageEventsFunction", statements, calls["CodeCommit"]["ImageEventsFunction"])
    assert problems == ["ImageEventsFunction: ecr:DescribeImageScanFindings on an enhanced-scanning registry needs "
                        "inspector2:ListFindings on *, which its policy does not grant"]
