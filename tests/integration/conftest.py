"""Integration fixtures: moto (in-process mock_aws), with resources made from template.yaml."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import boto3
import pytest
from moto import mock_aws

from shipline.local.template import Resolver, function_environment, resource, table_definition
from tests.support.events import LOCAL_WEBHOOK_SECRET
from tests.support.faults import Faults


@dataclass
class Calls:
    """Every AWS operation the code under test made, with its parameters."""

    made: list[tuple[str, str, dict]] = field(default_factory=list)

    def of(self, service: str, operation: str) -> list[dict]:
        return [params for s, op, params in self.made if (s, op) == (service, operation)]

    def operations(self) -> list[str]:
        return [f"{s}:{op}" for s, op, _ in self.made]


@pytest.fixture
def faults() -> Faults:
    return Faults()


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch, faults: Faults) -> Calls:
    """Records calls (and injects faults) through botocore's event hooks on every client boto3 makes."""
    recorded = Calls()
    original = boto3.session.Session.client

    def client(self, *args, **kwargs):
        made = original(self, *args, **kwargs)
        model = made.meta.service_model
        service = model.service_name

        def record(params, model, **_):
            recorded.made.append((service, model.name, params))

        made.meta.events.register("provide-client-params.*.*", lambda params, model, **kw: record(params, model))
        faults.install(made.meta.events, service, model.protocol)
        return made

    monkeypatch.setattr(boto3.session.Session, "client", client)
    return recorded


@dataclass
class Stack:
    """The resources of the build path, as the template defines them, inside moto."""

    refs: dict[str, str]
    resolve: Resolver
    notifications_queue: str = ""

    def notifications(self) -> list[dict]:
        """Every message published to the topic so far: {subject, message}."""
        sqs = boto3.client("sqs")
        found = []
        while True:
            messages = sqs.receive_message(QueueUrl=self.notifications_queue, MaxNumberOfMessages=10).get("Messages")
            if not messages:
                return found
            for message in messages:
                body = json.loads(message["Body"])
                found.append({"subject": body.get("Subject"), "message": body["Message"]})
                sqs.delete_message(QueueUrl=self.notifications_queue, ReceiptHandle=message["ReceiptHandle"])

    def use_function(self, logical_id: str, monkeypatch: pytest.MonkeyPatch, **overrides: str) -> None:
        """Give the process the environment the template gives this function."""
        for key, value in {**function_environment(logical_id, self.resolve), **overrides}.items():
            monkeypatch.setenv(key, value)


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def stack(aws, calls: Calls) -> Stack:
    session = boto3  # the default session: its service models load once per test run
    table = "shipline-idempotency"
    session.client("dynamodb").create_table(TableName=table, **table_definition("IdempotencyTable"))
    secret = session.client("secretsmanager").create_secret(
        Name="shipline-webhook", SecretString=LOCAL_WEBHOOK_SECRET.decode()
    )["ARN"]
    resolve = Resolver()
    project = resolve(resource("BuildProject")["Properties"]["Name"])
    session.client("codebuild").create_project(
        name=project,
        source={"type": "CODECOMMIT", "location": "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/x"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={"type": "ARM_CONTAINER", "image": "aws/codebuild/amazonlinux-aarch64-standard:3.0",
                     "computeType": "BUILD_GENERAL1_SMALL"},
        serviceRole="arn:aws:iam::123456789012:role/shipline-build",
    )
    ledger = "shipline-ledger"
    session.client("dynamodb").create_table(TableName=ledger, **table_definition("LedgerTable"))
    sns, sqs = session.client("sns"), session.client("sqs")
    topic = sns.create_topic(Name="shipline-notifications")["TopicArn"]
    inbox = sqs.create_queue(QueueName="notifications")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn)
    role = session.client("iam").create_role(
        RoleName="shipline-task-execution", AssumeRolePolicyDocument=json.dumps(
            resource("TaskExecutionRole")["Properties"]["AssumeRolePolicyDocument"], default=str)
    )["Role"]["Arn"]
    calls.made.clear()
    refs = {"IdempotencyTable": table, "WebhookSecret": secret, "BuildProject": project, "LedgerTable": ledger,
            "NotificationTopic": topic, "TaskExecutionRole.Arn": role}
    return Stack(refs=refs, resolve=Resolver(refs), notifications_queue=inbox)


BEFORE = "bd21c0fabadb82d5cd4dac09dd7408119895e81d"
AFTER = "3b6258b2d01afe2f989c7f7a5af86223f7aaa9f2"


@pytest.fixture
def codecommit_history(stack: Stack):
    """The CodeCommit repository of the sample events, with a push that touched langgraph."""
    from shipline.local import codecommit

    codecommit.install()
    history = codecommit.MemoryHistory(
        diffs={(BEFORE, AFTER): ["docker/langgraph/Dockerfile"]}, heads={"main": AFTER}
    )
    name = stack.resolve.values["CodeCommitRepositoryName"]
    boto3.client("codecommit").create_repository(repositoryName=name)
    codecommit.HISTORIES[name] = history
    yield history
    codecommit.HISTORIES.pop(name, None)
