"""Creating the translated template's resources in the emulator, each type with the API call
CloudFormation would make, looked up in a table. A type the table does not know stops the
provisioning with its name: the local account would otherwise run a stack that is not the
template's.

Lambda functions are not created in the emulator: their handlers run in the local account's
process (runtime.py), and each function's EventBridge rules target an SQS inbox instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shipline.local.model import STACK_NAME, Function, QueueSource, Stack, TemplateError, TemplateModel

CREATION_ORDER = (
    "AWS::KMS::Key", "AWS::Logs::LogGroup", "AWS::SQS::Queue", "AWS::SQS::QueuePolicy", "AWS::DynamoDB::Table",
    "AWS::SNS::Topic", "AWS::SNS::Subscription", "AWS::SecretsManager::Secret", "AWS::IAM::Role",
    "AWS::CodeBuild::Project", "AWS::Events::EventBus", "AWS::Events::EventBusPolicy", "AWS::Lambda::Function",
    "AWS::Lambda::EventInvokeConfig", "AWS::Events::Rule", "AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard",
)
# Types with no behaviour in a local run, and why.
NO_BEHAVIOUR = {
    "AWS::Lambda::Permission": "a grant to the Lambda service: local invocations need none",
    "AWS::Lambda::Url": "requests reach the function through LocalAccount.invoke_webhook",
}


# Lambda keeps at least this much of an account's concurrency unreserved (or all of it, in an
# account whose quota is smaller, such as a new account's): "You can reserve up to the Unreserved
# account concurrency value that is shown, minus 100 for functions that don't have reserved
# concurrency" (Lambda Developer Guide, "Configuring reserved concurrency").
UNRESERVED_MINIMUM = 100
DEFAULT_LAMBDA_CONCURRENCY = 1000  # an account's default quota of concurrent executions per Region


@dataclass
class Provisioner:
    make_client: Callable[[str], Any]
    webhook_secret: str
    lambda_concurrency: int = DEFAULT_LAMBDA_CONCURRENCY  # the account's quota

    def __post_init__(self) -> None:
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:  # one client per service: making one costs more than most calls
            self._clients[service] = self.make_client(service)
        return self._clients[service]

    def create_all(self, model: TemplateModel) -> Stack:
        stack = Stack(model.stack_name, model.parameters)
        functions: dict[str, Function] = {}  # read when the first function is made: its environment
        order = {kind: index for index, kind in enumerate(CREATION_ORDER)}
        unknown = sorted({r["Type"] for r in model.resources.values()} - set(CREATORS) - set(NO_BEHAVIOUR))
        if unknown:
            raise TemplateError(f"the local account cannot create {', '.join(unknown)}: add a creator to "
                                "shipline/local/resources.py")
        for logical, resource in _creation_order(model.resources, order):
            if not model.included(logical):
                continue
            kind = resource["Type"]
            if kind in NO_BEHAVIOUR:
                stack.not_emulated.append(f"{logical} ({kind}): {NO_BEHAVIOUR[kind]}")
                continue
            try:
                CREATORS[kind](self, stack, model, logical, functions)
            except TemplateError:
                raise
            except Exception as exc:
                raise TemplateError(f"{logical} ({kind}): {exc}") from exc
        stack.refs = {k: v for k, v in model.resolve.values.items() if isinstance(v, str)}
        return stack

    # ------------------------------------------------------------------ creators
    def kms_key(self, stack: Stack, model: TemplateModel, logical: str, functions: dict) -> None:
        props = model.properties(logical)
        key = self.client("kms").create_key(Description=props.get("Description", logical))["KeyMetadata"]
        model.resolve.values[logical], model.resolve.values[f"{logical}.Arn"] = key["KeyId"], key["Arn"]

    def log_group(self, stack: Stack, model: TemplateModel, logical: str, functions: dict) -> None:
        props = model.properties(logical)
        name = props.get("LogGroupName", model.names[logical])
        logs = self.client("logs")
        logs.create_log_group(logGroupName=name)
        if "RetentionInDays" in props:
            logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))

    def queue(self, stack: Stack, model: TemplateModel, logical: str, functions: dict) -> None:
        props = model.properties(logical)
        sqs = self.client("sqs")
        attributes = {k: str(props[k]) for k in ("MessageRetentionPeriod", "VisibilityTimeout",
                                                   "ReceiveMessageWaitTimeSeconds") if k in props}
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        name = props.get("QueueName", model.names[logical])
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        values = model.resolve.values
        values[logical], values[f"{logical}.Arn"], values[f"{logical}.QueueUrl"] = url, arn, url

    def queue_policy(self, stack: Stack, model: TemplateModel, logical: str, functions: dict) -> None:
        props = model.properties(logical)
        for url in props["Queues"]:
            self.client("sqs").set_queue_attributes(QueueUrl=url,
                                                    Attributes={"Policy": json.dumps(props["PolicyDocument"])})

    def table(self, stack: Stack, model: TemplateModel, logical: str, functions: dict) -> None:
        props = model.properties(logical)
        dynamodb = self.client("dynamodb")
        name = props.get("TableName", model.names[logical])
        dynamodb.create_table(TableName=name, KeySchema=props["KeySchema"],
                              AttributeDefinitions=props["AttributeDefinitions"],
                              BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"))
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification={
                "AttributeName": ttl["AttributeName"], "Enabled": bool(ttl["Enabled"])})

    def topic(self, stack: Stack, model: TemplateModel, logical: str, functions: dict) -> None:
        props = model.properties(logical)
        attributes = {k: str(props[k]) for k in ("KmsMasterKeyId", "DisplayName") if k in props}
        arn = self.client("sns").create_topic(Name=props.get("TopicName", model.names[logical]),
                                              Attributes=attributes)["TopicArn"]
        model.resolve.values[logical] = model.resolve.values[f"{logical}.TopicArn"] = arn

    def subscription(self, stack: Stack, model: TemplateModel, logical: str, functions: dict) -> None:
        props = model.properties(logical)
        self.client("sns").subscribe(TopicArn=props["TopicArn"], Protocol=props["Protocol"], Endpoint=props["Endpoint"])

    def secret(self, stack: Stack, model: TemplateModel, logical: str, functions: dict) -> None:
        props = model.properties(logical)
        # GenerateSecretString would make a random one; locally it is the documented secret.
        value = props.get("SecretString", self.webhook_secret)
        arn = self.client("secretsmanager").create_secret(Name=props.get("Name", model.names[logical]),
                                                          SecretString=value)["ARN"]
        model.resolve.values[logical] = arn

    def role(self, stack: Stack, model: TemplateModel, logical: str, functions: dict) -> None:
        props = model.properties(logical)
        iam = self.client("iam")
        role = iam.create_role(RoleName=props.get("RoleName", model.names[logical]),
                               AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"]))["Role"]
        model.resolve.values[f"{logical}.Arn"] = role["Arn"]
        for policy in props.get("Policies", []):
            # SAM writes some policies without a Version, which IAM reads as 2008-10-17 and
            # moto refuses; the statements mean the same under 2012-10-17.
            document = {"Version": "2012-10-17", **policy["PolicyDocument"]}
            iam.put_role_policy(RoleName=role["RoleName"], PolicyName=policy["PolicyName"],
                                PolicyDocument=json.dumps(document))

    def build_project(self, stack: Stack, model: TemplateModel, logical: str, functions: dict) -> None:
        props = model.properties(logical)
        source, environment = props["Source"], props["Environment"]
        arguments: dict[str, Any] = {
            "name": props.get("Name", model.names[logical]),
            "source": {"type": source["Type"], "location": source.get("Location", ""),
                       "buildspec": source.get("BuildSpec", ""),
                       **({"gitCloneDepth": int(source["GitCloneDepth"])} if "GitCloneDepth" in source else {})},
            "artifacts": {"type": props.get("Artifacts", {}).get("Type", "NO_ARTIFACTS")},
            "environment": {"type": environment["Type"], "image": environment["Image"],
                            "computeType": environment["ComputeType"],
                            "privilegedMode": bool(environment.get("PrivilegedMode", False)),
                            "environmentVariables": [{"name": v["Name"], "value": str(v["Value"]),
                                                      "type": v.get("Type", "PLAINTEXT")}
                                                     for v in environment.get("EnvironmentVariables", [])]},
            "serviceRole": props["ServiceRole"],
        }
        if "TimeoutInMinutes" in props:
            arguments["timeoutInMinutes"] = int(props["TimeoutInMinutes"])
        if "ConcurrentBuildLimit" in props:
            arguments["concurrentBuildLimit"] = int(props["ConcurrentBuildLimit"])
        self.client("codebuild").create_project(**arguments)

    def event_bus(self, stack: Stack, model: TemplateModel, logical: str, functions: dict) -> None:
        props = model.properties(logical)
        arn = self.client("events").create_event_bus(Name=props["Name"])["EventBusArn"]
        model.resolve.values[f"{logical}.Arn"] = arn

    def event_bus_policy(self, stack: Stack, model: TemplateModel, logical: str, functions: dict) -> None:
        # Kept on the bus as written; the local account does not evaluate resource policies.
        props = model.properties(logical)
        statement = {"Sid": props["StatementId"], **props["Statement"]}
        stack.bus_policies[props["EventBusName"]] = {"Version": "2012-10-17", "Statement": [statement]}

    def function(self, stack: Stack, model: TemplateModel, logical: str, functions: dict[str, Function]) -> None:
        if not functions:  # everything a function's environment names exists by now
            functions.update(model.functions())
        function = functions[logical]
        if function.reserved_concurrency is not None:
            reserved = function.reserved_concurrency + sum(f.reserved_concurrency or 0
                                                           for f in stack.functions.values())
            minimum = min(UNRESERVED_MINIMUM, self.lambda_concurrency)
            if self.lambda_concurrency - reserved < minimum:  # Lambda's InvalidParameterValueException
                raise TemplateError(
                    f"{logical}: Specified ReservedConcurrentExecutions for function decreases account's "
                    f"UnreservedConcurrentExecution below its minimum value of [{minimum}].")
        function.inbox_url = self.client("sqs").create_queue(QueueName=f"{STACK_NAME}-{logical}-inbox")["QueueUrl"]
        stack.functions[logical] = function
        model.resolve.values[f"{logical}.Arn"] = function.arn

    def invoke_config(self, stack: Stack, model: TemplateModel, logical: str, functions: dict) -> None:
        pass  # read into each Function by the model (destination, retries)

    def event_source_mapping(self, stack: Stack, model: TemplateModel, logical: str, functions: dict) -> None:
        """Lambda polling a queue: the local account's loop does the polling (account.py)."""
        props = model.properties(logical)
        by_name = {f.name: f for f in stack.functions.values()}
        queue_name = props["EventSourceArn"].rsplit(":", 1)[-1]
        url = self.client("sqs").get_queue_url(QueueName=queue_name)["QueueUrl"]
        redrive = self.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"]).get(
            "Attributes", {}).get("RedrivePolicy")
        limit = props.get("ScalingConfig", {}).get("MaximumConcurrency")
        stack.queue_sources.append(QueueSource(by_name[props["FunctionName"]], url, props["EventSourceArn"],
                                               int(props.get("BatchSize", 10)),
                                               "ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
                                               int(limit) if limit else None,
                                               int(json.loads(redrive)["maxReceiveCount"]) if redrive else 1_000_000))

    def rule(self, stack: Stack, model: TemplateModel, logical: str, functions: dict[str, Function]) -> None:
        props = model.properties(logical)
        events, sqs = self.client("events"), self.client("sqs")
        name = model.names[logical]
        bus = props.get("EventBusName", "default")
        rule: dict[str, Any] = {"Name": name, "State": props.get("State", "ENABLED"), "EventBusName": bus}
        if "EventPattern" in props:
            rule["EventPattern"] = json.dumps(props["EventPattern"])
        if "ScheduleExpression" in props:
            rule["ScheduleExpression"] = props["ScheduleExpression"]
        events.put_rule(**rule)
        by_arn = {f.arn: f for f in stack.functions.values()}
        targets = []
        for target in props.get("Targets", []):
            function = by_arn.get(target["Arn"])
            arn = target["Arn"]
            if function:  # the handler runs here: deliver to its inbox
                arn = sqs.get_queue_attributes(QueueUrl=function.inbox_url,
                                               AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            entry = {"Id": target["Id"], "Arn": arn}
            if "DeadLetterConfig" in target:
                entry["DeadLetterConfig"] = target["DeadLetterConfig"]
            if "RetryPolicy" in target:
                entry["RetryPolicy"] = {k: int(v) for k, v in target["RetryPolicy"].items()}
            targets.append(entry)
        if "ScheduleExpression" in props:
            # moto would send every event to a rule without a pattern; the schedule's targets are
            # kept here and its events delivered to them directly (LocalAccount.put_event).
            stack.schedule_targets.setdefault(logical, []).extend(t["Arn"] for t in targets)
        elif targets:
            events.put_targets(Rule=name, EventBusName=bus, Targets=targets)

    def alarm(self, stack: Stack, model: TemplateModel, logical: str, functions: dict) -> None:
        props = model.properties(logical)
        arguments = {k[0].upper() + k[1:]: v for k, v in props.items()}
        arguments.setdefault("AlarmName", model.names[logical])
        for key in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
            if key in arguments:
                arguments[key] = int(arguments[key])
        if "Threshold" in arguments:
            arguments["Threshold"] = float(arguments["Threshold"])
        self.client("cloudwatch").put_metric_alarm(**arguments)

    def dashboard(self, stack: Stack, model: TemplateModel, logical: str, functions: dict) -> None:
        props = model.properties(logical)
        self.client("cloudwatch").put_dashboard(DashboardName=props.get("DashboardName", model.names[logical]),
                                                DashboardBody=props["DashboardBody"])


def _creation_order(resources: dict[str, dict], order: dict[str, int]) -> list[tuple[str, dict]]:
    """By type (CREATION_ORDER), and within a type after what a resource refers to (a queue
    after its dead-letter queue), as CloudFormation orders by dependency."""
    def refers(value: Any) -> set[str]:
        if isinstance(value, dict):
            found = set()
            for key, inner in value.items():
                if key == "Ref" and isinstance(inner, str) and inner in resources:
                    found.add(inner)
                elif key == "Fn::GetAtt" and isinstance(inner, list) and inner and inner[0] in resources:
                    found.add(inner[0])
                else:
                    found |= refers(inner)
            return found
        if isinstance(value, list):
            return set().union(*(refers(v) for v in value)) if value else set()
        return set()

    done: list[str] = []
    placed: set[str] = set()

    def place(logical: str, seen: frozenset[str] = frozenset()) -> None:
        if logical in placed or logical in seen:
            return
        kind = resources[logical]["Type"]
        for other in sorted(refers(resources[logical].get("Properties", {}))):
            if resources[other]["Type"] == kind:
                place(other, seen | {logical})
        placed.add(logical)
        done.append(logical)

    for logical in sorted(resources, key=lambda name: order.get(resources[name]["Type"], 99)):
        place(logical)
    return sorted(((name, resources[name]) for name in done),
                  key=lambda item: (order.get(item[1]["Type"], 99), done.index(item[0])))


CREATORS: dict[str, Callable[..., None]] = {
    "AWS::KMS::Key": Provisioner.kms_key,
    "AWS::Logs::LogGroup": Provisioner.log_group,
    "AWS::SQS::Queue": Provisioner.queue,
    "AWS::SQS::QueuePolicy": Provisioner.queue_policy,
    "AWS::DynamoDB::Table": Provisioner.table,
    "AWS::SNS::Topic": Provisioner.topic,
    "AWS::SNS::Subscription": Provisioner.subscription,
    "AWS::SecretsManager::Secret": Provisioner.secret,
    "AWS::IAM::Role": Provisioner.role,
    "AWS::CodeBuild::Project": Provisioner.build_project,
    "AWS::Events::EventBus": Provisioner.event_bus,
    "AWS::Events::EventBusPolicy": Provisioner.event_bus_policy,
    "AWS::Lambda::Function": Provisioner.function,
    "AWS::Lambda::EventInvokeConfig": Provisioner.invoke_config,
    "AWS::Lambda::EventSourceMapping": Provisioner.event_source_mapping,
    "AWS::Events::Rule": Provisioner.rule,
    "AWS::CloudWatch::Alarm": Provisioner.alarm,
    "AWS::CloudWatch::Dashboard": Provisioner.dashboard,
}
