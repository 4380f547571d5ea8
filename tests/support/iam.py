"""What IAM permission each AWS call needs, and whether a function's policy grants it.

The calls are recorded through botocore's event hooks while the functions run; the policies
are the functions' own statements in the SAM-translated template.yaml. Conditions are not
evaluated (they only narrow a grant); everything else is: actions and resource ARNs.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

ACCOUNT, REGION = "123456789012", "us-east-1"


@dataclass(frozen=True)
class Need:
    action: str
    resource: str
    because: str  # the call that needs it


def _arn(service: str, rest: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{rest}"


@dataclass(frozen=True)
class Facts:
    """What a call implies beyond its parameters, read from the account when it was made."""

    topic_keys: dict[str, str] = field(default_factory=dict)  # encrypted topic -> its KMS key
    enhanced_scanning: bool = False  # the ECR repository is scanned by Amazon Inspector


def needs(service: str, operation: str, params: dict, facts: Facts) -> list[Need]:
    """The permissions one call needs (an action may need more than its own name)."""
    call = f"{service}:{operation}"
    topic_keys = facts.topic_keys
    if service == "ecr":
        name = params["repositoryName"] if "repositoryName" in params else params["repositoryNames"][0]
        resource = _arn("ecr", f"repository/{name}")
        found = [Need(call, resource, call)]
        if operation == "CreateRepository" and params.get("tags"):
            found.append(Need("ecr:TagResource", resource, f"{call} with tags"))
        if operation == "DescribeImageScanFindings" and facts.enhanced_scanning:
            # ECR User Guide, "image-scanning-enhanced-iam": findings come from Amazon Inspector.
            found.append(Need("inspector2:ListFindings", "*", f"{call} on an enhanced-scanning registry"))
        return found
    if service == "codebuild":
        return [Need(call, _arn("codebuild", f"project/{params['projectName']}"), call)]
    if service == "codecommit":
        return [Need(call, _arn("codecommit", params["repositoryName"]), call)]
    if service == "dynamodb":
        if operation in ("TransactWriteItems", "TransactGetItems"):
            # Each member is authorised as its own action ("Using IAM with DynamoDB transactions":
            # Put, Update, Delete and Get need PutItem, UpdateItem, DeleteItem and GetItem;
            # ConditionCheck needs dynamodb:ConditionCheckItem).
            actions = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "Get": "GetItem",
                       "ConditionCheck": "ConditionCheckItem"}
            return [Need(f"dynamodb:{actions[kind]}", _arn("dynamodb", f"table/{member['TableName']}"),
                         f"{call} ({kind})")
                    for item in params["TransactItems"] for kind, member in item.items()]
        return [Need(call, _arn("dynamodb", f"table/{params['TableName']}"), call)]
    if service == "sns":
        topic = params["TopicArn"]
        found = [Need(call, topic, call)]
        if topic in topic_keys:  # publishing to an encrypted topic uses its key
            found += [Need(f"kms:{a}", topic_keys[topic], f"{call} to an encrypted topic")
                      for a in ("GenerateDataKey", "Decrypt")]
        return found
    if service == "events" and operation in ("ListTargetsByRule", "PutTargets"):
        found = [Need(call, _arn("events", f"rule/{params['Rule']}"), call)]
        found += [Need("iam:PassRole", t["RoleArn"], f"{call} with a target's RoleArn")
                  for t in params.get("Targets", []) if t.get("RoleArn")]
        return found
    if service == "scheduler":
        found = [Need(call, _arn("scheduler", f"schedule/{params.get('GroupName', 'default')}/{params['Name']}"),
                      call)]
        if operation == "UpdateSchedule" and params.get("Target", {}).get("RoleArn"):
            found.append(Need("iam:PassRole", params["Target"]["RoleArn"], f"{call} with the target's RoleArn"))
        return found
    if service == "events":
        bus = params["Entries"][0].get("EventBusName", "default")
        return [Need(call, bus if bus.startswith("arn:") else _arn("events", f"event-bus/{bus}"), call)]
    if service == "sqs":
        queue = _arn("sqs", params["QueueUrl"].rstrip("/").rsplit("/", 1)[-1])
        # SendMessageBatch is authorised as SendMessage (SQS has no batch actions in IAM).
        action = {"SendMessageBatch": "sqs:SendMessage", "DeleteMessageBatch": "sqs:DeleteMessage",
                  "ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility"}.get(operation, call)
        return [Need(action, queue, call)]
    if service == "logs":
        return [Need(call, _arn("logs", f"log-group:{params['logGroupName']}"), call)]
    if service == "secretsmanager":
        return [Need(call, params["SecretId"], call)]
    if service == "ecs" and operation in ("DescribeServices", "UpdateService", "ListServiceDeployments"):
        # Authorised on the service (Service Authorization Reference; ECS Developer Guide,
        # "Permissions required for viewing Amazon ECS service deployments").
        names = params.get("services") or [params["service"]]
        return [Need(call, _arn("ecs", f"service/{params.get('cluster', 'default')}/{name.rsplit('/', 1)[-1]}"), call)
                for name in names]
    if service == "ecs" and operation == "DescribeServiceRevisions":  # authorised on each service revision
        return [Need(call, arn, call) for arn in params["serviceRevisionArns"]]
    if service == "ecs" and operation == "StopServiceDeployment":
        return [Need(call, params["serviceDeploymentArn"], call)]
    if service == "ecs":
        found = [Need(call, "*", call)]
        if operation == "RegisterTaskDefinition":
            if params.get("tags"):
                found.append(Need("ecs:TagResource", _arn("ecs", f"task-definition/{params['family']}:*"),
                                  f"{call} with tags"))
            for role in ("executionRoleArn", "taskRoleArn"):
                if params.get(role):
                    found.append(Need("iam:PassRole", params[role], f"{call} with {role}"))
        return found
    raise AssertionError(f"no IAM mapping for {call}: add one to tests/support/iam.py")


def _listed(value) -> list[str]:
    return value if isinstance(value, list) else [value]


def _allows(statement: dict, action: str, resource: str) -> bool:
    if statement.get("Effect") != "Allow":
        return False
    actions = [a.lower() for a in _listed(statement.get("Action", []))]
    if not any(fnmatch.fnmatchcase(action.lower(), pattern) for pattern in actions):
        return False
    return any(pattern == "*" or fnmatch.fnmatchcase(resource, pattern) or resource == "*" and pattern == "*"
               for pattern in _listed(statement.get("Resource", [])))


def coverage_problems(function: str, statements: list[dict], recorded: list[Need]) -> list[str]:
    """Calls the policy does not allow, and granted actions no recorded call used."""
    problems = [f"{function}: {need.because} needs {need.action} on {need.resource}, which its policy does not grant"
                for need in dict.fromkeys(recorded) if not any(_allows(s, need.action, need.resource)
                                                              for s in statements)]
    for statement in statements:
        for action in _listed(statement.get("Action", [])):
            used = any(fnmatch.fnmatchcase(need.action.lower(), action.lower()) and
                       any(p == "*" or fnmatch.fnmatchcase(need.resource, p) for p in _listed(statement["Resource"]))
                       for need in recorded)
            if not used:
                problems.append(f"{function}: its policy grants {action} on {statement['Resource']}, "
                                "which no code path uses")
    return problems
