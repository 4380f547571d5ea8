"""The build trigger function against moto, with the environment template.yaml gives it."""

import boto3
import pytest

from tests.integration.conftest import AFTER
from tests.support.events import load_event
from tests.support.stacks import GITHUB

SERVICES = ["aws-agent-core", "langgraph", "snowflake-cortex", "langfuse"]


@pytest.fixture
def trigger(pipeline):
    """The planner, then the starter on every build start it queued."""
    return pipeline


def _started(calls) -> list[dict]:
    return calls.of("codebuild", "StartBuild")


def _overrides(params: dict) -> dict:
    return {v["name"]: v["value"] for v in params["environmentVariablesOverride"]}


def test_codecommit_push_touching_langgraph_starts_exactly_one_build(trigger, calls):
    result = trigger(load_event("codecommit-push"))
    (build,) = _started(calls)
    assert list(result["builds"]) == ["langgraph"]
    assert build["projectName"] == "multi-agent-orchestrator-dev-images"
    assert build["sourceVersion"] == AFTER
    assert _overrides(build) == {
        "SERVICE": "langgraph",
        "DOCKERFILE": "docker/langgraph/Dockerfile",
        "BUILD_CONTEXT": ".",
        "REPOSITORY_URI": "123456789012.dkr.ecr.us-east-1.amazonaws.com/multi-agent-orchestrator-dev-langgraph",
        "IMAGE_TAGS": f"{AFTER[:7]} latest",
        "TRIGGER": "codecommit",
    }


def test_new_branch_builds_every_service(trigger, calls):
    trigger(load_event("codecommit-branch-created"))
    assert [_overrides(b)["SERVICE"] for b in _started(calls)] == SERVICES


def test_a_push_whose_old_commit_is_gits_null_id_builds_every_service_as_a_new_branch(trigger, calls):
    """Forty zeros name no commit: there is nothing to diff against (GetDifferences would fail
    with CommitDoesNotExistException on every retry), so it is planned as a new branch."""
    event = load_event("codecommit-push")
    event["detail"]["oldCommitId"] = "0" * 40
    trigger(event)
    assert calls.of("codecommit", "GetDifferences") == []
    assert [_overrides(b)["SERVICE"] for b in _started(calls)] == SERVICES


def test_repository_is_created_with_the_guide_settings(trigger):
    trigger(load_event("codecommit-push"))
    ecr = boto3.client("ecr")
    (repo,) = ecr.describe_repositories()["repositories"]
    assert repo["repositoryName"] == "multi-agent-orchestrator-dev-langgraph"
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo["encryptionConfiguration"]["encryptionType"] == "AES256"
    assert repo["imageTagMutability"] == "MUTABLE"
    tags = {t["Key"]: t["Value"] for t in ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"]}
    assert tags == {"shipline:project": "multi-agent-orchestrator", "shipline:environment": "dev",
                    "shipline:service": "langgraph"}
    assert ecr.get_lifecycle_policy(repositoryName=repo["repositoryName"])["lifecyclePolicyText"]


def test_repository_setup_twice_makes_no_second_change(trigger, calls):
    from pipeline.flows import repositories
    from pipeline.flows.repositories import ensure_repositories
    from pipeline.settings import get_settings

    first = ensure_repositories(get_settings(), SERVICES)
    repositories.reset()  # another function instance: it checks each repository again
    calls.made.clear()
    second = ensure_repositories(get_settings(), SERVICES)
    assert {o.action for o in first} == {"created"}
    assert {o.action for o in second} == {"unchanged"}
    writes = [op for op in calls.operations() if not op.split(":")[1].startswith(("Describe", "Get", "List"))]
    assert writes == []


def test_a_warm_instance_does_not_ask_ecr_again_for_a_repository_it_ensured(trigger, calls):
    from pipeline.flows.repositories import ensure_repositories
    from pipeline.settings import get_settings

    ensure_repositories(get_settings(), ["langgraph"])
    calls.made.clear()
    (again,) = ensure_repositories(get_settings(), ["langgraph"])
    assert again.action == "ensured recently"
    assert [op for op in calls.operations() if op.startswith("ecr:")] == []


def test_a_warm_instance_checks_again_once_its_memory_is_old(trigger, calls, monkeypatch):
    from pipeline.flows import repositories
    from pipeline.flows.repositories import ENSURED_FOR_SECONDS, ensure_repositories
    from pipeline.settings import get_settings

    clock = [1000.0]
    monkeypatch.setattr(repositories.time, "monotonic", lambda: clock[0])
    ensure_repositories(get_settings(), ["langgraph"])
    boto3.client("ecr").delete_lifecycle_policy(repositoryName="multi-agent-orchestrator-dev-langgraph")
    clock[0] += ENSURED_FOR_SECONDS - 1
    assert ensure_repositories(get_settings(), ["langgraph"])[0].action == "ensured recently"
    clock[0] += 1
    (outcome,) = ensure_repositories(get_settings(), ["langgraph"])
    assert outcome.action == "corrected" and outcome.corrections == ("lifecycle_policy",)


def test_drift_in_scan_on_push_and_lifecycle_is_corrected(trigger, calls):
    from pipeline.flows.repositories import ensure_repositories
    from pipeline.settings import get_settings

    ensure_repositories(get_settings(), ["langgraph"])
    ecr = boto3.client("ecr")
    name = "multi-agent-orchestrator-dev-langgraph"
    ecr.put_image_scanning_configuration(repositoryName=name, imageScanningConfiguration={"scanOnPush": False})
    ecr.delete_lifecycle_policy(repositoryName=name)
    from pipeline.flows import repositories

    repositories.reset()  # the next build start in a new function instance
    (outcome,) = ensure_repositories(get_settings(), ["langgraph"])
    assert outcome.action == "corrected"
    assert outcome.corrections == ("scan_on_push", "lifecycle_policy")
    repo = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}


def test_existing_repository_encryption_is_left_alone(trigger):
    ecr = boto3.client("ecr")
    ecr.create_repository(repositoryName="multi-agent-orchestrator-dev-langgraph",
                          imageTagMutability="IMMUTABLE", imageScanningConfiguration={"scanOnPush": True})
    trigger(load_event("codecommit-push"))
    repo = ecr.describe_repositories()["repositories"][0]
    assert repo["imageTagMutability"] == "IMMUTABLE"


def test_replayed_event_starts_no_second_build(trigger, calls):
    event = load_event("codecommit-push")
    first = trigger(event)
    second = trigger(event)
    assert len(_started(calls)) == 1
    assert first["builds"] and second["outcome"] == "duplicate event" and second["builds"] == {}


def test_build_requested_for_one_service_starts_that_build(trigger, calls):
    trigger(load_event("build-requested"))
    (build,) = _started(calls)
    assert _overrides(build)["SERVICE"] == "langgraph" and _overrides(build)["TRIGGER"] == "request"


def test_build_requested_for_a_service_missing_from_the_manifest_starts_nothing(trigger, calls):
    event = load_event("build-requested")
    event["detail"]["services"] = ["langgraph", "billing"]
    result = trigger(event)
    assert result["outcome"] == "rejected" and "'billing' is not in the manifest" in result["reason"]
    assert calls.of("codebuild", "StartBuild") == [] and calls.of("ecr", "CreateRepository") == []


def test_build_requested_for_another_environment_is_ignored(trigger, calls):
    event = load_event("build-requested")
    event["detail"]["environment"] = "prod"
    assert trigger(event)["outcome"] == "ignored"
    assert _started(calls) == []


def test_schedule_rebuilds_every_service_from_the_branch_head(trigger, calls):
    trigger(load_event("schedule-nightly"))
    builds = _started(calls)
    assert [_overrides(b)["SERVICE"] for b in builds] == SERVICES
    assert {b["sourceVersion"] for b in builds} == {AFTER}


def test_next_nights_schedule_rebuilds_the_same_commit_when_its_inputs_cannot_be_read(trigger, calls):
    # The sample history holds no files: the build inputs are unknown, so each night builds (as
    # before build avoidance); test_build_avoidance.py has the nights whose inputs are known.
    monday = load_event("schedule-nightly")
    tuesday = load_event("schedule-nightly")
    tuesday["id"] = "another-night"
    trigger(monday)
    trigger(tuesday)
    assert len(_started(calls)) == 2 * len(SERVICES)


def test_event_missing_a_field_is_rejected_with_one_message(trigger, calls):
    event = load_event("codecommit-push")
    del event["detail"]["commitId"]
    result = trigger(event)
    assert result["outcome"] == "rejected"
    assert "commitId" in result["reason"] and "Field required" in result["reason"]
    assert calls.made == []


def test_one_build_failing_to_start_does_not_stop_the_others(trigger, calls, faults, stack):
    # CodeBuild refuses the langgraph build (its queue full), which botocore does not retry.
    faults.inject("codebuild", "StartBuild", "account-limit", times=1, containing='"value": "langgraph"')
    first = trigger(load_event("schedule-nightly"))
    assert sorted(first["started"]) == ["aws-agent-core", "langfuse", "snowflake-cortex"]
    # The start waits (the starter delayed its message, growing with each receive); when the
    # delay has passed, only that one starts.
    sqs = boto3.client("sqs")
    url = stack.refs["BuildStartsQueue"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    assert attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1"
    (delayed,) = calls.of("sqs", "ChangeMessageVisibility")
    assert delayed["VisibilityTimeout"] == 60  # BuildStartRetrySeconds, the first time
    # The delay has passed (moto keeps time by the wall clock): the message is visible again.
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=delayed["ReceiptHandle"], VisibilityTimeout=0)
    calls.made.clear()
    from pipeline.handlers import build_starter

    stack.use_function("BuildStarterFunction", trigger.monkeypatch)
    trigger.drain(build_starter.handler)
    assert [_overrides(b)["SERVICE"] for b in _started(calls)] == ["langgraph"]


def test_replayed_push_does_not_write_started_over_the_builds_later_status(trigger, stack, monkeypatch,
                                                                          lambda_context):
    """The build's start and its end are one ledger item: StartBuild's ARN is the `build-id` of the
    build's state-change event, and a replayed push writes nothing over the end."""
    from pipeline.adapters import ledger
    from pipeline.handlers import build_events
    from pipeline.settings import get_settings

    build_arn = trigger(load_event("codecommit-push"))["builds"]["langgraph"]
    assert build_arn.startswith("arn:aws:codebuild:us-east-1:123456789012:build/multi-agent-orchestrator-dev-images:")
    ended = load_event("codebuild-build-succeeded")
    ended["detail"]["build-id"] = build_arn
    stack.use_function("BuildEventsFunction", monkeypatch)
    build_events.handler(ended, lambda_context)
    stack.use_function("BuildTriggerFunction", monkeypatch)
    trigger(load_event("codecommit-push"))
    settings = get_settings()
    builds = ledger.history(stack.refs["LedgerTable"], settings.ledger_key("langgraph")).builds
    assert [(b.build_id, b.status) for b in builds] == [(build_arn, "SUCCEEDED")]


def test_a_trigger_of_a_stack_whose_project_name_is_not_the_manifests_fails_and_plans_nothing(stack, calls,
                                                                                               monkeypatch,
                                                                                               lambda_context):
    from pipeline.handlers import build_trigger
    from pipeline.settings import ConfigurationError

    stack.use_function("BuildTriggerFunction", monkeypatch, PROJECT_NAME="billing")
    with pytest.raises(ConfigurationError, match="PROJECT_NAME"):
        build_trigger.handler(load_event("schedule-nightly"), lambda_context)
    assert calls.of("sqs", "SendMessageBatch") == []


@pytest.mark.parametrize("stack_parameters", [GITHUB])
def test_a_github_stacks_schedule_builds_the_branch_and_records_each_build(trigger, calls, stack):
    """With GitHub as the source and its API not naming the branch head (here: the repository is
    not one GitHub's API stand-in holds, a 404), the planner plans the branch, CodeBuild resolves
    it. The starter records each build without a commit item (there is no commit yet), and nothing
    fails: a failed batch would hold its other starts for 300 s."""
    result = trigger(load_event("schedule-nightly"))
    builds = _started(calls)
    assert [_overrides(b)["SERVICE"] for b in builds] == SERVICES
    assert {b["sourceVersion"] for b in builds} == {"main"}
    assert sorted(result["started"]) == sorted(SERVICES)
    items = boto3.client("dynamodb").scan(TableName=stack.refs["LedgerTable"])["Items"]
    keys = {item["sk"]["S"].split("#", 1)[0] for item in items if "sk" in item}
    assert "build" in keys and "commit" not in keys


def test_an_event_with_an_empty_id_is_rejected_not_taken_for_a_duplicate_of_another(trigger, calls):
    """The event id keys the plan (one event, one plan): two events with id "" would be one, and
    the second would plan nothing. EventBridge always gives one; an event without it is damaged."""
    event = load_event("codecommit-push")
    event["id"] = ""
    result = trigger(event)
    assert result == {"outcome": "rejected",
                      "reason": "CodeCommit Repository State Change.id: String should have at least 1 character",
                      "builds": {}, "started": [], "alreadyBuilt": []}
    assert calls.made == []
