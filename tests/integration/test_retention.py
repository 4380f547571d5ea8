"""After a registration, on moto with the local account's ECR and ECS: the registered image
carries `live-<environment>`, and old task-definition revisions are deregistered."""

from datetime import UTC, datetime, timedelta

import boto3
import pytest

from pipeline.adapters import ledger
from pipeline.flows.retention import retire_revisions
from pipeline.settings import ImageEventsSettings, get_settings
from shipline.local.ecr import image_manifest, manifest_digest
from tests.integration.test_image_events import FAMILY, REPO, digest_of, images, push_event, push_image  # noqa: F401

LIVE = "live-dev"


def tags_of(digest: str) -> set[str]:
    (detail,) = boto3.client("ecr").describe_images(repositoryName=REPO, imageIds=[{"imageDigest": digest}])[
        "imageDetails"]
    return set(detail.get("imageTags", []))


def statuses() -> dict[int, str]:
    ecs = boto3.client("ecs")
    found = {}
    for status in ("ACTIVE", "INACTIVE", "DELETE_IN_PROGRESS"):
        for arn in ecs.list_task_definitions(familyPrefix=FAMILY, status=status)["taskDefinitionArns"]:
            found[int(arn.rsplit(":", 1)[1])] = status
    return found


def keep(monkeypatch, count: int) -> None:
    monkeypatch.setenv("REVISIONS_TO_KEEP", str(count))
    get_settings.cache_clear()


def register(images, push_image, n: int, *, seconds_ago: int) -> str:  # noqa: F811
    tag = f"{n:07x}"
    digest = push_image(tag, digest_of(f"image {n}"), seconds_ago=seconds_ago)
    assert images(push_event(tag, digest))["outcome"] == "registered"
    return digest


def test_the_registered_digest_carries_the_live_tag_and_it_moves_with_the_next(images, push_image):  # noqa: F811
    first = register(images, push_image, 1, seconds_ago=20)
    assert tags_of(first) == {"0000001", LIVE}
    second = register(images, push_image, 2, seconds_ago=10)
    assert tags_of(second) == {"0000002", LIVE}
    assert tags_of(first) == {"0000001"}  # the previous live image keeps its commit tag


def test_the_live_tags_own_push_event_registers_nothing(images, push_image):  # noqa: F811
    digest = register(images, push_image, 1, seconds_ago=10)
    assert images(push_event(LIVE, digest))["outcome"] == "ignored"


def test_a_rebuild_does_not_leave_the_live_digest_untagged(images, push_image):  # noqa: F811
    """The commit's first build is live; its rebuild pushes `<sha>-b2` and moves `latest`."""
    ecr = boto3.client("ecr")
    built = image_manifest(digest_of("config of the first build"))
    ecr.put_image(repositoryName=REPO, imageManifest=built, imageTag="3b6258b")
    ecr.put_image(repositoryName=REPO, imageManifest=built, imageTag="latest")
    first = manifest_digest(built)
    assert images(push_event("3b6258b", first))["outcome"] == "registered"
    rebuilt = image_manifest(digest_of("config of the rebuild"))
    ecr.put_image(repositoryName=REPO, imageManifest=rebuilt, imageTag="3b6258b-b2")
    ecr.put_image(repositoryName=REPO, imageManifest=rebuilt, imageTag="latest")
    second = manifest_digest(rebuilt)
    assert tags_of(first) == {"3b6258b", LIVE}  # `latest` moved; the live image keeps its tags
    assert images(push_event("3b6258b-b2", second))["outcome"] == "registered"
    assert tags_of(second) == {"3b6258b-b2", "latest", LIVE}
    assert tags_of(first) == {"3b6258b"}  # never untagged: it ages out by the count rule


def test_revisions_beyond_the_newest_n_are_deregistered(images, push_image, monkeypatch):  # noqa: F811
    keep(monkeypatch, 2)
    for n in range(1, 5):
        register(images, push_image, n, seconds_ago=50 - n)
    assert statuses() == {1: "INACTIVE", 2: "INACTIVE", 3: "ACTIVE", 4: "ACTIVE"}


def test_the_ledgers_current_revision_is_kept_beyond_the_newest_n(images, push_image, monkeypatch):  # noqa: F811
    register(images, push_image, 1, seconds_ago=10)
    ecs = boto3.client("ecs")
    definition = ecs.describe_task_definition(taskDefinition=f"{FAMILY}:1")["taskDefinition"]
    arguments = {k: definition[k] for k in ("family", "containerDefinitions", "cpu", "memory", "networkMode",
                                            "requiresCompatibilities", "executionRoleArn") if k in definition}
    for _ in range(4):  # registered elsewhere, after shipline's
        ecs.register_task_definition(**arguments)
    keep(monkeypatch, 2)
    settings = get_settings(ImageEventsSettings)
    assert ledger.read_current(settings.ledger_table, settings.ledger_key("langgraph")).revision == 1
    retention = retire_revisions(settings, "langgraph", registered=5)
    assert retention.deregistered == (2, 3)
    assert statuses() == {1: "ACTIVE", 2: "INACTIVE", 3: "INACTIVE", 4: "ACTIVE", 5: "ACTIVE"}


@pytest.mark.parametrize("kind", ["throttling", "server-error", "access-denied"])
def test_a_failed_deregistration_does_not_fail_the_registration(images, push_image, monkeypatch, faults, kind):  # noqa: F811
    keep(monkeypatch, 1)
    faults.inject("ecs", "DeregisterTaskDefinition", kind, times=-1)
    for n in range(1, 4):
        register(images, push_image, n, seconds_ago=50 - n)
    assert statuses() == {1: "ACTIVE", 2: "ACTIVE", 3: "ACTIVE"}
    faults.clear()
    register(images, push_image, 4, seconds_ago=10)  # the next registration catches up
    assert statuses() == {1: "INACTIVE", 2: "INACTIVE", 3: "INACTIVE", 4: "ACTIVE"}


def test_list_task_definitions_is_as_strict_as_ecs(images, push_image):  # noqa: F811
    """The local account pages and sorts as the ECS API Reference says (moto alone does neither)."""
    for n in range(1, 4):
        register(images, push_image, n, seconds_ago=50 - n)
    ecs = boto3.client("ecs")
    page = ecs.list_task_definitions(familyPrefix=FAMILY, sort="DESC", maxResults=2)
    assert [a.rsplit(":", 1)[1] for a in page["taskDefinitionArns"]] == ["3", "2"]
    rest = ecs.list_task_definitions(familyPrefix=FAMILY, sort="DESC", maxResults=2, nextToken=page["nextToken"])
    assert [a.rsplit(":", 1)[1] for a in rest["taskDefinitionArns"]] == ["1"] and "nextToken" not in rest
    assert ecs.list_task_definitions(familyPrefix=FAMILY[:-1])["taskDefinitionArns"] == []  # the full name
    with pytest.raises(ecs.exceptions.ClientError):
        ecs.list_task_definitions(maxResults=101)


def test_a_family_no_longer_than_revisions_to_keep_is_not_listed(images, push_image, monkeypatch, calls):  # noqa: F811
    """Revision numbers start at 1 and only grow: revision N of a family keeping N cannot have
    more than N ACTIVE revisions, so retention asks ECS nothing (and reads no ledger item)."""
    keep(monkeypatch, 2)
    register(images, push_image, 1, seconds_ago=20)
    register(images, push_image, 2, seconds_ago=10)
    assert calls.of("ecs", "ListTaskDefinitions") == [] and calls.of("dynamodb", "GetItem") == []
    register(images, push_image, 3, seconds_ago=0)
    assert len(calls.of("ecs", "ListTaskDefinitions")) == 1
    assert statuses() == {1: "INACTIVE", 2: "ACTIVE", 3: "ACTIVE"}


def delete_after(monkeypatch, days: int) -> None:
    monkeypatch.setenv("DELETE_INACTIVE_AFTER_DAYS", str(days))
    get_settings.cache_clear()


def age_retired(days: int) -> None:
    """As if retention had deregistered every revision it noted `days` days ago."""
    settings = get_settings(ImageEventsSettings)
    table, pk = settings.ledger_table, settings.ledger_key("langgraph")
    then = (datetime.now(UTC) - timedelta(days=days)).isoformat()
    ledger.revisions_retired(table, pk, dict.fromkeys(ledger.read_retired(table, pk), then))


def test_deletion_is_off_by_default_and_writes_nothing(images, push_image, monkeypatch, calls):  # noqa: F811
    keep(monkeypatch, 1)
    for n in range(1, 4):
        register(images, push_image, n, seconds_ago=50 - n)
    assert statuses() == {1: "INACTIVE", 2: "INACTIVE", 3: "ACTIVE"}
    assert calls.of("ecs", "DeleteTaskDefinitions") == []
    settings = get_settings(ImageEventsSettings)
    assert ledger.read_retired(settings.ledger_table, settings.ledger_key("langgraph")) == {}


def test_revisions_retired_longer_ago_than_the_grace_period_are_deleted(images, push_image, monkeypatch, calls):  # noqa: F811
    keep(monkeypatch, 1)
    delete_after(monkeypatch, 7)
    for n in range(1, 4):
        register(images, push_image, n, seconds_ago=50 - n)
    settings = get_settings(ImageEventsSettings)
    table, pk = settings.ledger_table, settings.ledger_key("langgraph")
    assert set(ledger.read_retired(table, pk)) == {1, 2}
    assert calls.of("ecs", "DeleteTaskDefinitions") == []  # within the grace period
    age_retired(8)
    register(images, push_image, 4, seconds_ago=10)  # deregisters 3, deletes 1 and 2
    (request,) = calls.of("ecs", "DeleteTaskDefinitions")
    assert request["taskDefinitions"] == [f"{FAMILY}:1", f"{FAMILY}:2"]
    assert statuses() == {1: "DELETE_IN_PROGRESS", 2: "DELETE_IN_PROGRESS", 3: "INACTIVE", 4: "ACTIVE"}
    assert set(ledger.read_retired(table, pk)) == {3}
    register(images, push_image, 5, seconds_ago=5)  # revision numbers go on past deleted ones
    assert max(statuses()) == 5


@pytest.mark.parametrize("kind", ["throttling", "server-error", "access-denied"])
def test_a_failed_deletion_does_not_fail_the_registration(images, push_image, monkeypatch, faults, kind):  # noqa: F811
    keep(monkeypatch, 1)
    delete_after(monkeypatch, 7)
    for n in range(1, 3):
        register(images, push_image, n, seconds_ago=50 - n)
    age_retired(8)
    faults.inject("ecs", "DeleteTaskDefinitions", kind, times=-1)
    register(images, push_image, 3, seconds_ago=20)
    assert statuses() == {1: "INACTIVE", 2: "INACTIVE", 3: "ACTIVE"}
    faults.clear()
    age_retired(8)
    register(images, push_image, 4, seconds_ago=10)  # the next registration deletes what is due
    assert statuses() == {1: "DELETE_IN_PROGRESS", 2: "DELETE_IN_PROGRESS", 3: "INACTIVE", 4: "ACTIVE"}


def test_delete_task_definitions_is_as_strict_as_ecs(images, push_image):  # noqa: F811
    """Only INACTIVE revisions, 1 to 10 a request (moto alone deletes at once and reuses numbers)."""
    register(images, push_image, 1, seconds_ago=20)
    ecs = boto3.client("ecs")
    refused = ecs.delete_task_definitions(taskDefinitions=[f"{FAMILY}:1"])
    assert refused["taskDefinitions"] == [] and "ACTIVE" in refused["failures"][0]["reason"]
    with pytest.raises(ecs.exceptions.ClientError, match="cannot exceed 10"):
        ecs.delete_task_definitions(taskDefinitions=[f"{FAMILY}:{n}" for n in range(1, 12)])
    ecs.deregister_task_definition(taskDefinition=f"{FAMILY}:1")
    (deleted,) = ecs.delete_task_definitions(taskDefinitions=[f"{FAMILY}:1"])["taskDefinitions"]
    assert deleted["status"] == "DELETE_IN_PROGRESS"
    assert ecs.describe_task_definition(taskDefinition=f"{FAMILY}:1")["taskDefinition"]["status"] == \
        "DELETE_IN_PROGRESS"


# ---------------------------------------------------------------------------- revisions in use
CLUSTER = "multi-agent-orchestrator-dev"
RULE, SCHEDULE = f"{FAMILY}-nightly-report", f"{FAMILY}-cleanup"
ROLE = "arn:aws:iam::123456789012:role/multi-agent-orchestrator-dev-scheduled-tasks"


def arn(revision: int | None) -> str:
    base = f"arn:aws:ecs:us-east-1:123456789012:task-definition/{FAMILY}"
    return f"{base}:{revision}" if revision else base


def scheduled_manifest(tmp_path, monkeypatch) -> None:
    """services.toml naming a rule and a schedule of langgraph in dev."""
    from tests.integration.test_image_events import use_manifest
    from tests.support.paths import MANIFEST

    use_manifest(tmp_path / "services.toml", MANIFEST.read_text() + f'\n[services.langgraph.environments.dev]\n'
                 f'schedule_rules = ["{RULE}"]\nschedules = ["{SCHEDULE}"]\n', monkeypatch)


def schedule_rule(*task_definitions: str) -> None:
    cluster = f"arn:aws:ecs:us-east-1:123456789012:cluster/{CLUSTER}"
    boto3.client("events").put_rule(Name=RULE, ScheduleExpression="cron(0 3 * * ? *)")
    boto3.client("events").put_targets(Rule=RULE, Targets=[
        {"Id": f"t{n}", "Arn": cluster, "RoleArn": ROLE, "EcsParameters": {"TaskDefinitionArn": t}}
        for n, t in enumerate(task_definitions)])


def schedule(task_definition: str) -> None:
    boto3.client("scheduler").create_schedule(
        Name=SCHEDULE, ScheduleExpression="rate(1 day)", FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": f"arn:aws:ecs:us-east-1:123456789012:cluster/{CLUSTER}", "RoleArn": ROLE,
                "EcsParameters": {"TaskDefinitionArn": task_definition}})


def test_a_service_running_an_old_revision_keeps_it_past_revisions_to_keep(images, push_image, emulation,  # noqa: F811
                                                                             monkeypatch, calls):
    """With Rollout none too: the service is the user's, and retention only reads it."""
    keep(monkeypatch, 1)
    register(images, push_image, 1, seconds_ago=50)
    emulation.deployments.stand_in(CLUSTER, FAMILY, arn(1))
    for n in range(2, 5):
        register(images, push_image, n, seconds_ago=50 - n)
    assert statuses() == {1: "ACTIVE", 2: "INACTIVE", 3: "INACTIVE", 4: "ACTIVE"}
    assert {c["services"][0] for c in calls.of("ecs", "DescribeServices")} == {FAMILY}
    assert calls.of("ecs", "UpdateService") == []


def test_a_deployment_in_progress_keeps_the_revision_it_deploys_and_the_one_a_rollback_returns_to(
        images, push_image, emulation, monkeypatch):  # noqa: F811
    for n in (1, 2):
        register(images, push_image, n, seconds_ago=50 - n)
    emulation.deployments.stand_in(CLUSTER, FAMILY, arn(1))
    boto3.client("ecs").update_service(cluster=CLUSTER, service=FAMILY, taskDefinition=arn(2))  # not yet done
    deployments = boto3.client("ecs").describe_services(cluster=CLUSTER, services=[FAMILY])["services"][0][
        "deployments"]
    assert sorted((d["status"], d["taskDefinition"]) for d in deployments) == [("ACTIVE", arn(1)),
                                                                                ("PRIMARY", arn(2))]
    keep(monkeypatch, 1)
    for n in (3, 4):
        register(images, push_image, n, seconds_ago=50 - n)
    assert statuses() == {1: "ACTIVE", 2: "ACTIVE", 3: "INACTIVE", 4: "ACTIVE"}


def test_a_task_set_of_an_external_or_code_deploy_service_keeps_its_revision(images, push_image,  # noqa: F811
                                                                               monkeypatch):
    """Services deployed by CodeDeploy or an external controller run task sets, not deployments."""
    register(images, push_image, 1, seconds_ago=50)
    ecs = boto3.client("ecs")
    ecs.create_cluster(clusterName=CLUSTER)
    ecs.create_service(cluster=CLUSTER, serviceName=FAMILY, desiredCount=1, deploymentController={"type": "EXTERNAL"})
    ecs.create_task_set(cluster=CLUSTER, service=FAMILY, taskDefinition=arn(1))
    keep(monkeypatch, 1)
    for n in (2, 3):
        register(images, push_image, n, seconds_ago=50 - n)
    assert statuses() == {1: "ACTIVE", 2: "INACTIVE", 3: "ACTIVE"}


def test_scheduled_tasks_keep_the_revisions_they_run(images, push_image, monkeypatch, tmp_path):  # noqa: F811
    """A rule's ECS targets (another family's and the family without a revision among them) and a
    schedule's: each revision of the family they name is kept."""
    scheduled_manifest(tmp_path, monkeypatch)
    for n in (1, 2):
        register(images, push_image, n, seconds_ago=50 - n)
    schedule_rule(arn(1), arn(None), "arn:aws:ecs:us-east-1:123456789012:task-definition/other:1")
    schedule(arn(2))
    keep(monkeypatch, 1)
    for n in (3, 4, 5):
        register(images, push_image, n, seconds_ago=50 - n)
    assert statuses() == {1: "ACTIVE", 2: "ACTIVE", 3: "INACTIVE", 4: "INACTIVE", 5: "ACTIVE"}


def test_the_ledgers_running_revision_is_kept(images, push_image, monkeypatch):  # noqa: F811
    from pipeline.domain.rollout import RunningRecord

    register(images, push_image, 1, seconds_ago=50)
    settings = get_settings(ImageEventsSettings)
    ledger.running_changed(settings.ledger_table, settings.ledger_key("langgraph"), RunningRecord(
        revision=1, deployment_id="ecs-svc/1", state="COMPLETED", at=ledger.now(), cluster=CLUSTER,
        service_name=FAMILY))
    keep(monkeypatch, 1)
    for n in (2, 3):
        register(images, push_image, n, seconds_ago=50 - n)
    assert statuses() == {1: "ACTIVE", 2: "INACTIVE", 3: "ACTIVE"}


def test_a_missing_service_and_missing_scheduled_tasks_use_nothing(images, push_image, monkeypatch, tmp_path,  # noqa: F811
                                                                   calls):
    """The cluster exists but not the service (DescribeServices: a failure MISSING), and neither
    the rule nor the schedule services.toml names (ResourceNotFoundException): retention goes on."""
    scheduled_manifest(tmp_path, monkeypatch)
    boto3.client("ecs").create_cluster(clusterName=CLUSTER)
    keep(monkeypatch, 1)
    for n in (1, 2, 3):
        register(images, push_image, n, seconds_ago=50 - n)
    assert statuses() == {1: "INACTIVE", 2: "INACTIVE", 3: "ACTIVE"}
    assert len(calls.of("events", "ListTargetsByRule")) == 2 and len(calls.of("scheduler", "GetSchedule")) == 2


def test_nothing_is_read_when_nothing_would_be_deregistered(images, push_image, monkeypatch, calls):  # noqa: F811
    """Beyond the newest N only the current revision (protected anyway): no service is asked."""
    register(images, push_image, 1, seconds_ago=10)
    ecs = boto3.client("ecs")
    definition = ecs.describe_task_definition(taskDefinition=f"{FAMILY}:1")["taskDefinition"]
    ecs.register_task_definition(**{k: definition[k] for k in ("family", "containerDefinitions", "cpu", "memory",
                                                                "networkMode", "requiresCompatibilities") if k in
                                    definition})  # registered elsewhere, after shipline's
    keep(monkeypatch, 1)
    calls.made.clear()
    assert retire_revisions(get_settings(ImageEventsSettings), "langgraph", registered=2).deregistered == ()
    assert calls.of("ecs", "ListTaskDefinitions") and not calls.of("ecs", "DescribeServices")
    assert not calls.of("dynamodb", "GetItem") or all(c["Key"]["sk"]["S"] == "current"
                                                      for c in calls.of("dynamodb", "GetItem"))


@pytest.mark.parametrize(("service", "operation"), [("ecs", "DescribeServices"), ("events", "ListTargetsByRule"),
                                                    ("scheduler", "GetSchedule"), ("dynamodb", "GetItem")])
@pytest.mark.parametrize("kind", ["throttling", "server-error", "access-denied"])
def test_a_failed_read_of_what_is_in_use_deregisters_nothing(images, push_image, emulation, monkeypatch, faults,  # noqa: F811
                                                             tmp_path, calls, service, operation, kind):
    """Every attempt fails (the client's retries too): the registration stands, nothing is
    deregistered, one warning; the next registration, the read answering again, catches up."""
    scheduled_manifest(tmp_path, monkeypatch)
    register(images, push_image, 1, seconds_ago=50)
    emulation.deployments.stand_in(CLUSTER, FAMILY, arn(1))
    schedule_rule(arn(1))
    schedule(arn(1))
    keep(monkeypatch, 1)
    faults.inject(service, operation, kind, times=-1, containing="running" if service == "dynamodb" else "")
    for n in (2, 3):
        register(images, push_image, n, seconds_ago=50 - n)
    assert statuses() == {1: "ACTIVE", 2: "ACTIVE", 3: "ACTIVE"}
    assert calls.of("ecs", "DeregisterTaskDefinition") == []
    faults.clear()
    register(images, push_image, 4, seconds_ago=10)
    assert statuses() == {1: "ACTIVE", 2: "INACTIVE", 3: "INACTIVE", 4: "ACTIVE"}


def test_a_failed_read_is_one_warning_and_retention_says_why(images, push_image, monkeypatch, faults,  # noqa: F811
                                                            caplog):
    register(images, push_image, 1, seconds_ago=20)
    register(images, push_image, 2, seconds_ago=10)
    keep(monkeypatch, 1)
    faults.inject("ecs", "DescribeServices", "access-denied", times=-1)
    caplog.clear()
    retention = retire_revisions(get_settings(ImageEventsSettings), "langgraph", registered=2)
    assert retention.skipped == "use not known" and retention.deregistered == ()
    assert statuses() == {1: "ACTIVE", 2: "ACTIVE"}
    (warning,) = [r for r in caplog.records if r.levelname == "WARNING"]
    assert "what uses the revisions could not be read" in warning.getMessage()
    assert "AccessDenied" in warning.error and warning.family == FAMILY  # type: ignore[attr-defined]


def test_a_retired_revision_a_service_still_runs_is_not_deleted(images, push_image, emulation,  # noqa: F811
                                                                 monkeypatch):
    """A revision an earlier retention deregistered while a service ran it (before retention read
    services) is due for deletion: while the service runs it, it stays INACTIVE (a stand-in
    service created on it here, which moto allows and ECS would not, plays that service)."""
    keep(monkeypatch, 1)
    delete_after(monkeypatch, 7)
    for n in (1, 2, 3):
        register(images, push_image, n, seconds_ago=50 - n)
    assert statuses() == {1: "INACTIVE", 2: "INACTIVE", 3: "ACTIVE"}
    emulation.deployments.stand_in(CLUSTER, FAMILY, arn(1))  # a service created on it earlier runs it still
    age_retired(8)
    register(images, push_image, 4, seconds_ago=10)
    assert statuses() == {1: "INACTIVE", 2: "DELETE_IN_PROGRESS", 3: "INACTIVE", 4: "ACTIVE"}
    settings = get_settings(ImageEventsSettings)
    assert set(ledger.read_retired(settings.ledger_table, settings.ledger_key("langgraph"))) == {1, 3}
