"""The local account: the whole pipeline on an emulated AWS account, driven by template.yaml.

A façade over its parts: a moto server on a free loopback port (or any emulator at
--endpoint-url) holds the stack's resources (model.py reads the template, resources.py
creates them); the emulation (emulation.py) adds what AWS does and moto does not (CodeBuild
running the buildspec, ECR's and Inspector's events, CodeCommit's history, AWS's limits); the
Lambda runtime (runtime.py) invokes the handlers as Lambda would. Events reach the functions
through EventBridge's own pattern matching: each function's rules target an SQS inbox that
this account drains.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import tempfile
import threading
import time
import urllib.request
import warnings
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TextIO

import boto3

from pipeline.domain.manifest import Manifest, default_manifest, load_manifest
from shipline.local.codebuild import Build
from shipline.local.codecommit import GitHistory
from shipline.local.emulation import Emulation
from shipline.local.limits import FUNCTION_URL_REQUEST_LIMIT
from shipline.local.model import ACCOUNT, REGION, STACK_NAME, QueueSource, Stack, TemplateError, TemplateModel
from shipline.local.quotas import DEFAULT_QUOTA
from shipline.local.resources import DEFAULT_LAMBDA_CONCURRENCY, Provisioner
from shipline.local.runtime import Invocation, LambdaRuntime
from shipline.local.standins.aws import AwsCli
from shipline.local.standins.docker import DockerCli, Registry
from shipline.local.standins.server import ToolServer
from shipline.local.template import TEMPLATE, raw

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_WEBHOOK_SECRET = "shipline-local-webhook-secret"
# Environment every function shares in the local account's process (the rest is per function).
_PROCESS_ENVIRONMENT = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": REGION,
                        "AWS_REGION": REGION, "POWERTOOLS_TRACE_DISABLED": "true",
                        "POWERTOOLS_METRICS_NAMESPACE": "shipline", "POWERTOOLS_SERVICE_NAME": "shipline"}


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
        failing_scans: set[str] | None = None,
        scanning: str = "basic",
        webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
        template: dict | None = None,
        on_progress: Callable[[float, str, str], None] | None = None,
        chaos: int | None = None,
        codebuild_quota: int = DEFAULT_QUOTA,
        failing_deployments: set[str] | None = None,
        github_token: str | None = None,
        lambda_concurrency: int = DEFAULT_LAMBDA_CONCURRENCY,
        docker_hub: tuple[str, str] | None = None,
    ):
        self.environment = environment
        self.parameters = {"Environment": environment, **(parameters or {})}
        self.external_endpoint = endpoint_url
        self.endpoint = endpoint_url or ""
        self.repo_root = repo_root
        self.scanning = scanning
        self.webhook_secret = webhook_secret
        self.template = template if template is not None else raw(TEMPLATE)
        self.chaos = chaos
        self.timeline = Timeline(on_entry=on_progress)
        self.webhook_responses: list[dict] = []
        self.errors: list[str] = []
        self.notifications: list[dict] = []
        self.stack: Stack | None = None
        self.model: TemplateModel | None = None
        self.manifest: Manifest = (default_manifest() if repo_root.resolve() == ROOT.resolve()
                                   else load_manifest(repo_root / "services.toml"))
        self.emulation = Emulation(source_root=repo_root, findings=findings, failing_scans=failing_scans,
                                   codebuild_quota=codebuild_quota, tools_url=lambda: self._tools.url,
                                   note=self.timeline.add)
        self.failing_deployments = set(failing_deployments or ())  # manifest services whose next deployment fails
        # A GitHub stack's repository is private, readable with this token, which the account keeps
        # in a secret of its own and names in GitHubTokenSecretArn; None: public, no token.
        self.github_token = github_token
        self.lambda_concurrency = lambda_concurrency  # the account's Lambda quota (a new account's is far lower)
        # A Docker Hub user and token: kept in a secret the stack's DockerHubSecretArn names, and the
        # only login the docker stand-in takes for Docker Hub. None: builds pull anonymously.
        self.docker_hub = docker_hub
        self._log = _function_log()
        self.log_path = Path(self._log.name)
        self._session = _session()
        self._clients: dict[str, Any] = {}
        self._server: Any = None
        self._saved_env: dict[str, str] = {}
        self._exit = ExitStack()
        self._tools: ToolServer
        self._runtime: LambdaRuntime
        self._builds = ThreadPoolExecutor(max_workers=codebuild_quota, thread_name_prefix="codebuild")
        self._batches: dict[str, int] = {}  # queue source -> invocations running
        self._batch_lock = threading.Lock()
        self.peak_batches: dict[str, int] = {}  # function -> most queue invocations at once
        self._running_builds: set[Future] = set()

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> LocalAccount:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._saved_env = dict(os.environ)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        if not self.external_endpoint:
            from moto.server import ThreadedMotoServer

            logging.getLogger("werkzeug").setLevel(logging.ERROR)
            self._exit.enter_context(self.emulation.installed())
            self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            self._server.start()
            # moto's CloudFormation reads TemplateURLs only from "localhost"; use it throughout.
            self.endpoint = f"http://localhost:{self._server.get_host_and_port()[1]}"
            # moto keeps its state per process, not per server: start from an empty account.
            urllib.request.urlopen(urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST"))
        os.environ.update({"AWS_ENDPOINT_URL": self.endpoint, **_PROCESS_ENVIRONMENT})
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            os.environ.pop(name, None)
        _reset_process_caches()
        registry = Registry(f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com", self.client("ecr"))
        self._tools = self._exit.enter_context(ToolServer({"docker": DockerCli(registry, docker_hub=self.docker_hub),
                                                            "aws": AwsCli(registry)}))
        self._runtime = self._exit.enter_context(LambdaRuntime(
            log=self._log, chaos=self.chaos, dead_letter=self._dead_letter, done=self._record))
        self.provision()

    def stop(self) -> None:
        self._builds.shutdown(wait=True, cancel_futures=True)
        self._exit.close()
        self._log.flush()
        if self._server is not None:
            _stop_promptly(self._server)
            self._server = None
        os.environ.clear()
        os.environ.update(self._saved_env)
        _reset_process_caches()

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(  # type: ignore[call-overload]
                service, endpoint_url=self.endpoint, region_name=REGION, aws_access_key_id="local",
                aws_secret_access_key="local")
        return self._clients[service]

    # ------------------------------------------------------------------ provisioning
    def provision(self) -> Stack:
        if self.github_token and not self.external_endpoint:
            secret = self.client("secretsmanager").create_secret(Name="shipline-local/github-token",
                                                                 SecretString=self.github_token)
            self.parameters["GitHubTokenSecretArn"] = secret["ARN"]
        if self.docker_hub and not self.external_endpoint:
            username, token = self.docker_hub
            secret = self.client("secretsmanager").create_secret(
                Name="shipline-local/docker-hub", SecretString=json.dumps({"username": username, "token": token}))
            self.parameters["DockerHubSecretArn"] = secret["ARN"]
        model = self.model = TemplateModel(self.template, self.parameters, self.endpoint)
        stack = self.stack = Provisioner(self.client, self.webhook_secret,
                                         self.lambda_concurrency).create_all(model)
        self._register_stack(model)
        self._subscribe_notifications()
        if self.scanning == "enhanced":
            self.client("ecr").put_registry_scanning_configuration(scanType="ENHANCED", rules=[{
                "scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}]}])
        if self.repo_root.resolve() != ROOT.resolve():  # the functions run with that checkout's manifest
            for function in stack.functions.values():
                function.environment["SHIPLINE_MANIFEST"] = str(self.repo_root / "services.toml")
        name = stack.parameters.get("CodeCommitRepositoryName")
        if name and not self.external_endpoint:  # the CodeCommit repository of the template is this checkout
            self.client("codecommit").create_repository(repositoryName=name)
            self.emulation.codecommit.histories[name] = GitHistory(self.repo_root)
        url = stack.parameters.get("GitHubRepositoryUrl", "")
        if stack.parameters.get("SourceProvider") == "GitHub" and url and not self.external_endpoint:
            # The GitHub repository of the template is this checkout too, behind the API stand-in.
            from pipeline.adapters.github_api import repository_of

            named = repository_of(url)
            self.emulation.github.add(f"{named.owner}/{named.name}", GitHistory(self.repo_root),
                                      token=self.github_token or "")
        if stack.parameters.get("Rollout", "none") != "none" and not self.external_endpoint:
            self._stand_in_services(stack)
        self.timeline.add("account", f"stack provisioned from template.yaml at {self.endpoint}")
        return stack

    def _stand_in_services(self, stack: Stack) -> None:
        """With Rollout on, the ECS services shipline rolls out to: the user's own infrastructure,
        which shipline never creates. Each stand-in runs a first revision of its family (rendered
        from the manifest, image tagged `stand-in`), steady, in the cluster services.toml names."""
        from pipeline.domain.task_definitions import Image, render_task_definition
        from pipeline.settings import Settings

        settings = Settings.model_validate({"PROJECT_NAME": stack.parameters.get("ProjectName", ""),
                                            "ENVIRONMENT": self.environment, "ACCOUNT_ID": ACCOUNT,
                                            "AWS_REGION": REGION})
        target, ecs = settings.target, self.client("ecs")
        role = self.model.outputs().get("TaskExecutionRoleArn", "") if self.model else ""
        unknown = self.failing_deployments - set(self.manifest.services)
        if unknown:
            raise TemplateError(f"--fail-deployment: {', '.join(sorted(unknown))} is not a service of the manifest "
                                f"({', '.join(self.manifest.names)})")
        for name, spec in self.manifest.services.items():
            where = spec.ecs_service(settings.project, self.environment)
            arguments = render_task_definition(target, spec, Image(target.repository_uri(name), "", None),
                                               execution_role_arn=role)
            arguments["containerDefinitions"][0]["image"] = target.image_uri(name, "stand-in")
            first = ecs.register_task_definition(**arguments)["taskDefinition"]["taskDefinitionArn"]
            self.emulation.deployments.stand_in(where.cluster, where.name, first)
            self._stand_in_scheduled_tasks(where, first, settings.project)
            if name in self.failing_deployments:
                self.emulation.deployments.failing.add(where.name)
            self.timeline.add("account", f"stand-in ECS service {where.cluster}/{where.name} runs "
                                         f"{first.rsplit('/', 1)[-1]}")

    def _register_stack(self, model: TemplateModel) -> None:
        """The stack in CloudFormation, with its parameters and the template's Outputs resolved to
        what was provisioned, so `shipline status` (DescribeStacks) finds it as it does in AWS.
        The resources are created directly, not by CloudFormation: the registered template holds
        only a WaitConditionHandle (a resource with no effect), so the stack lists none of them."""
        template = {
            "Description": "shipline local account: the outputs of template.yaml as provisioned",
            "Parameters": {name: {"Type": "String"} for name in model.parameters},
            "Resources": {"LocalAccount": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
            "Outputs": {key: {"Value": value} for key, value in model.outputs().items()},
        }
        # moto's server says, on its own thread, that it ignores the handle: it is meant to.
        warnings.filterwarnings("ignore", message="Tried to parse AWS::CloudFormation::WaitConditionHandle")
        self.client("cloudformation").create_stack(
            StackName=model.stack_name, TemplateBody=json.dumps(template),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in model.parameters.items()])

    def _subscribe_notifications(self) -> None:
        """An SQS subscription on every topic, so the run can report what was published."""
        sqs, sns = self.client("sqs"), self.client("sns")
        self._notification_queue = sqs.create_queue(QueueName=f"{STACK_NAME}-notifications")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self._notification_queue,
                                       AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        for topic in sns.list_topics()["Topics"]:
            sns.subscribe(TopicArn=topic["TopicArn"], Protocol="sqs", Endpoint=arn)

    def _stand_in_scheduled_tasks(self, where: Any, task_definition: str, project: str) -> None:
        """The scheduled tasks services.toml names for a service: an hourly EventBridge rule with an
        ECS target, or an EventBridge Scheduler schedule, running its first revision."""
        cluster = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{where.cluster}"
        role = f"arn:aws:iam::{ACCOUNT}:role/{project}-{self.environment}-scheduled-tasks"
        ecs = {"TaskDefinitionArn": task_definition, "TaskCount": 1, "LaunchType": "FARGATE"}
        for rule in where.schedule_rules:
            self.client("events").put_rule(Name=rule, ScheduleExpression="rate(1 hour)")
            self.client("events").put_targets(Rule=rule, Targets=[{"Id": "task", "Arn": cluster, "RoleArn": role,
                                                                   "EcsParameters": ecs}])
        for name in where.schedules:
            self.client("scheduler").create_schedule(
                Name=name, ScheduleExpression="rate(1 hour)", FlexibleTimeWindow={"Mode": "OFF"},
                Target={"Arn": cluster, "RoleArn": role, "EcsParameters": ecs})

    # ------------------------------------------------------------------ input
    def put_event(self, envelope: dict) -> str:
        """An event on the bus as its source would send it: an AWS service's own event (aws.*),
        or a principal's PutEvents."""
        assert self.stack is not None
        source = str(envelope.get("source", ""))
        if envelope.get("detail-type") == "Scheduled Event" and source == "aws.events":
            return self._deliver_schedule(envelope)
        entry = {"Source": source, "DetailType": envelope["detail-type"],
                 "Detail": json.dumps(envelope.get("detail", {})), "Resources": envelope.get("resources", [])}
        if source.startswith("aws.") and not self.external_endpoint:
            from moto.events.models import events_backends

            (answer,) = events_backends[ACCOUNT][REGION].put_events([entry])  # as the service emits it
        else:  # a principal's PutEvents, on the bus the template's rules for that source listen on
            assert self.model is not None
            entry["EventBusName"] = self.model.bus_for(source)
            response = self.client("events").put_events(Entries=[entry])
            answer = response["Entries"][0]
        if "ErrorCode" in answer:
            raise TemplateError(f"the bus refused the event: {answer['ErrorCode']}: {answer.get('ErrorMessage')}")
        return str(answer.get("EventId", ""))

    def _deliver_schedule(self, envelope: dict) -> str:
        """A schedule rule's event goes straight to that rule's targets, as EventBridge does. The
        rule is the one the event's `resources` names (a rule ARN ending in the template's event
        name, as `events/schedule-*.json` do); an event that names none is refused."""
        assert self.stack is not None
        sqs = self.client("sqs")
        named = [str(r).rsplit("/", 1)[-1].rsplit("-", 1)[-1] for r in envelope.get("resources", [])]
        rules = [rule for rule in self.stack.schedule_targets if any(n and rule.endswith(n) for n in named)]
        if not rules:
            raise TemplateError(f"the scheduled event names no schedule rule of the template "
                                f"({', '.join(sorted(self.stack.schedule_targets))})")
        for target in (t for rule in rules for t in self.stack.schedule_targets[rule]):
            queue = sqs.get_queue_url(QueueName=target.rsplit(":", 1)[-1])["QueueUrl"]
            sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(envelope))
        return str(envelope.get("id", ""))

    def listens_for(self, source: str, detail_type: str) -> bool:
        assert self.model is not None
        return self.model.listens_for(source, detail_type)

    def function_policies(self) -> dict[str, list[dict]]:
        assert self.model is not None and self.stack is not None
        return self.model.function_policies(self.stack.functions)

    def invoke_webhook(self, request: dict) -> dict:
        """A Lambda Function URL request to the function that has one."""
        function = next((f for f in (self.stack.functions.values() if self.stack else ()) if f.url), None)
        if function is None:
            provider = self.stack.parameters.get("SourceProvider", "") if self.stack else ""
            raise TemplateError(f"this stack has no webhook: no function in template.yaml has a Function URL "
                                f"with SourceProvider={provider} (the GitHub webhook exists only with "
                                "SourceProvider=GitHub)")
        size = len(json.dumps(request).encode())
        if size > FUNCTION_URL_REQUEST_LIMIT:  # Lambda refuses it before the function runs
            answer = {"statusCode": 413, "body": json.dumps({"Message": "Request must be smaller than "
                                                             f"{FUNCTION_URL_REQUEST_LIMIT} bytes for the "
                                                             "InvokeFunction operation"})}
        else:
            invocation = self._runtime.invoke(function, request)
            if invocation.error is not None:  # what the Function URL answers for a failed invocation
                status = 429 if type(invocation.error).__name__ == "_TooManyRequests" else 502
                answer = {"statusCode": status, "body": json.dumps({"Message": "Internal Server Error"})}
            else:
                response = invocation.result or {}
                answer = {"statusCode": response.get("statusCode"), "body": response.get("body")}
        self.webhook_responses.append(answer)
        message = json.loads(str(answer["body"] or "{}"))
        self.timeline.add("webhook", f"{answer['statusCode']} {message.get('message') or message.get('Message', '')}")
        return answer

    # ------------------------------------------------------------------ running
    def run(self, timeout: float = 600.0) -> int:
        """Deliver events, run invocations and builds until nothing moves. Returns the
        invocations made."""
        before = len(self._runtime.invocations)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            moved = (self._release_events() + self._drain_inboxes() + self._poll_queues() + self._runtime.pump()
                     + self._start_builds())
            if moved:
                continue
            self._running_builds = {f for f in self._running_builds if not f.done()}
            if not (self._runtime.busy() or self._running_builds or self.emulation.outbox.pending()
                    or self.emulation.codebuild.active() or self._queues_pending()):
                if not self._drain_inboxes() + self._poll_queues():
                    break
            self._wait(0.05)
        else:
            self.errors.append(f"the local account did not settle within {timeout:.0f} s")
        self._collect_notifications()
        return len(self._runtime.invocations) - before

    def _wait(self, timeout: float) -> None:
        """Until an invocation or a build ends, or `timeout` (a delayed event may fall due)."""
        from concurrent.futures import FIRST_COMPLETED, wait

        running = self._runtime.futures() | self._running_builds
        if running:
            wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
        else:
            time.sleep(timeout)

    def run_until(self, done: Callable[[], bool], timeout: float = 120.0) -> None:
        """Deliver and run until `done()` holds (a test's checkpoint in the middle of a run)."""
        deadline = time.monotonic() + timeout
        while not done() and time.monotonic() < deadline:
            moved = (self._release_events() + self._drain_inboxes() + self._runtime.pump())
            if not moved:
                self._wait(0.05)

    def report_planned(self) -> int:
        """Build starts the planner has queued so far (its BuildsPlanned metric)."""
        return int(self._runtime.metrics.get("BuildsPlanned", 0))

    def _release_events(self) -> int:
        events = self.emulation.outbox.due()
        for event in events:
            self.put_event(event)
        return len(events)

    def _drain_inboxes(self) -> int:
        assert self.stack is not None
        sqs, moved = self.client("sqs"), 0
        for function in self.stack.functions.values():
            while self._may_hold(function.inbox_url):
                messages = sqs.receive_message(QueueUrl=function.inbox_url, MaxNumberOfMessages=10).get("Messages", [])
                if not messages:
                    break
                for message in messages:
                    sqs.delete_message(QueueUrl=function.inbox_url, ReceiptHandle=message["ReceiptHandle"])
                    event = json.loads(message["Body"])
                    # moto's EventBridge leaves out the envelope's account; AWS always sends it.
                    event.setdefault("account", ACCOUNT)
                    self._runtime.submit(function, event)
                    moved += 1
        return moved

    def _poll_queues(self) -> int:
        """Lambda's event source mappings: a batch of messages per invocation; the ones the
        function reports failed (or all, when it fails) become visible again, and SQS moves a
        message past its queue's maxReceiveCount to the dead-letter queue."""
        assert self.stack is not None
        sqs, moved = self.client("sqs"), 0
        for source in self.stack.queue_sources:
            busy = self._batches.get(source.queue_arn, 0)
            if source.max_concurrency is not None and busy >= source.max_concurrency:
                continue  # the mapping's MaximumConcurrency: no more invocations until one ends
            if not self._may_hold(source.queue_url):
                continue
            messages = sqs.receive_message(QueueUrl=source.queue_url, MaxNumberOfMessages=min(source.batch_size, 10),
                                           AttributeNames=["All"]).get("Messages", [])
            if not messages:
                continue
            event = {"Records": [{
                "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs", "eventSourceARN": source.queue_arn, "awsRegion": REGION,
            } for m in messages]}
            with self._batch_lock:
                self._batches[source.queue_arn] = busy + 1
                self.peak_batches[source.function.logical_id] = max(
                    self.peak_batches.get(source.function.logical_id, 0), busy + 1)
            self._runtime.submit_batch(source.function, event, partial(self._settle_batch, source, messages))
            moved += 1
        return moved

    def _queues_pending(self) -> bool:
        """Messages still in a polled queue: visible, or in flight until a delay ends."""
        assert self.stack is not None
        sqs = self.client("sqs")
        for source in self.stack.queue_sources:
            queue = self._moto_queue(source.queue_url)
            if queue is not None:
                if queue.approximate_number_of_messages or queue.approximate_number_of_messages_not_visible:
                    return True
                continue
            counts = sqs.get_queue_attributes(QueueUrl=source.queue_url, AttributeNames=[
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
            if any(int(v) for v in counts.values()):
                return True
        return False

    def _moto_queue(self, queue_url: str) -> Any:
        """The queue in moto's state, when this account runs its own moto (None when it
        provisions into another emulator). EventBridge's deliveries and Lambda's pollers are the
        emulator's own machinery, not calls any function makes: they look at the queue there,
        and call the API only when a message is there to take."""
        if self.external_endpoint:
            return None
        from moto.sqs.models import sqs_backends

        return sqs_backends[ACCOUNT][REGION].queues.get(queue_url.rsplit("/", 1)[-1])

    def _may_hold(self, queue_url: str) -> bool:
        """Whether ReceiveMessage could return a message now (always, for another emulator)."""
        queue = self._moto_queue(queue_url)
        return queue is None or bool(queue.messages)

    def _settle_batch(self, source: QueueSource, messages: list[dict], invocation: Invocation) -> None:
        """As Lambda's mapping does: delete what succeeded; what failed stays in flight until its
        visibility timeout ends (or the delay the function set on it), then comes back."""
        sqs = self.client("sqs")
        result = invocation.result if isinstance(invocation.result, dict) else {}
        if invocation.error is not None:
            failed = {m["MessageId"] for m in messages}
        elif source.reports_failures:
            failed = {f.get("itemIdentifier") for f in result.get("batchItemFailures", [])}
        else:
            failed = set()
        for message in messages:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=source.queue_url, ReceiptHandle=message["ReceiptHandle"])
            elif int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1)) >= source.max_receives:
                # SQS moves it to the dead-letter queue when it would be received again.
                self.errors.append(f"{source.function.logical_id}: message {message['MessageId']} failed "
                                   f"{source.max_receives} times: dead-lettered ({message['Body'][:120]})")
        with self._batch_lock:
            self._batches[source.queue_arn] -= 1

    def _start_builds(self) -> int:
        builds = self.emulation.codebuild.startable()
        for build in builds:
            self._running_builds.add(self._builds.submit(self._run_build, build))
        return len(builds)

    def _run_build(self, build: Build) -> None:
        service = build.overrides.get("SERVICE", build.project.name)
        self.timeline.add("CodeBuild", f"{service} at {build.source_version[:7]}: started")
        self.emulation.codebuild.run(build)
        what = (f"{build.status}, pushed {build.exported.get('IMAGE_DIGEST', '')[:19]} as "
                f"{build.exported.get('IMAGE_TAGS', '')}" if build.status == "SUCCEEDED"
                else f"{build.status}: {build.reason}")
        self.timeline.add("CodeBuild", f"{service} at {build.commit[:7] or build.source_version[:7]}: {what}")

    def _dead_letter(self, invocation: Invocation) -> None:
        """The on-failure destination's record, as Lambda sends it after the last retry."""
        function = invocation.function
        self.errors.append(f"{function.logical_id}: {invocation.label}: {invocation.failure}")
        self.timeline.add(function.logical_id, f"FAILED {invocation.label}: {invocation.failure}")
        if not function.on_failure:
            return
        sqs = self.client("sqs")
        url = sqs.get_queue_url(QueueName=function.on_failure.rsplit(":", 1)[-1])["QueueUrl"]
        error = invocation.error
        record = {
            "version": "1.0",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "requestContext": {"requestId": "local", "functionArn": f"{function.arn}:$LATEST",
                               "condition": "RetriesExhausted", "approximateInvokeCount": invocation.attempt},
            "requestPayload": invocation.event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorMessage": str(error), "errorType": type(error).__name__},
        }
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record))

    def _record(self, invocation: Invocation) -> None:
        function, label, result = invocation.function, invocation.label, invocation.result
        if invocation.error is not None:
            self.timeline.add(function.logical_id, f"{label}: attempt {invocation.attempt} failed: "
                                                   f"{invocation.failure}")
            return
        if not isinstance(result, dict) or "statusCode" in result:
            return
        outcome = result.get("outcome", "")
        if outcome == "started":
            text = f"{label}: started builds of {', '.join(result.get('started') or [])}"
        elif outcome == "registered":
            text = f"{result.get('service')}: registered revision {result.get('revision')}"
        elif outcome == "rollouts":
            text = "; ".join(f"{r.get('service')}: {r.get('outcome')} revision {r.get('revision')}"
                             + (f" to {r['cluster']}/{r['serviceName']}" if r.get("serviceName") else "")
                             for r in result.get("rollouts", []))
        elif outcome == "recorded" and result.get("deployment"):
            text = (f"{result.get('service')}: deployment {result['deployment']} {result.get('state')}"
                    + (f", revision {result['running']} runs" if result.get("running") else ""))
        elif outcome in ("rejected", "ignored"):
            text = f"{label}: {outcome}: {result.get('reason', '')}"
            if outcome == "rejected":
                self.errors.append(f"{function.logical_id}: {label}: rejected: {result.get('reason', '')}")
        else:
            text = f"{label}: {outcome}" + (f" ({result['service']})" if result.get("service") else "")
        self.timeline.add(function.logical_id, text)

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

    # ------------------------------------------------------------------ report
    def _deployments(self) -> list[dict]:
        """Each service deployment ECS made here (Rollout on), in order: the revision it deployed,
        its state, and whether it rolled back (then `running` names the revision that runs)."""
        project = self.stack.parameters.get("ProjectName", "") if self.stack else ""
        by_ecs = {(t.cluster, t.name): name for name, spec in self.manifest.services.items()
                  for t in [spec.ecs_service(project, self.environment)]}
        found = []
        for d in sorted(self.emulation.deployments.deployments.values(), key=lambda d: d.created_at):
            rolled_back = d.status.startswith("ROLLBACK")
            found.append({"service": by_ecs.get((d.cluster, d.service), ""), "environment": self.environment,
                          "cluster": d.cluster, "serviceName": d.service,
                          "taskDefinition": d.target.rsplit("/", 1)[-1], "state": d.status, "rolledBack": rolled_back,
                          "running": ((d.source or "") if rolled_back else d.target).rsplit("/", 1)[-1]})
        return found

    @property
    def invocations(self) -> list[Invocation]:
        return self._runtime.invocations

    def _invocation_summary(self) -> dict[str, int]:
        """How the Lambda runtime delivered: duplicates, failed attempts, effects found in flight."""
        made = self._runtime.invocations
        return {
            "count": len(made),
            "duplicates": sum(1 for i in made if i.duplicate and i.attempt == 1),
            "failed": sum(1 for i in made if i.error is not None),
            "inFlight": sum(1 for i in made if isinstance(i.result, dict) and i.result.get("outcome") == "in flight"),
        }

    def report(self) -> dict:
        ecr, ecs = self.client("ecr"), self.client("ecs")
        repositories = ecr.describe_repositories().get("repositories", [])
        images = []
        for repo in repositories:
            for detail in ecr.describe_images(repositoryName=repo["repositoryName"]).get("imageDetails", []):
                images.append({"repository": repo["repositoryName"], "digest": detail["imageDigest"],
                               "tags": sorted(detail.get("imageTags", []))})
        task_definitions = []
        for status in ("ACTIVE", "INACTIVE"):  # INACTIVE: deregistered by revision retention
            for page in ecs.get_paginator("list_task_definitions").paginate(status=status):
                for arn in page.get("taskDefinitionArns", []):
                    definition = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
                    task_definitions.append({
                        "family": definition["family"], "revision": definition["revision"],
                        "status": definition["status"],
                        "containers": [{"name": c["name"], "image": c["image"]}
                                       for c in definition["containerDefinitions"]],
                    })
        task_definitions.sort(key=lambda d: (d["family"], d["revision"]))
        builds = sorted(self.emulation.codebuild.builds.values(), key=lambda b: b.submitted)
        return {
            "repositories": [{"name": r["repositoryName"],
                              "scanOnPush": r.get("imageScanningConfiguration", {}).get("scanOnPush", False),
                              "encryption": r.get("encryptionConfiguration", {}).get("encryptionType", "AES256")}
                             for r in repositories],
            "builds": [{"service": b.overrides.get("SERVICE", ""), "commit": b.commit or b.source_version,
                        "status": b.status,
                        **({"reason": b.reason, "logTail": b.log[-6:]} if b.reason else {})} for b in builds],
            "images": images,
            "taskDefinitions": task_definitions,
            "notifications": self.notifications,
            "webhookResponses": self.webhook_responses,
            "deployments": self._deployments(),
            "metrics": dict(sorted(self._runtime.metrics.items())),
            "invocations": self._invocation_summary(),
            "errors": self.errors,
        }


@functools.cache
def _function_log() -> TextIO:
    """One log file per process: the functions' loggers keep the stream they first wrote to."""
    return (Path(tempfile.mkdtemp(prefix="shipline-local-")) / "functions.log").open("a", encoding="utf-8")


def _reset_process_caches() -> None:
    from aws_lambda_powertools.utilities import parameters

    from pipeline.adapters import clients, logs
    from pipeline.flows import idempotency, repositories
    from pipeline.flows import inputs as build_inputs
    from pipeline.settings import get_settings

    clients.reset()
    idempotency.reset()
    repositories.reset()  # what a warm instance remembers having ensured
    logs.reset()
    build_inputs.reset()
    get_settings.cache_clear()  # type: ignore[attr-defined]
    parameters.clear_caches()  # also drops Powertools' providers and their clients


def prepare_for(account: LocalAccount, envelope: dict) -> None:
    """Make the emulated account agree with an injected AWS event before it is put on the bus:
    a pushed, scanned or (Inspector coverage) unscanned image exists in ECR; a scanned digest
    reports the event's counts."""
    detail = envelope.get("detail", {})
    repository = str(detail.get("repository-name", "")).split(":repository/", 1)[-1]
    digest = detail.get("image-digest")
    kind = envelope.get("detail-type")
    if kind == "Inspector2 Coverage":  # the image is the resource: <repository ARN>/<digest>
        resource = str((envelope.get("resources") or [""])[0])
        named, _, digest = resource.split(":repository/", 1)[-1].rpartition("/")
        repository, detail = named, {"image-tags": []}
    if not repository or not digest or kind not in ("ECR Image Action", "ECR Image Scan", "Inspector2 Scan",
                                                    "Inspector2 Coverage"):
        return
    if kind == "ECR Image Action" and detail.get("action-type") != "PUSH":
        return
    ecr = account.client("ecr")
    try:
        ecr.create_repository(repositoryName=repository, imageScanningConfiguration={"scanOnPush": True})
    except ecr.exceptions.RepositoryAlreadyExistsException:
        pass
    tags = [detail["image-tag"]] if detail.get("image-tag") else list(detail.get("image-tags") or [None])
    for tag in tags:
        account.emulation.ecr.seed_image(repository, digest, tag)
    if kind in ("ECR Image Scan", "Inspector2 Scan"):
        counts = {k: v for k, v in (detail.get("finding-severity-counts") or {}).items() if k != "TOTAL"}
        account.emulation.ecr.report(repository, digest, counts)


def _stop_promptly(server: Any) -> None:
    """Stop moto's threaded server without waiting out its poll: socketserver's serve_forever
    notices a shutdown request only between polls (every 0.5 s), or when a connection wakes it,
    so a connection is made until the server has stopped (each run's teardown took 0.5 s)."""
    import socket

    stopper = threading.Thread(target=server.stop, daemon=True)
    stopper.start()
    address = ("127.0.0.1", server.get_host_and_port()[1])
    while stopper.is_alive():
        try:
            socket.create_connection(address, timeout=0.2).close()
        except OSError:
            pass  # closed already: the loop ends with the thread
        stopper.join(0.02)


@functools.cache
def _session() -> boto3.session.Session:
    """The session the local accounts' own clients come from, one per process: it holds no
    account's state (each account's clients are its own, with its endpoint), only botocore's
    loaded service models, which each new session would parse again (0.4 s per account)."""
    return boto3.session.Session()
