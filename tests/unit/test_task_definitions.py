"""Task-definition revisions: what the manifest declares comes from the manifest, everything
else is kept from the latest revision."""

import copy

import pytest

from pipeline.domain.manifest import ServiceSpec, parse_manifest
from pipeline.domain.naming import Target
from pipeline.domain.task_definitions import (
    DIGEST_LABEL,
    ENVIRONMENT_LABEL,
    PORT_LABEL,
    SECRETS_LABEL,
    SHA_LABEL,
    Image,
    NoContainerForRepositoryError,
    TaskSizeConflictError,
    image_digest_of,
    image_reference_of,
    render_task_definition,
    revise_task_definition,
)

TARGET = Target("p", "dev", "123456789012", "us-east-1")
URI = TARGET.repository_uri("langgraph")
OLD, NEW = "sha256:" + "1" * 64, "sha256:" + "2" * 64
ROLE = "arn:aws:iam::123456789012:role/p-dev-task-execution"
NEW_IMAGE = Image(URI, NEW, "bbbbbbb")
SIDECAR = {"name": "otel-collector", "image": "public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0",
           "essential": False}


def spec(**changes) -> ServiceSpec:
    """The langgraph service as a manifest declares it, with `changes` applied."""
    service = {"dockerfile": "docker/langgraph/Dockerfile", "paths": ["docker/langgraph/"], "port": 8001,
               "environment": {"LANGFUSE_HOST": "http://langfuse:3000"},
               "health_check": {"command": "curl -f http://127.0.0.1:8001/health"}, **changes}
    return parse_manifest({"project": {"name": "p"}, "services": {"langgraph": service}}).services["langgraph"]


def rendered(service: ServiceSpec | None = None, image: Image = NEW_IMAGE) -> dict:
    return render_task_definition(TARGET, service or spec(), image, execution_role_arn=ROLE)


def described(definition: dict) -> tuple[dict, list[dict]]:
    """What DescribeTaskDefinition(include=TAGS) returns for a registered definition: its
    read-only fields added, hostPort filled in (awsvpc), the tags beside it."""
    latest = copy.deepcopy({k: v for k, v in definition.items() if k != "tags"})
    latest.update(taskDefinitionArn="arn:aws:ecs:us-east-1:123456789012:task-definition/p-dev-langgraph:3",
                  revision=3, status="ACTIVE", registeredAt="2026-11-20", requiresAttributes=[{"name": "x"}],
                  compatibilities=["EC2", "FARGATE"])
    for container in latest["containerDefinitions"]:
        for mapping in container.get("portMappings", []):
            mapping.setdefault("hostPort", mapping["containerPort"])
    return latest, copy.deepcopy(definition.get("tags", []))


def registered(service: ServiceSpec | None = None) -> tuple[dict, list[dict]]:
    """The latest revision: the manifest's rendering of the old image, as ECS describes it."""
    return described(rendered(service, Image(URI, OLD, "aaaaaaa")))


def revise(latest: tuple[dict, list[dict]], service: ServiceSpec | None = None, **kwargs) -> dict:
    revised = revise_task_definition(latest[0], rendered(service, **kwargs), latest[1])
    assert revised is not None
    return revised


def container(definition: dict, name: str = "langgraph") -> dict:
    return next(c for c in definition["containerDefinitions"] if c["name"] == name)


def env(definition: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container(definition)["environment"]}


def secrets(definition: dict) -> dict[str, str]:
    return {s["name"]: s["valueFrom"] for s in container(definition).get("secrets", [])}


# The manifest's edits reach the next revision

def test_the_new_image_is_pinned_by_digest_with_its_labels():
    ours = container(revise(registered()))
    assert ours["image"] == f"{URI}@{NEW}"
    assert (ours["dockerLabels"][DIGEST_LABEL], ours["dockerLabels"][SHA_LABEL]) == (NEW, "bbbbbbb")


def test_a_cpu_and_memory_edit_reaches_the_next_revision():
    revised = revise(registered(), spec(cpu=1024, memory=2048))
    assert (revised["cpu"], revised["memory"]) == ("1024", "2048")


def test_an_environments_sizing_is_the_one_used():
    revised = revise(registered(), spec(environments={"dev": {"cpu": 2048, "memory": 4096}}))
    assert (revised["cpu"], revised["memory"]) == ("2048", "4096")


def test_a_changed_environment_value_reaches_the_next_revision():
    revised = revise(registered(), spec(environment={"LANGFUSE_HOST": "http://langfuse.internal:3000"}))
    assert env(revised)["LANGFUSE_HOST"] == "http://langfuse.internal:3000"


def test_a_new_environment_variable_reaches_the_next_revision():
    revised = revise(registered(), spec(environment={"LANGFUSE_HOST": "http://langfuse:3000", "LOG_LEVEL": "debug"}))
    assert env(revised) == {"AWS_REGION": "us-east-1", "LANGFUSE_HOST": "http://langfuse:3000", "LOG_LEVEL": "debug"}


def test_a_variable_the_manifest_drops_is_removed():
    revised = revise(registered(), spec(environment={}))
    assert env(revised) == {"AWS_REGION": "us-east-1"}


def test_a_new_secret_reaches_the_next_revision():
    revised = revise(registered(), spec(secrets=[{"name": "DB_PASSWORD", "id": "db:password"}]))
    assert secrets(revised) == {
        "DB_PASSWORD": "arn:aws:secretsmanager:us-east-1:123456789012:secret:p/dev/db:password::"}


def test_a_secret_the_manifest_drops_is_removed():
    latest = registered(spec(secrets=[{"name": "DB_PASSWORD", "id": "db:password"}]))
    assert secrets(revise(latest, spec())) == {}


def test_a_variable_the_manifest_turns_into_a_secret_is_only_a_secret():
    revised = revise(registered(), spec(environment={}, secrets=[{"name": "LANGFUSE_HOST", "id": "langfuse:host"}]))
    assert "LANGFUSE_HOST" not in env(revised) and "LANGFUSE_HOST" in secrets(revised)


def test_a_changed_port_moves_the_mapping_and_its_host_port():
    revised = revise(registered(), spec(port=8080))
    assert container(revised)["portMappings"] == [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}]
    assert container(revised)["dockerLabels"][PORT_LABEL] == "8080"


def test_a_changed_health_check_reaches_the_next_revision():
    revised = revise(registered(), spec(health_check={"command": "true", "interval": 10, "start_period": 60}))
    assert container(revised)["healthCheck"] == {
        "command": ["CMD-SHELL", "true"], "interval": 10, "timeout": 5, "retries": 3, "startPeriod": 60}


def test_the_task_runs_on_arm64():
    latest = registered()
    latest[0]["runtimePlatform"] = {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"}
    assert revise(latest)["runtimePlatform"] == {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"}


def test_shipline_tags_are_set_and_other_tags_kept():
    latest = registered()
    latest[1][:] = [{"key": "team", "value": "agents"}, {"key": "shipline:service", "value": "stale"}]
    assert revise(latest)["tags"] == [
        {"key": "team", "value": "agents"}, {"key": "shipline:service", "value": "langgraph"},
        {"key": "shipline:project", "value": "p"}, {"key": "shipline:environment", "value": "dev"}]


def test_a_smaller_task_than_the_kept_containers_reserve_is_refused_before_ecs_refuses_it():
    # ECS refuses containers reserving more memory than the task has (API Reference,
    # ContainerDefinition, memory): the merge says so instead of registering.
    latest = registered()
    latest[0]["containerDefinitions"][0]["memory"] = 768
    latest[0]["containerDefinitions"].append({**SIDECAR, "memoryReservation": 256})
    with pytest.raises(TaskSizeConflictError, match="reserve 1024 MiB of memory, more than the task's 512 MiB"):
        revise(latest, spec(cpu=256, memory=512))
    assert container(revise(latest, spec(cpu=256, memory=1024)))["memory"] == 768  # 1024 of 1024 fits


def test_more_container_cpu_than_a_fargate_task_has_is_refused():
    latest = registered()
    latest[0]["containerDefinitions"][0]["cpu"] = 512
    with pytest.raises(TaskSizeConflictError, match="reserve 512 cpu units, more than the task's 256"):
        revise(latest, spec(cpu=256, memory=512))


# Edits made elsewhere survive

def test_a_sidecar_container_survives():
    latest = registered()
    latest[0]["containerDefinitions"].append(copy.deepcopy(SIDECAR))
    assert container(revise(latest, spec(cpu=1024, memory=2048)), "otel-collector") == SIDECAR


def test_a_task_role_set_elsewhere_survives():
    latest = registered()
    latest[0]["taskRoleArn"] = "arn:aws:iam::123456789012:role/agents"
    assert revise(latest)["taskRoleArn"] == "arn:aws:iam::123456789012:role/agents"


def test_an_execution_role_set_elsewhere_survives():
    latest = registered()
    latest[0]["executionRoleArn"] = "arn:aws:iam::123456789012:role/wider"
    assert revise(latest)["executionRoleArn"] == "arn:aws:iam::123456789012:role/wider"


def test_a_missing_execution_role_becomes_the_stacks():
    latest = registered()
    del latest[0]["executionRoleArn"]
    assert revise(latest)["executionRoleArn"] == ROLE


def test_an_extra_environment_variable_survives_a_manifest_edit():
    latest = registered()
    container(latest[0])["environment"].append({"name": "FEATURE_FLAG", "value": "on"})
    revised = revise(latest, spec(environment={"LANGFUSE_HOST": "http://other:3000"}))
    assert env(revised)["FEATURE_FLAG"] == "on" and env(revised)["LANGFUSE_HOST"] == "http://other:3000"


def test_an_extra_secret_survives():
    latest = registered()
    container(latest[0])["secrets"] = [{"name": "API_KEY", "valueFrom": "arn:aws:ssm:us-east-1:1:parameter/k"}]
    assert secrets(revise(latest)) == {"API_KEY": "arn:aws:ssm:us-east-1:1:parameter/k"}


def test_mount_points_and_volumes_survive():
    latest = registered()
    latest[0]["volumes"] = [{"name": "scratch", "host": {}}]
    container(latest[0])["mountPoints"] = [{"sourceVolume": "scratch", "containerPath": "/tmp/work"}]
    revised = revise(latest)
    assert revised["volumes"] == [{"name": "scratch", "host": {}}]
    assert container(revised)["mountPoints"] == [{"sourceVolume": "scratch", "containerPath": "/tmp/work"}]


def test_container_settings_the_manifest_does_not_declare_survive():
    latest = registered()
    container(latest[0]).update(ulimits=[{"name": "nofile", "softLimit": 65536, "hardLimit": 65536}],
                                stopTimeout=60, essential=True)
    ours = container(revise(latest))
    assert ours["ulimits"] == [{"name": "nofile", "softLimit": 65536, "hardLimit": 65536}]
    assert ours["stopTimeout"] == 60


def test_a_port_mapping_added_elsewhere_survives_a_port_change():
    latest = registered()
    container(latest[0])["portMappings"].append({"containerPort": 9090, "hostPort": 9090, "protocol": "tcp"})
    assert container(revise(latest, spec(port=8080)))["portMappings"] == [
        {"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"},
        {"containerPort": 9090, "hostPort": 9090, "protocol": "tcp"}]


def test_a_service_connect_name_on_the_manifests_port_survives():
    latest = registered()
    container(latest[0])["portMappings"][0].update(name="http", appProtocol="http")
    (mapping,) = container(revise(latest))["portMappings"]
    assert (mapping["name"], mapping["appProtocol"], mapping["containerPort"]) == ("http", "http", 8001)


def test_extra_awslogs_options_survive():
    latest = registered()
    container(latest[0])["logConfiguration"]["options"]["mode"] = "non-blocking"
    options = container(revise(latest))["logConfiguration"]["options"]
    assert options["mode"] == "non-blocking" and options["awslogs-group"] == "/ecs/p-dev-langgraph"


def test_another_log_driver_is_replaced_by_the_manifests():
    latest = registered()
    container(latest[0])["logConfiguration"] = {"logDriver": "awsfirelens", "options": {"Name": "cloudwatch"}}
    assert container(revise(latest))["logConfiguration"] == container(rendered())["logConfiguration"]


def test_labels_set_elsewhere_survive():
    latest = registered()
    container(latest[0])["dockerLabels"]["team"] = "agents"
    assert container(revise(latest))["dockerLabels"]["team"] == "agents"


def test_a_stale_commit_label_goes_with_an_image_without_one():
    labels = container(revise(registered(), image=Image(URI, NEW)))["dockerLabels"]
    assert SHA_LABEL not in labels and labels[DIGEST_LABEL] == NEW


# The labels that tell a dropped name from one added elsewhere

def test_the_rendering_names_what_the_manifest_set():
    labels = container(rendered(spec(secrets=[{"name": "DB_PASSWORD", "id": "db"}])))["dockerLabels"]
    assert labels[ENVIRONMENT_LABEL] == "AWS_REGION,LANGFUSE_HOST"
    assert labels[SECRETS_LABEL] == "DB_PASSWORD" and labels[PORT_LABEL] == "8001"


def test_without_those_labels_a_variable_the_manifest_dropped_is_kept():
    latest = registered()  # a revision registered before shipline labelled what it set
    for label in (ENVIRONMENT_LABEL, SECRETS_LABEL, PORT_LABEL):
        del container(latest[0])["dockerLabels"][label]
    assert env(revise(latest, spec(environment={})))["LANGFUSE_HOST"] == "http://langfuse:3000"


# Which container, and when nothing changes

def test_the_container_named_for_the_service_gets_the_manifest_and_another_from_the_repository_the_image_only():
    latest = registered()
    worker = {"name": "worker", "image": f"{URI}@{OLD}", "command": ["worker"]}
    latest[0]["containerDefinitions"].insert(0, worker)
    revised = revise(latest, spec(cpu=1024, memory=2048))
    assert container(revised, "worker") == {**worker, "image": f"{URI}@{NEW}",
                                            "dockerLabels": {DIGEST_LABEL: NEW, SHA_LABEL: "bbbbbbb"}}
    assert ENVIRONMENT_LABEL in container(revised)["dockerLabels"]


def test_a_container_renamed_elsewhere_keeps_its_name_and_gets_the_manifest():
    latest = registered()
    container(latest[0])["name"] = "app"
    revised = revise(latest, spec(environment={}))
    assert [c["name"] for c in revised["containerDefinitions"]] == ["app"]
    assert container(revised, "app")["environment"] == [{"name": "AWS_REGION", "value": "us-east-1"}]


def test_what_describe_returns_but_register_does_not_take_is_dropped():
    revised = revise(registered())
    for key in ("taskDefinitionArn", "revision", "status", "registeredAt", "requiresAttributes", "compatibilities"):
        assert key not in revised
    assert revised["family"] == "p-dev-langgraph"


def test_the_latest_revision_is_not_changed_in_place():
    latest = registered()
    container(latest[0])["environment"].append({"name": "FEATURE_FLAG", "value": "on"})
    before = copy.deepcopy(latest)
    revise(latest, spec(cpu=1024, memory=2048, port=8080, environment={}))
    assert latest == before


def test_nothing_changed_gives_nothing_to_register():
    latest = registered()
    latest[0]["containerDefinitions"].append(copy.deepcopy(SIDECAR))
    assert revise_task_definition(latest[0], rendered(image=Image(URI, OLD, "aaaaaaa")), latest[1]) is None


def test_a_manifest_edit_with_the_same_image_is_a_change():
    latest = registered()
    assert revise_task_definition(latest[0], rendered(spec(cpu=1024, memory=2048), Image(URI, OLD, "aaaaaaa")),
                                  latest[1]) is not None


def test_a_family_without_a_container_from_the_repository_is_refused():
    latest = registered()
    other = Image(TARGET.repository_uri("other"), NEW)
    with pytest.raises(NoContainerForRepositoryError, match="p-dev-langgraph:3 has no container from"):
        revise_task_definition(latest[0], rendered(image=other), latest[1])


def test_a_tag_reference_counts_as_the_repository():
    latest = registered()
    container(latest[0])["image"] = f"{URI}:latest"
    assert container(revise(latest))["image"] == f"{URI}@{NEW}"
    assert image_digest_of(latest[0], URI) is None
    assert image_digest_of(registered()[0], URI) == OLD


@pytest.mark.parametrize("image, reference", [
    (f"{URI}@{OLD}", ("digest", OLD)),
    (f"{URI}:abc1234", ("tag", "abc1234")),
    (URI, ("tag", "latest")),  # no tag: Docker's default
    ("123456789012.dkr.ecr.us-east-1.amazonaws.com/p-dev-langfuse:abc1234", None),  # another repository
])
def test_the_image_a_revision_runs_from_the_services_repository(image, reference):
    definition = {"containerDefinitions": [SIDECAR, {"name": "langgraph", "image": image}]}
    assert image_reference_of(definition, URI) == reference
