"""ECS RegisterTaskDefinition's rules that moto does not check, as the local account answers them
(shipline/local/ecs_rules.py). Each request refused here is one moto registers."""

from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.ecs.responses import EC2ContainerServiceResponse

from shipline.local import ecs_rules
from shipline.local.patches import Patches
from tests.support.emulated import patched


@pytest.fixture
def ecs() -> Iterator:
    with patched(ecs_rules.install):
        yield boto3.client("ecs")


def fargate(containers: list[dict], cpu: str = "512", memory: str = "1024") -> dict:
    return {"family": "svc", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": cpu,
            "memory": memory, "containerDefinitions": containers}


def app(**fields) -> dict:
    return {"name": "app", "image": "x", "essential": True, **fields}


def refused(ecs, arguments: dict) -> str:
    with pytest.raises(ClientError) as caught:
        ecs.register_task_definition(**arguments)
    assert caught.value.response["Error"]["Code"] == "ClientException"
    assert ecs.list_task_definitions()["taskDefinitionArns"] == []
    return str(caught.value.response["Error"]["Message"])


@pytest.mark.parametrize(("cpu", "memory", "message"), [
    ("300", "1024", "Invalid 'cpu' setting for task."),
    ("256", "4096", "No Fargate configuration exists for given values."),
    ("1024", "1536", "No Fargate configuration exists for given values."),
])
def test_a_fargate_task_size_that_is_not_one_of_fargates_is_refused(ecs, cpu, memory, message):
    assert refused(ecs, fargate([app()], cpu=cpu, memory=memory)) == message


def test_a_fargate_size_written_in_vcpu_and_gb_is_taken(ecs):
    ecs.register_task_definition(**fargate([app()], cpu="1 vCPU", memory="2 GB"))


def test_an_awsvpc_host_port_other_than_the_container_port_is_refused(ecs):
    message = refused(ecs, fargate([app(portMappings=[{"containerPort": 8001, "hostPort": 8000}])]))
    assert message == "When networkMode=awsvpc, the host ports and container ports in port mappings must match."
    ecs.register_task_definition(**fargate([app(portMappings=[{"containerPort": 8001, "hostPort": 8001}])]))


def test_containers_reserving_more_memory_than_the_task_are_refused(ecs):
    sidecar = {"name": "otel", "image": "y", "essential": False, "memoryReservation": 256}
    message = refused(ecs, fargate([app(memory=1024), sidecar], memory="1024"))
    assert message.startswith("Invalid 'memory' setting for container")
    ecs.register_task_definition(**fargate([app(memory=768), sidecar], memory="1024"))  # 1024 of 1024 is taken


def test_containers_reserving_more_cpu_than_a_fargate_task_are_refused(ecs):
    assert refused(ecs, fargate([app(cpu=1024)], cpu="512")).startswith("Invalid 'cpu' setting for container")


@pytest.mark.parametrize(("containers", "message"), [
    ([], "Task definition must contain at least one container definition."),
    ([app(name=f"c{n}") for n in range(11)], "Too many containers: a task definition has at most 10."),
    ([app(), app()], "Duplicate container name found: app."),
    ([app(essential=False)], "Task definition does not have any essential container."),
])
def test_container_lists_ecs_refuses(ecs, containers, message):
    assert refused(ecs, fargate(containers)) == message


def test_a_task_definition_over_64_kib_is_refused(ecs):
    environment = [{"name": f"V{n}", "value": "x" * 1000} for n in range(70)]
    assert refused(ecs, fargate([app(environment=environment)])) == "Task definition size exceeds the limit of 64 KiB."


def test_a_service_cannot_be_updated_to_an_inactive_revision(ecs):
    ecs.create_cluster(clusterName="c")
    first = ecs.register_task_definition(**fargate([app()]))["taskDefinition"]["taskDefinitionArn"]
    second = ecs.register_task_definition(**fargate([app()]))["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster="c", serviceName="s", taskDefinition=second, desiredCount=0)
    ecs.deregister_task_definition(taskDefinition=first)
    with pytest.raises(ClientError) as caught:
        ecs.update_service(cluster="c", service="s", taskDefinition=first)
    assert caught.value.response["Error"] == {"Code": "ClientException", "Message": "TaskDefinition is inactive"}
    service = ecs.describe_services(cluster="c", services=["s"])["services"][0]
    assert service["taskDefinition"] == second


@pytest.mark.parametrize("controller", ["CODE_DEPLOY", "EXTERNAL"])
def test_a_service_another_controller_deploys_cannot_be_pointed_at_another_revision(ecs, controller):
    """ECS API Reference, UpdateService: under CODE_DEPLOY or EXTERNAL the task definition is not
    one of the things UpdateService can change (InvalidParameterException); its desired count is."""
    ecs.create_cluster(clusterName="c")
    first = ecs.register_task_definition(**fargate([app()]))["taskDefinition"]["taskDefinitionArn"]
    second = ecs.register_task_definition(**fargate([app()]))["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster="c", serviceName="s", taskDefinition=first, desiredCount=0,
                       deploymentController={"type": controller})
    with pytest.raises(ClientError) as caught:
        ecs.update_service(cluster="c", service="s", taskDefinition=second)
    error = caught.value.response["Error"]
    assert error["Code"] == "InvalidParameterException"
    assert error["Message"].startswith(f"Unable to update task definition on services with a {controller} ")
    ecs.update_service(cluster="c", service="s", desiredCount=2)
    service = ecs.describe_services(cluster="c", services=["s"])["services"][0]
    assert (service["taskDefinition"], service["desiredCount"]) == (first, 2)


def test_a_service_the_ecs_controller_deploys_is_pointed_at_another_revision(ecs):
    ecs.create_cluster(clusterName="c")
    first = ecs.register_task_definition(**fargate([app()]))["taskDefinition"]["taskDefinitionArn"]
    second = ecs.register_task_definition(**fargate([app()]))["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster="c", serviceName="s", taskDefinition=first, desiredCount=0)
    ecs.update_service(cluster="c", service="s", taskDefinition=second)
    assert ecs.describe_services(cluster="c", services=["s"])["services"][0]["taskDefinition"] == second


def test_the_rules_are_undone():
    names = ("register_task_definition", "update_service")
    before = {name: EC2ContainerServiceResponse.__dict__[name] for name in names}
    patches = Patches()
    ecs_rules.install(patches)
    assert all(EC2ContainerServiceResponse.__dict__[name] is not before[name] for name in names)
    patches.restore()
    assert all(EC2ContainerServiceResponse.__dict__[name] is before[name] for name in names)
