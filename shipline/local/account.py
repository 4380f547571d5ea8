"""The local account: the whole pipeline on an emulated AWS account, driven by template.yaml.

A moto server on a free loopback port (or any emulator at --endpoint-url) holds the stack's
resources. Events reach the functions through the emulator's own EventBridge pattern
matching: each function's rules target an SQS inbox, which a dispatcher drains by invoking
the handler in this process with the environment the template gives that function.
"""

from __future__ import annotations

import functools
import importlib
import json
import logging
import os
import re
import tempfile
import time
import urllib.request
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import boto3

from pipeline.domain.manifest import Manifest, default_manifest
from shipline.local import codebuild as local_codebuild
from shipline.local import codecommit as local_codecommit
from shipline.local import ecr as local_ecr
from shipline.local.provision import (
    ACCOUNT,
    REGION,
    Function,
    Resolver,
    Stack,
    TemplateError,
    parameter_values,
    physical_names,
    references,
    translate,
)
from shipline.local.resources import CREATION_ORDER, STACK_NAME, Provisioner
from shipline.local.template import TEMPLATE, raw

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_WEBHOOK_SECRET = "shipline-local-webhook-secret"

@dataclass
class FakeContext:
    function_name: str
    aws_request_id: str = "local"
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@dataclass
class Timeline:
    started: float = field(default_factory=time.monotonic)
    entries: list[tuple[float, str, str]] = field(default_factory=list)
    on_entry: Callable[[float, str, str], None] | None = None

    def add(self, actor: str, text: str) -> None:
        at = time.monotonic() - self.started
        self.entries.append((at, actor, text))
        if self.on_entry:
            self.on_entry(at, actor, text)


class LocalAccount:
    """A fresh emulated account with the stack in it. Use as a context manager."""

    def __init__(
        self,
        *,
        environment: str = "dev",
        parameters: dict[str, str] | None = None,
        endpoint_url: str | None = None,
        repo_root: Path = ROOT,
        findings: dict[str, dict[str, int]] | None = None,
        webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
        template: dict | None = None,
        on_progress: Callable[[float, str, str], None] | None = None,
    ):
        self.environment = environment
        self.parameters = {"Environment": environment, **(parameters or {})}
        self.external_endpoint = endpoint_url
        self.endpoint = endpoint_url or ""
        self.repo_root = repo_root
        self.findings = findings or {}
        self.webhook_secret = webhook_secret
        self.template = template if template is not None else raw(TEMPLATE)
        self.timeline = Timeline(on_entry=on_progress)
        self.webhook_responses: list[dict] = []
        self.errors: list[str] = []
        self.builds: dict[str, dict] = {}
        self.notifications: list[dict] = []
        self.invocations = 0
        self._server: Any = None
        self._saved_env: dict[str, str] = {}
        self._builds_done = 0
        self.stack: Stack | None = None
        self._translated: dict = {}
        self.resolve: Resolver | None = None
        self._session = boto3.session.Session()
        # The functions' own logs (Powertools JSON, EMF metrics) go to a file, not the terminal.
        self._log = _function_log()
        self.log_path = Path(self._log.name)
        self._clients: dict[str, Any] = {}
        self.manifest: Manifest = default_manifest()

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> LocalAccount:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._saved_env = dict(os.environ)
        if not self.external_endpoint:
            from moto.server import ThreadedMotoServer

            logging.getLogger("werkzeug").setLevel(logging.ERROR)
            for extension in (local_codecommit, local_ecr, local_codebuild):
                extension.install()
            local_codebuild.reset()
            local_ecr.FINDINGS.clear()
            self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            self._server.start()
            # moto's CloudFormation reads TemplateURLs only from "localhost"; use it throughout.
            self.endpoint = f"http://localhost:{self._server.get_host_and_port()[1]}"
            # moto keeps its state per process, not per server: start from an empty account.
            urllib.request.urlopen(urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST"))
        os.environ.update({
            "AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "shipline",
        })
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            os.environ.pop(name, None)
        self._reset_process_caches()
        self.provision()

    def stop(self) -> None:
        self._log.flush()
        if self._server is not None:
            self._server.stop()
            self._server = None
        os.environ.clear()
        os.environ.update(self._saved_env)
        self._reset_process_caches()

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(  # type: ignore[call-overload]
                service, endpoint_url=self.endpoint, region_name=REGION)
        return self._clients[service]

    # ------------------------------------------------------------------ provisioning
    def provision(self) -> Stack:
        translated = self._translated = translate(self.template)
        parameters = parameter_values(translated, self.parameters)
        resources = translated.get("Resources", {})
        values: dict[str, Any] = {
            **parameters, "AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": "aws",
            "AWS::StackName": STACK_NAME, "AWS::URLSuffix": "amazonaws.com",
        }
        resolve = self.resolve = Resolver(values, translated.get("Conditions", {}))
        names = physical_names(STACK_NAME, resources, resolve)
        values.update(references(STACK_NAME, resources, names, self.endpoint))
        stack = Stack(STACK_NAME, parameters)
        order = {kind: index for index, kind in enumerate(CREATION_ORDER)}
        provisioner = Provisioner(self.client, self.webhook_secret)
        for logical, resource in sorted(resources.items(), key=lambda item: order.get(item[1]["Type"], 99)):
            if "Condition" in resource and not resolve.condition(resource["Condition"]):
                continue
            try:
                provisioner.create(stack, logical, resource, names[logical], resolve)
            except TemplateError:
                raise
            except Exception as exc:
                raise TemplateError(f"{logical} ({resource['Type']}): {exc}") from exc
        stack.refs = {k: v for k, v in values.items() if isinstance(v, str)}
        self.stack = stack
        self._subscribe_notifications(stack)
        self._register_source_history(stack)
        self.timeline.add("account", f"stack provisioned from template.yaml at {self.endpoint}")
        return stack

    def _subscribe_notifications(self, stack: Stack) -> None:
        """An SQS subscription on every topic, so the run can report what was published."""
        sqs, sns = self.client("sqs"), self.client("sns")
        self._notification_queue = sqs.create_queue(QueueName=f"{STACK_NAME}-notifications")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self._notification_queue,
                                       AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        for topic in sns.list_topics()["Topics"]:
            sns.subscribe(TopicArn=topic["TopicArn"], Protocol="sqs", Endpoint=arn)

    def _register_source_history(self, stack: Stack) -> None:
        """The CodeCommit repository of the template is this checkout."""
        name = stack.parameters.get("CodeCommitRepositoryName")
        if not name or self.external_endpoint:
            return
        self.client("codecommit").create_repository(repositoryName=name)
        local_codecommit.HISTORIES[name] = local_codecommit.GitHistory(self.repo_root)

    # ------------------------------------------------------------------ input
    def put_event(self, envelope: dict) -> str:
        """Put an event on the bus as its source would emit it."""
        if envelope.get("detail-type") == "Scheduled Event" and envelope.get("source") == "aws.events":
            return self._deliver_schedule(envelope)
        response = self.client("events").put_events(Entries=[{
            "Source": envelope["source"], "DetailType": envelope["detail-type"],
            "Detail": json.dumps(envelope.get("detail", {})), "Resources": envelope.get("resources", []),
        }])
        if response.get("FailedEntryCount"):
            raise TemplateError(f"the bus refused the event: {response['Entries'][0]}")
        return str(response["Entries"][0].get("EventId", ""))

    def _deliver_schedule(self, envelope: dict) -> str:
        """A schedule rule's event goes straight to that rule's targets, as EventBridge does."""
        assert self.stack is not None
        sqs = self.client("sqs")
        for target in self.stack.schedule_targets:
            queue = sqs.get_queue_url(QueueName=target.rsplit(":", 1)[-1])["QueueUrl"]
            sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(envelope))
        return str(envelope.get("id", ""))

    def listens_for(self, source: str, detail_type: str) -> bool:
        """Whether any rule of the template names this source and detail-type (an event of that
        kind which matched nothing was filtered on purpose, not left unhandled)."""
        for resource in self._translated.get("Resources", {}).values():
            pattern = resource.get("Properties", {}).get("EventPattern") if resource["Type"] == "AWS::Events::Rule" \
                else None
            if pattern and source in pattern.get("source", []) and detail_type in pattern.get("detail-type", []):
                return True
        return False

    def function_policies(self) -> dict[str, list[dict]]:
        """Each function's own policy statements (its template `Policies`), resolved."""
        assert self.resolve is not None and self.stack is not None
        resources = self._translated["Resources"]
        policies: dict[str, list[dict]] = {}
        for logical in self.stack.functions:
            role = resources[logical]["Properties"]["Role"]["Fn::GetAtt"][0]
            statements: list[dict] = []
            for policy in resources[role]["Properties"].get("Policies", []):
                if re.fullmatch(rf"{logical}RolePolicy\d+", policy["PolicyName"]):
                    statements += self.resolve(policy["PolicyDocument"])["Statement"]
            policies[logical] = statements
        return policies

    def invoke_webhook(self, request: dict) -> dict:
        """A Lambda Function URL request to the GitHub webhook function."""
        function = self._function_with_url()
        response = self._invoke(function, request, synchronous=True) or {}
        answer = {"statusCode": response.get("statusCode"), "body": response.get("body")}
        self.webhook_responses.append(answer)
        self.timeline.add("webhook", f"{answer['statusCode']} {json.loads(answer['body'] or '{}').get('message', '')}")
        return answer

    def _function_with_url(self) -> Function:
        assert self.stack is not None
        for resource in self._translated["Resources"].values():
            if resource["Type"] == "AWS::Lambda::Url":
                target = resource["Properties"]["TargetFunctionArn"]
                logical = target.get("Ref") if isinstance(target, dict) else None
                if logical in self.stack.functions:
                    return self.stack.functions[logical]
        raise TemplateError("no function in template.yaml has a Function URL")

    # ------------------------------------------------------------------ running
    def run(self, max_rounds: int = 200) -> int:
        """Drain inboxes and builds until nothing moves. Returns the invocations made."""
        before = self.invocations
        for _ in range(max_rounds):
            moved = self._drain_inboxes() + self._run_builds()
            if not moved:
                break
        self._collect_notifications()
        return self.invocations - before

    def _drain_inboxes(self) -> int:
        assert self.stack is not None
        sqs, moved = self.client("sqs"), 0
        for function in self.stack.functions.values():
            while True:
                messages = sqs.receive_message(QueueUrl=function.inbox_url, MaxNumberOfMessages=10).get("Messages", [])
                if not messages:
                    break
                for message in messages:
                    sqs.delete_message(QueueUrl=function.inbox_url, ReceiptHandle=message["ReceiptHandle"])
                    event = json.loads(message["Body"])
                    # moto's EventBridge leaves out the envelope's account; AWS always sends it.
                    event.setdefault("account", ACCOUNT)
                    self._invoke(function, event)
                    moved += 1
        return moved

    def _invoke(self, function: Function, event: dict, synchronous: bool = False) -> Any:
        module, attribute = function.handler.rsplit(".", 1)
        label = event.get("detail-type") or "request"
        attempts = 1 if synchronous else 1 + function.max_retries
        failure = ""
        for _attempt in range(attempts):
            self.invocations += 1
            with self._function_environment(function):
                try:
                    handler = getattr(importlib.import_module(module), attribute)
                    result = handler(event, FakeContext(function.name))
                except Exception as exc:  # the Lambda runtime's view: the invocation failed
                    failure = f"{function.logical_id}: {label}: {type(exc).__name__}: {exc}"
                    continue
            self._record(function, label, result)
            return result
        # Every attempt failed: what the Lambda service does next, outside the function.
        self.errors.append(failure)
        self.timeline.add(function.logical_id, f"FAILED {label}: {failure.split(': ', 2)[-1]}")
        self._dead_letter(function, event, failure)
        return None

    @contextmanager
    def _function_environment(self, function: Function) -> Iterator[None]:
        saved = dict(os.environ)
        os.environ.update(function.environment)
        os.environ["AWS_LAMBDA_FUNCTION_NAME"] = function.name
        self._reset_process_caches(keep_clients=True)
        try:
            with redirect_stdout(self._log), warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="No application metrics to publish")
                yield
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def _dead_letter(self, function: Function, event: dict, failure: str) -> None:
        """The on-failure destination's record, as Lambda sends it after the last retry."""
        if not function.on_failure:
            return
        sqs = self.client("sqs")
        url = sqs.get_queue_url(QueueName=function.on_failure.rsplit(":", 1)[-1])["QueueUrl"]
        error_type, _, message = failure.split(": ", 2)[-1].partition(": ")
        record = {
            "version": "1.0",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "requestContext": {"requestId": "local", "functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"
                               f"{function.name}:$LATEST", "condition": "RetriesExhausted",
                               "approximateInvokeCount": 1 + function.max_retries},
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorMessage": message, "errorType": error_type},
        }
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record))

    def _record(self, function: Function, label: str, result: Any) -> None:
        if not isinstance(result, dict) or "statusCode" in result:
            return
        outcome = result.get("outcome", "")
        if outcome == "started":
            text = f"{label}: started builds of {', '.join(result.get('builds', {}))}"
        elif outcome == "registered":
            text = f"{result.get('service')}: registered revision {result.get('revision')}"
        elif outcome in ("rejected", "ignored"):
            text = f"{label}: {outcome}: {result.get('reason', '')}"
            if outcome == "rejected":
                self.errors.append(f"{function.logical_id}: {label}: rejected: {result.get('reason', '')}")
        else:
            text = f"{label}: {outcome}" + (f" ({result['service']})" if result.get("service") else "")
        self.timeline.add(function.logical_id, text)

    def _pending_builds(self) -> list[dict]:
        if self.external_endpoint:
            codebuild = self.client("codebuild")
            ids = [i for i in codebuild.list_builds().get("ids", []) if i not in self.builds]
            found = codebuild.batch_get_builds(ids=ids).get("builds", []) if ids else []
            return [{"id": b["id"], "project": b["projectName"], "sourceVersion": b.get("sourceVersion", ""),
                     "environment": {v["name"]: v.get("value", "")
                                     for v in b.get("environment", {}).get("environmentVariables", [])}}
                    for b in found]
        pending = local_codebuild.STARTED[self._builds_done:]
        self._builds_done = len(local_codebuild.STARTED)
        return pending

    def _run_builds(self) -> int:
        moved = 0
        for build in self._pending_builds():
            result = local_codebuild.run_build(build, repo_root=self.repo_root, account=ACCOUNT, region=REGION,
                                               manifest=self.manifest, findings=self.findings,
                                               ecr_client=self.client("ecr"))
            self.builds[build["id"]] = {"service": result.service, "commit": result.commit, "status": result.status,
                                        "digest": result.digest, "tags": list(result.tags), "reason": result.reason}
            what = f"{result.status}, pushed {result.digest[:19]} as {' '.join(result.tags)}" \
                if result.digest else f"{result.status} in {result.phase}: {result.reason}"
            self.timeline.add("CodeBuild", f"{result.service} at {result.commit[:7]}: {what}")
            for event in result.events:
                self.put_event(event)
            moved += 1
        return moved

    def _collect_notifications(self) -> None:
        sqs = self.client("sqs")
        while True:
            messages = sqs.receive_message(QueueUrl=self._notification_queue, MaxNumberOfMessages=10).get("Messages")
            if not messages:
                return
            for message in messages:
                body = json.loads(message["Body"])
                self.notifications.append({"subject": body.get("Subject"), "message": body.get("Message")})
                self.timeline.add("SNS", body.get("Subject") or "(no subject)")
                sqs.delete_message(QueueUrl=self._notification_queue, ReceiptHandle=message["ReceiptHandle"])

    @staticmethod
    def _reset_process_caches(keep_clients: bool = False) -> None:
        from aws_lambda_powertools.utilities import parameters

        from pipeline.adapters import clients
        from pipeline.flows import idempotency
        from pipeline.settings import get_settings

        if not keep_clients:
            clients.reset()
        idempotency.reset()
        get_settings.cache_clear()
        parameters.clear_caches()  # also drops Powertools' providers and their clients

    # ------------------------------------------------------------------ report
    def report(self) -> dict:
        ecr, ecs = self.client("ecr"), self.client("ecs")
        repositories = ecr.describe_repositories().get("repositories", [])
        images = []
        for repo in repositories:
            for detail in ecr.describe_images(repositoryName=repo["repositoryName"]).get("imageDetails", []):
                images.append({"repository": repo["repositoryName"], "digest": detail["imageDigest"],
                               "tags": sorted(detail.get("imageTags", []))})
        task_definitions = []
        for arn in ecs.list_task_definitions().get("taskDefinitionArns", []):
            definition = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
            task_definitions.append({
                "family": definition["family"], "revision": definition["revision"],
                "containers": [{"name": c["name"], "image": c["image"]} for c in definition["containerDefinitions"]],
            })
        return {
            "repositories": [{"name": r["repositoryName"],
                              "scanOnPush": r.get("imageScanningConfiguration", {}).get("scanOnPush", False),
                              "encryption": r.get("encryptionConfiguration", {}).get("encryptionType", "AES256")}
                             for r in repositories],
            "builds": [{"service": b["service"], "commit": b["commit"], "status": b["status"]}
                       for b in self.builds.values()],
            "images": images,
            "taskDefinitions": task_definitions,
            "notifications": self.notifications,
            "webhookResponses": self.webhook_responses,
            "errors": self.errors,
        }


@functools.cache
def _function_log() -> TextIO:
    """One log file per process: the functions' loggers keep the stream they first wrote to."""
    return (Path(tempfile.mkdtemp(prefix="shipline-local-")) / "functions.log").open("a", encoding="utf-8")


def prepare_for(account: LocalAccount, envelope: dict) -> None:
    """Make the emulated account agree with an injected AWS event before it is put on the bus:
    a pushed image exists in ECR; a scanned digest reports the event's counts."""
    detail = envelope.get("detail", {})
    ecr = account.client("ecr")
    repository = str(detail.get("repository-name", ""))
    repository = repository.split(":repository/", 1)[-1]
    digest = detail.get("image-digest")
    if not repository or not digest:
        return
    if envelope.get("detail-type") == "ECR Image Action" and detail.get("action-type") == "PUSH":
        try:
            ecr.create_repository(repositoryName=repository, imageScanningConfiguration={"scanOnPush": True})
        except ecr.exceptions.RepositoryAlreadyExistsException:
            pass
        manifest = local_ecr.image_manifest(digest)
        try:
            ecr.put_image(repositoryName=repository, imageManifest=manifest, imageDigest=digest,
                          imageTag=detail.get("image-tag") or "untagged")
        except ecr.exceptions.ImageAlreadyExistsException:
            pass
    elif envelope.get("detail-type") in ("ECR Image Scan", "Inspector2 Scan"):
        local_ecr.report(repository, digest, detail.get("finding-severity-counts", {}))
