"""Creating the translated template's resources in the emulator, each with the API call
CloudFormation would make. Lambda functions are not created: their handlers run in the local
account's process, and each function's EventBridge rules target an SQS inbox instead."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shipline.local.provision import ACCOUNT, REGION, Function, Resolver, Stack

STACK_NAME = "shipline-local"
CREATION_ORDER = (
    "AWS::KMS::Key", "AWS::Logs::LogGroup", "AWS::SQS::Queue", "AWS::SQS::QueuePolicy", "AWS::DynamoDB::Table",
    "AWS::SNS::Topic", "AWS::SNS::Subscription", "AWS::SecretsManager::Secret", "AWS::IAM::Role",
    "AWS::CodeBuild::Project", "AWS::Lambda::Function", "AWS::Lambda::EventInvokeConfig", "AWS::Events::Rule",
    "AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard",
)
# Resources with no behaviour in a local run (permissions of the Lambda service, Function URLs).
_NOT_EMULATED = ("AWS::Lambda::Permission", "AWS::Lambda::Url")


@dataclass
class Provisioner:
    client: Callable[[str], Any]
    webhook_secret: str

    def create(self, stack: Stack, logical: str, resource: dict, name: str, resolve: Resolver) -> None:
        kind = resource["Type"]
        props = resolve(resource.get("Properties", {}))
        if kind == "AWS::KMS::Key":
            key = self.client("kms").create_key(Description=props.get("Description", logical))["KeyMetadata"]
            resolve.values[logical], resolve.values[f"{logical}.Arn"] = key["KeyId"], key["Arn"]
        elif kind == "AWS::Logs::LogGroup":
            logs = self.client("logs")
            logs.create_log_group(logGroupName=props.get("LogGroupName", name))
            if "RetentionInDays" in props:
                logs.put_retention_policy(logGroupName=props.get("LogGroupName", name),
                                          retentionInDays=int(props["RetentionInDays"]))
        elif kind == "AWS::SQS::Queue":
            sqs = self.client("sqs")
            url = sqs.create_queue(QueueName=props.get("QueueName", name))["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            resolve.values[logical], resolve.values[f"{logical}.Arn"] = url, arn
            resolve.values[f"{logical}.QueueUrl"] = url
        elif kind == "AWS::SQS::QueuePolicy":
            for url in props["Queues"]:
                self.client("sqs").set_queue_attributes(
                    QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])})
        elif kind == "AWS::DynamoDB::Table":
            dynamodb = self.client("dynamodb")
            table = props.get("TableName", name)
            dynamodb.create_table(TableName=table, KeySchema=props["KeySchema"],
                                  AttributeDefinitions=props["AttributeDefinitions"],
                                  BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"))
            ttl = props.get("TimeToLiveSpecification")
            if ttl:
                dynamodb.update_time_to_live(TableName=table, TimeToLiveSpecification={
                    "AttributeName": ttl["AttributeName"], "Enabled": bool(ttl["Enabled"])})
        elif kind == "AWS::SNS::Topic":
            attributes = {k: str(props[p]) for k, p in (("KmsMasterKeyId", "KmsMasterKeyId"),
                                                       ("DisplayName", "DisplayName")) if p in props}
            arn = self.client("sns").create_topic(Name=props.get("TopicName", name), Attributes=attributes)["TopicArn"]
            resolve.values[logical] = resolve.values[f"{logical}.TopicArn"] = arn
        elif kind == "AWS::SNS::Subscription":
            self.client("sns").subscribe(TopicArn=props["TopicArn"], Protocol=props["Protocol"],
                                         Endpoint=props["Endpoint"])
        elif kind == "AWS::SecretsManager::Secret":
            # GenerateSecretString would make a random one; locally it is the documented secret.
            value = props.get("SecretString", self.webhook_secret)
            arn = self.client("secretsmanager").create_secret(Name=props.get("Name", name), SecretString=value)["ARN"]
            resolve.values[logical] = arn
        elif kind == "AWS::IAM::Role":
            iam = self.client("iam")
            role = iam.create_role(RoleName=props.get("RoleName", name),
                                   AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"]))["Role"]
            resolve.values[f"{logical}.Arn"] = role["Arn"]
            for policy in props.get("Policies", []):
                # SAM writes some policies without a Version, which IAM reads as 2008-10-17 and
                # moto refuses; the statements mean the same under 2012-10-17.
                document = {"Version": "2012-10-17", **policy["PolicyDocument"]}
                iam.put_role_policy(RoleName=role["RoleName"], PolicyName=policy["PolicyName"],
                                    PolicyDocument=json.dumps(document))
        elif kind == "AWS::CodeBuild::Project":
            source, environment = props["Source"], props["Environment"]
            self.client("codebuild").create_project(
                name=props.get("Name", name),
                source={"type": source["Type"], "location": source.get("Location", ""),
                        "buildspec": source.get("BuildSpec", "")},
                artifacts={"type": props.get("Artifacts", {}).get("Type", "NO_ARTIFACTS")},
                environment={"type": environment["Type"], "image": environment["Image"],
                             "computeType": environment["ComputeType"],
                             "privilegedMode": bool(environment.get("PrivilegedMode", False))},
                serviceRole=props["ServiceRole"],
            )
        elif kind == "AWS::Lambda::Function":
            function = Function(logical, props.get("FunctionName", name), props["Handler"],
                                {k: str(v) for k, v in props.get("Environment", {}).get("Variables", {}).items()})
            sqs = self.client("sqs")
            function.inbox_url = sqs.create_queue(QueueName=f"{STACK_NAME}-{logical}-inbox")["QueueUrl"]
            stack.functions[logical] = function
            resolve.values[f"{logical}.Arn"] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function.name}"
        elif kind == "AWS::Lambda::EventInvokeConfig":
            by_name = {f.name: f for f in stack.functions.values()}
            on_failure = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination", "")
            by_name[props["FunctionName"]].on_failure = on_failure
            by_name[props["FunctionName"]].max_retries = int(props.get("MaximumRetryAttempts", 2))
        elif kind == "AWS::Events::Rule":
            self._rule(stack, logical, props, name)
        elif kind == "AWS::CloudWatch::Alarm":
            cloudwatch_alarm(self.client("cloudwatch"), props, name)
        elif kind == "AWS::CloudWatch::Dashboard":
            self.client("cloudwatch").put_dashboard(DashboardName=props.get("DashboardName", name),
                                                    DashboardBody=props["DashboardBody"])
        elif kind in _NOT_EMULATED:
            stack.skipped.append(f"{logical} ({kind})")
        else:
            stack.skipped.append(f"{logical} ({kind}: not emulated)")

    def _rule(self, stack: Stack, logical: str, props: dict, name: str) -> None:
        events = self.client("events")
        rule: dict[str, Any] = {"Name": name, "State": props.get("State", "ENABLED")}
        if "EventPattern" in props:
            rule["EventPattern"] = json.dumps(props["EventPattern"])
        if "ScheduleExpression" in props:
            rule["ScheduleExpression"] = props["ScheduleExpression"]
        events.put_rule(**rule)
        targets = []
        by_arn = {f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{f.name}": f for f in stack.functions.values()}
        sqs = self.client("sqs")
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
            # kept here and its events delivered to them directly (see put_event).
            stack.schedule_targets.extend(t["Arn"] for t in targets)
        elif targets:
            events.put_targets(Rule=name, Targets=targets)


def cloudwatch_alarm(cloudwatch: Any, props: dict, name: str) -> None:
    arguments = {k[0].upper() + k[1:]: v for k, v in props.items()}
    arguments.setdefault("AlarmName", name)
    for key in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
        if key in arguments:
            arguments[key] = int(arguments[key])
    if "Threshold" in arguments:
        arguments["Threshold"] = float(arguments["Threshold"])
    cloudwatch.put_metric_alarm(**arguments)
