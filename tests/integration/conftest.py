"""Integration fixtures: moto (in-process mock_aws), with the stack provisioned from template.yaml
by the same model and provisioner the local account uses, and the emulation installed."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import boto3
import pytest
from moto import mock_aws

from shipline.local.emulation import Emulation
from shipline.local.model import Stack as Provisioned
from shipline.local.model import TemplateModel
from shipline.local.resources import Provisioner
from tests.support.events import LOCAL_WEBHOOK_SECRET, load_event
from tests.support.faults import Faults
from tests.support.paths import ROOT


@dataclass
class Calls:
    """Every AWS operation the code under test made, with its parameters."""

    made: list[tuple[str, str, dict]] = field(default_factory=list)

    def of(self, service: str, operation: str) -> list[dict]:
        return [params for s, op, params in self.made if (s, op) == (service, operation)]

    def operations(self) -> list[str]:
        return [f"{s}:{op}" for s, op, _ in self.made]


# Clients that provision a test's stack: made once per process (making one costs more than most
# of the calls it makes), with boto3's own client method, so they neither record calls nor take
# faults. moto's mock intercepts every client made after its import, so one serves every test.
_SESSION_CLIENT = boto3.session.Session.client


@functools.cache
def _session() -> boto3.session.Session:
    # One boto3 session per process: a new one parses the endpoint and service models again.
    return boto3.session.Session()


@functools.cache
def _provisioning_client(service: str):
    return _SESSION_CLIENT(_session(), service)


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> Faults:
    """Faults to inject. botocore's retries keep their count and their order, without the
    backoff's sleeping: what these tests check is what is retried, not how long it waits."""
    from botocore.retries.standard import ExponentialBackoff

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)
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
    """The stack, as template.yaml defines it, inside moto."""

    model: TemplateModel
    provisioned: Provisioned
    notifications_queue: str = ""

    @property
    def refs(self) -> dict[str, str]:
        return self.provisioned.refs

    @property
    def parameters(self) -> dict[str, str]:
        return self.model.parameters

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
        function = self.provisioned.functions[logical_id]
        environment = {**function.environment, "AWS_LAMBDA_FUNCTION_NAME": function.name, **overrides}
        for key, value in environment.items():
            monkeypatch.setenv(key, value)


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        # moto empties boto3's default session for the test; the tests' own `boto3.client(...)`
        # calls share the process's one instead of each test loading the models again.
        boto3.DEFAULT_SESSION = _session()
        yield


@pytest.fixture
def emulation(aws) -> Iterator[Emulation]:
    """What the local account adds to moto (limits, ECR's behaviour, CodeCommit's history),
    installed for this test only."""
    emulation = Emulation(source_root=ROOT)
    with emulation.installed():
        yield emulation


@pytest.fixture
def stack_parameters() -> dict[str, str]:
    """The template parameters of the stack under test: the defaults (SourceProvider=CodeCommit).
    A test of a GitHub-only function overrides this with tests.support.stacks.GITHUB."""
    return {}


@pytest.fixture
def stack(emulation, calls: Calls, stack_parameters: dict[str, str]) -> Stack:
    model = TemplateModel(parameters=stack_parameters)
    provisioned = Provisioner(_provisioning_client, LOCAL_WEBHOOK_SECRET.decode()).create_all(model)
    sqs, sns = boto3.client("sqs"), boto3.client("sns")
    inbox = sqs.create_queue(QueueName="notifications")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=provisioned.refs["NotificationTopic"], Protocol="sqs", Endpoint=inbox_arn)
    calls.made.clear()
    return Stack(model, provisioned, notifications_queue=inbox)


BEFORE = load_event("codecommit-push")["detail"]["oldCommitId"]
AFTER = load_event("codecommit-push")["detail"]["commitId"]


@pytest.fixture
def codecommit_history(stack: Stack, emulation: Emulation):
    """The CodeCommit repository of the sample events, with a push that touched langgraph."""
    from shipline.local.codecommit import MemoryHistory

    history = MemoryHistory(diffs={(BEFORE, AFTER): ["docker/langgraph/Dockerfile"]}, heads={"main": AFTER},
                            ancestors={AFTER: {BEFORE, AFTER}})
    name = stack.parameters["CodeCommitRepositoryName"]
    boto3.client("codecommit").create_repository(repositoryName=name)
    emulation.codecommit.histories[name] = history
    return history


@dataclass
class Pipeline:
    """The build trigger (the planner) and, as Lambda's SQS mapping would, the build starter
    draining the queue the planner fills."""

    stack: Stack
    monkeypatch: pytest.MonkeyPatch
    context: object
    starter_env: dict[str, str] = field(default_factory=dict)

    def __call__(self, event: dict) -> dict:
        from pipeline.handlers import build_starter, build_trigger

        self.stack.use_function("BuildTriggerFunction", self.monkeypatch)
        planned = build_trigger.handler(event, self.context)
        result = {**planned, "builds": {}, "started": [], "alreadyBuilt": []}
        if planned.get("outcome") in ("planned", "duplicate event", "in flight") or planned.get("planned"):
            self.stack.use_function("BuildStarterFunction", self.monkeypatch, **self.starter_env)
            for answer in self.drain(build_starter.handler):
                result["builds"].update(answer.get("builds", {}))
                for service, state in answer.get("states", {}).items():
                    if state == "started":
                        result["started"].append(service)
                    elif state == "already built":
                        result["alreadyBuilt"].append(service)
            self.stack.use_function("BuildTriggerFunction", self.monkeypatch)
        if planned.get("outcome") == "planned":
            result["outcome"] = ("started" if result["started"] else
                                 "already built" if result["alreadyBuilt"] else "already started")
        return result

    def drain(self, handler) -> list[dict]:
        """Every message now in the build-starts queue, in batches, as Lambda's mapping delivers
        them; failed ones stay in flight (they come back after their delay)."""
        sqs = boto3.client("sqs")
        url = self.stack.refs["BuildStartsQueue"]
        answers = []
        while True:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=5,
                                           AttributeNames=["All"]).get("Messages", [])
            if not messages:
                return answers
            batch = {"Records": [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"],
                                  "body": m["Body"], "attributes": m.get("Attributes", {}),
                                  "eventSource": "aws:sqs"} for m in messages]}
            answer = handler(batch, self.context)
            answers.append(answer)
            failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
            for message in messages:
                if message["MessageId"] not in failed:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def pipeline(stack, codecommit_history, calls, monkeypatch, lambda_context) -> Pipeline:
    calls.made.clear()
    return Pipeline(stack, monkeypatch, lambda_context)
