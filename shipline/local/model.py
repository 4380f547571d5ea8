"""template.yaml as the local account and the tests read it: one model of the translated
template (parameters, the one resolver, functions, rules, resources).

The SAM translator turns the template into plain CloudFormation, as CloudFormation's own
transform would. Parameters are checked as CloudFormation checks them (AllowedValues,
AllowedPattern, MinValue/MaxValue), names and references are worked out before anything is
created, and intrinsic functions are resolved over them.

Conditions are evaluated as CloudFormation evaluates them, before anything is created
("Conditions" in the CloudFormation User Guide, the "Condition" attribute in the Template
Reference): a resource or output whose condition is false does not exist, an `Fn::If` takes one
branch only (`AWS::NoValue` drops the property or list item), and a reference to a resource that
does not exist outside the branch not taken stops the stack with its name, as CloudFormation's
"Unresolved resource dependencies" does. (SAM gives a function's Condition to every resource it
generates for it: its role, Function URL, permissions and event source mappings.)
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from samtranslator.translator.transform import transform

from pipeline.domain.quoting import shown
from shipline.local.template import TEMPLATE, raw

ACCOUNT = "123456789012"
REGION = "us-east-1"
PARTITION = "aws"
STACK_NAME = "shipline-local"  # the prefix of what the local account adds for itself (inbox queues)


class TemplateError(ValueError):
    """template.yaml (or a parameter for it) cannot be provisioned locally; the message names
    the resource or the parameter."""


class _NoManagedPolicies:
    """The translator's managed-policy lookup, offline: the template uses none by name."""

    def load(self) -> dict[str, str]:
        return {}


def translate(template: dict | None = None) -> dict:
    """The template after the SAM transform (a fresh copy each call)."""
    document = template if template is not None else raw(TEMPLATE)
    return copy.deepcopy(_translated(json.dumps(document, sort_keys=True, default=str)))


@cache
def _translated(document: str) -> dict:
    data = json.loads(document)
    data.setdefault("Globals", {}).setdefault("Function", {})["CodeUri"] = "s3://shipline-local/functions.zip"
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    logging.getLogger("samtranslator").setLevel(logging.ERROR)
    try:
        return transform(data, {}, _NoManagedPolicies())
    except Exception as exc:  # the translator raises several unrelated types
        raise TemplateError(f"template.yaml does not translate: {exc}") from None


# ---------------------------------------------------------------------------- parameters
def parse_overrides(values: list[str]) -> dict[str, str]:
    """`--parameter-overrides KEY=VALUE ...`, as `sam deploy` takes them."""
    overrides: dict[str, str] = {}
    for value in values:
        key, sep, setting = value.partition("=")
        if not sep or not key:
            raise TemplateError(f"--parameter-overrides: '{shown(value)}' is not KEY=VALUE")
        overrides[key] = setting
    return overrides


def parameter_values(template: dict, overrides: dict[str, str]) -> dict[str, str]:
    """Every parameter's value: its override, else its default; checked as CloudFormation
    checks them at deploy time."""
    declared = template.get("Parameters", {})
    for name in overrides:
        if name not in declared:
            known = ", ".join(sorted(declared))
            raise TemplateError(f"parameter '{shown(name)}' is not in template.yaml (known: {known})")
    values = {name: str(spec.get("Default", "")) for name, spec in declared.items()}
    values.update(overrides)
    for name, spec in declared.items():
        _check_parameter(name, spec, values[name])
    return values


def _check_parameter(name: str, spec: dict, value: str) -> None:
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [str(a) for a in allowed]:
        choices = ", ".join(repr(str(a)) for a in allowed)
        raise TemplateError(f"parameter {name}='{shown(value)}' is not one of {choices}")
    pattern = spec.get("AllowedPattern")
    if pattern and not re.fullmatch(pattern, value):
        # CloudFormation reports a parameter's ConstraintDescription, when it has one, instead of the pattern
        described = spec.get("ConstraintDescription")
        raise TemplateError(f"parameter {name}='{shown(value)}' " + (str(described).strip() if described else
                                                                   f"does not match its AllowedPattern {pattern}"))
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            raise TemplateError(f"parameter {name}='{shown(value)}' is not a number") from None
        if "MinValue" in spec and number < float(spec["MinValue"]):
            raise TemplateError(f"parameter {name}={value} is below its MinValue {spec['MinValue']}")
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            raise TemplateError(f"parameter {name}={value} is above its MaxValue {spec['MaxValue']}")


# ---------------------------------------------------------------------------- the resolver
_NO_VALUE = object()


class Resolver:
    """Ref, Fn::GetAtt, Fn::Sub, Fn::If, Fn::Join, Fn::Select and conditions, over known values."""

    def __init__(self, values: dict[str, Any], conditions: dict[str, Any]):
        self.values = values
        self._conditions = conditions
        self._evaluated: dict[str, bool] = {}
        self.absent: dict[str, str] = {}  # resource whose condition is false -> that condition

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            raise TemplateError(f"the template uses the condition {name}, which its Conditions section does not "
                                "declare")
        if name not in self._evaluated:
            self._evaluated[name] = bool(self._truth(self._conditions[name]))
        return self._evaluated[name]

    def truth(self, expression: Any) -> bool:
        """A condition expression's value (Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition)."""
        return self._truth(expression)

    def _truth(self, expression: Any) -> bool:
        (key, arg), = expression.items()
        if key == "Fn::Equals":
            return str(self(arg[0])) == str(self(arg[1]))
        if key == "Fn::Not":
            return not self._truth(arg[0])
        if key == "Fn::And":
            return all(self._truth(a) for a in arg)
        if key == "Fn::Or":
            return any(self._truth(a) for a in arg)
        if key == "Condition":
            return self.condition(arg)
        raise TemplateError(f"unsupported condition {key}")

    def __call__(self, value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in (self(item) for item in value) if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return _NO_VALUE if arg == "AWS::NoValue" else self._lookup(arg)
            if key == "Fn::GetAtt":
                return self._lookup(".".join(arg) if isinstance(arg, list) else arg)
            if key == "Fn::Sub":
                text, local = (arg, {}) if isinstance(arg, str) else (arg[0], self(arg[1]))
                return re.sub(r"\$\{([^}!]+)\}",
                              lambda m: str(local[m.group(1)] if m.group(1) in local else self._lookup(m.group(1))),
                              text)
            if key == "Fn::If":
                return self(arg[1] if self.condition(arg[0]) else arg[2])
            if key == "Fn::Join":
                return arg[0].join(str(v) for v in self(arg[1]))
            if key == "Fn::Select":
                return self(arg[1])[int(self(arg[0]))]
            if key == "Condition":
                return self.condition(arg)
        return {k: v for k, v in ((k, self(v)) for k, v in value.items()) if v is not _NO_VALUE}

    def _lookup(self, name: str) -> Any:
        resource = name.split(".", 1)[0]
        if resource in self.absent:
            raise TemplateError(f"the template refers to {resource}, which does not exist with these parameters "
                                f"(its condition {self.absent[resource]} is false): refer to it only inside an "
                                f"Fn::If on that condition")
        if name not in self.values:
            raise TemplateError(f"the template refers to {name}, which the local account cannot resolve")
        return self(self.values[name])


# ---------------------------------------------------------------------------- functions and rules
@dataclass
class Function:
    """A Lambda function of the stack: what the local runtime needs to invoke it as Lambda would."""

    logical_id: str
    name: str
    handler: str
    environment: dict[str, str]
    timeout: int = 3
    reserved_concurrency: int | None = None
    inbox_url: str = ""
    on_failure: str = ""  # the on-failure destination (ARN) of asynchronous invocations
    max_retries: int = 2  # Lambda's default for asynchronous invocations
    url: bool = False  # has a Function URL

    @property
    def arn(self) -> str:
        return f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{self.name}"


@dataclass(frozen=True)
class QueueSource:
    """An SQS queue a function's event source mapping polls."""

    function: Function
    queue_url: str
    queue_arn: str
    batch_size: int
    reports_failures: bool  # FunctionResponseTypes: ReportBatchItemFailures
    max_concurrency: int | None = None  # ScalingConfig.MaximumConcurrency
    max_receives: int = 1_000_000  # the queue's RedrivePolicy maxReceiveCount


@dataclass
class Stack:
    """What provisioning made: parameters, physical ids, functions, schedules, queue sources."""

    name: str
    parameters: dict[str, str]
    refs: dict[str, str] = field(default_factory=dict)
    functions: dict[str, Function] = field(default_factory=dict)
    schedule_targets: dict[str, list[str]] = field(default_factory=dict)  # schedule rule (logical id) -> targets
    queue_sources: list[QueueSource] = field(default_factory=list)
    bus_policies: dict[str, dict] = field(default_factory=dict)
    not_emulated: list[str] = field(default_factory=list)


class TemplateModel:
    """The translated template with its parameters applied: the one place that resolves it."""

    def __init__(self, template: dict | None = None, parameters: dict[str, str] | None = None,
                 endpoint: str = "http://localhost"):
        self.document = translate(template)
        self.parameters = parameter_values(self.document, parameters or {})
        self.resources: dict[str, dict] = self.document.get("Resources", {})
        # The stack's name as samconfig.toml deploys it, so `shipline status` finds it by default.
        self.stack_name = f"shipline-{self.parameters.get('Environment', 'dev')}"
        values: dict[str, Any] = {
            **self.parameters, "AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": PARTITION,
            "AWS::StackName": self.stack_name, "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": None,
        }
        self.resolve = Resolver(values, self.document.get("Conditions", {}))
        self._check_rules()
        self.resolve.absent = {logical: resource["Condition"] for logical, resource in self.resources.items()
                               if not self.included(logical)}
        self.names = self._physical_names()
        values.update(self._references(endpoint))
        self._check_references()

    def _check_rules(self) -> None:
        """The template's Rules, as CloudFormation checks them before creating anything: each
        assertion of a rule whose RuleCondition holds (or that has none) must hold."""
        for name, rule in self.document.get("Rules", {}).items():
            if "RuleCondition" in rule and not self.resolve.truth(rule["RuleCondition"]):
                continue
            for assertion in rule.get("Assertions", []):
                if not self.resolve.truth(assertion["Assert"]):
                    raise TemplateError(f"template rule {name}: "
                                        f"{assertion.get('AssertDescription', 'an assertion does not hold')}")

    # -- what exists
    def included(self, logical: str) -> bool:
        """Whether the resource exists under these parameters (its Condition holds)."""
        condition = self.resources[logical].get("Condition")
        return condition is None or self.resolve.condition(condition)

    def existing(self) -> dict[str, dict]:
        """The resources that exist under these parameters."""
        return {k: r for k, r in self.resources.items() if self.included(k)}

    def _check_references(self) -> None:
        """What CloudFormation checks before it creates anything: every resource and output that
        exists refers only to resources that exist (outside the Fn::If branch not taken)."""
        for logical, resource in self.existing().items():
            depends = resource.get("DependsOn", [])
            for other in [depends] if isinstance(depends, str) else depends:
                if other in self.resolve.absent:
                    raise TemplateError(f"{logical} depends on {other}, which does not exist with these parameters "
                                        f"(its condition {self.resolve.absent[other]} is false)")
            try:
                self.properties(logical)
            except TemplateError as exc:
                raise TemplateError(f"{logical}: {exc}") from None
        self.outputs()

    def of_type(self, kind: str) -> dict[str, dict]:
        return {k: r for k, r in self.resources.items() if r["Type"] == kind and self.included(k)}

    def properties(self, logical: str) -> dict:
        return self.resolve(self.resources[logical].get("Properties", {}))

    # -- functions
    def functions(self) -> dict[str, Function]:
        found = {}
        urls = {self._target_of(r["Properties"]["TargetFunctionArn"])
                for r in self.of_type("AWS::Lambda::Url").values()}
        for logical in self.of_type("AWS::Lambda::Function"):
            props = self.properties(logical)
            environment = {k: str(v) for k, v in props.get("Environment", {}).get("Variables", {}).items()}
            function = Function(
                logical, props.get("FunctionName", self.names[logical]), props["Handler"], environment,
                timeout=int(props.get("Timeout", 3)),
                reserved_concurrency=int(props["ReservedConcurrentExecutions"])
                if "ReservedConcurrentExecutions" in props else None,
                url=logical in urls,
            )
            found[logical] = function
        by_name = {f.name: f for f in found.values()}
        for logical in self.of_type("AWS::Lambda::EventInvokeConfig"):
            props = self.properties(logical)
            function = by_name[props["FunctionName"]]
            function.on_failure = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination", "")
            function.max_retries = int(props.get("MaximumRetryAttempts", 2))
        return found

    @staticmethod
    def _target_of(arn: Any) -> str | None:
        if isinstance(arn, dict):
            return arn.get("Ref") or (arn.get("Fn::GetAtt") or [None])[0]
        return None

    def event_patterns(self, logical: str) -> dict[str, dict]:
        """Each EventBridge rule that targets a function: rule logical id -> resolved pattern."""
        arn = self.resolve.values.get(f"{logical}.Arn")
        found = {}
        for rule in self.of_type("AWS::Events::Rule"):
            props = self.properties(rule)
            if "EventPattern" in props and any(t["Arn"] == arn for t in props.get("Targets", [])):
                found[rule] = props["EventPattern"]
        return found

    def bus_for(self, source: str) -> str:
        """The bus the template's rules for this source listen on (default, unless one names another)."""
        for rule in self.of_type("AWS::Events::Rule"):
            props = self.properties(rule)
            if source in (props.get("EventPattern") or {}).get("source", []):
                return str(props.get("EventBusName", "default"))
        return "default"

    def listens_for(self, source: str, detail_type: str) -> bool:
        """Whether any rule names this source and detail-type (an event of that kind which
        matched nothing was filtered on purpose, not left unhandled)."""
        for rule in self.of_type("AWS::Events::Rule"):
            pattern = self.properties(rule).get("EventPattern") or {}
            if source in pattern.get("source", []) and detail_type in pattern.get("detail-type", []):
                return True
        return False

    def function_policies(self, functions: dict[str, Function]) -> dict[str, list[dict]]:
        """Each function's own policy statements (its template `Policies`), resolved."""
        policies: dict[str, list[dict]] = {}
        for logical in functions:
            role = self.resources[logical]["Properties"]["Role"]["Fn::GetAtt"][0]
            statements: list[dict] = []
            for policy in self.properties(role).get("Policies", []):
                if re.fullmatch(rf"{logical}RolePolicy\d+", policy["PolicyName"]):
                    statements += policy["PolicyDocument"]["Statement"]
            policies[logical] = statements
        return policies

    def outputs(self) -> dict[str, str]:
        """The template's Outputs (those whose Condition holds), resolved: what DescribeStacks shows."""
        found = {}
        for key, output in self.document.get("Outputs", {}).items():
            if "Condition" in output and not self.resolve.condition(output["Condition"]):
                continue
            try:
                found[key] = str(self.resolve(output["Value"]))
            except TemplateError as exc:
                raise TemplateError(f"output {key}: {exc}") from None
        return found

    # -- names and references, computable before anything is created
    def _physical_names(self) -> dict[str, str]:
        """The template's own names where it gives one, else deterministic generated ones."""
        names = {}
        for logical, resource in self.resources.items():
            short = re.sub(r"[^A-Za-z0-9-]", "", logical)[:40]
            names[logical] = f"{self.stack_name}-{short}"
            props = resource.get("Properties", {})
            for key in ("Name", "TableName", "QueueName", "TopicName", "RoleName", "FunctionName", "EventBusName",
                        "DashboardName"):
                if key in props:
                    try:
                        names[logical] = str(self.resolve(props[key]))
                    except TemplateError:
                        pass  # a name made of another resource's (a permission's FunctionName): not a name
        return names

    def _references(self, endpoint: str) -> dict[str, Any]:
        values: dict[str, Any] = {}
        arn = f"arn:{PARTITION}:{{service}}:{REGION}:{ACCOUNT}:{{rest}}"
        for logical, resource in self.existing().items():
            name, kind = self.names[logical], resource["Type"]
            ref: Any = name
            attrs: dict[str, Any] = {}
            if kind == "AWS::SQS::Queue":
                ref = f"{endpoint}/{ACCOUNT}/{name}"
                attrs = {"Arn": arn.format(service="sqs", rest=name), "QueueName": name, "QueueUrl": ref}
            elif kind == "AWS::DynamoDB::Table":
                attrs = {"Arn": arn.format(service="dynamodb", rest=f"table/{name}")}
            elif kind == "AWS::SNS::Topic":
                ref = arn.format(service="sns", rest=name)
                attrs = {"TopicArn": ref, "TopicName": name}
            elif kind == "AWS::IAM::Role":
                attrs = {"Arn": f"arn:{PARTITION}:iam::{ACCOUNT}:role/{name}", "RoleId": name}
            elif kind == "AWS::CodeBuild::Project":
                attrs = {"Arn": arn.format(service="codebuild", rest=f"project/{name}")}
            elif kind == "AWS::Lambda::Function":
                attrs = {"Arn": arn.format(service="lambda", rest=f"function:{name}")}
            elif kind == "AWS::Lambda::Url":
                attrs = {"FunctionUrl": f"{endpoint}/lambda-url/{name}/", "FunctionArn": ""}
            elif kind == "AWS::Logs::LogGroup":
                ref = resource.get("Properties", {}).get("LogGroupName", name)
                attrs = {"Arn": {"Fn::Sub": [f"arn:{PARTITION}:logs:{REGION}:{ACCOUNT}:log-group:${{Name}}:*",
                                             {"Name": ref}]}}
            elif kind == "AWS::Events::Rule":
                attrs = {"Arn": arn.format(service="events", rest=f"rule/{name}")}
            elif kind == "AWS::Events::EventBus":
                attrs = {"Arn": arn.format(service="events", rest=f"event-bus/{name}"), "Name": name}
            elif kind == "AWS::SecretsManager::Secret":
                ref = arn.format(service="secretsmanager", rest=f"secret:{name}-AbCdEf")
            elif kind == "AWS::KMS::Key":
                ref = "00000000-0000-0000-0000-000000000000"
                attrs = {"Arn": arn.format(service="kms", rest=f"key/{ref}")}
            values[logical] = ref
            for attr, value in attrs.items():
                values[f"{logical}.{attr}"] = value
        return values
