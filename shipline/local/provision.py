"""template.yaml as the local account reads it: translated by the SAM translator (as
CloudFormation's transform would), parameters checked, names and references worked out and
intrinsic functions resolved. `resources.py` then creates what it describes."""

from __future__ import annotations

import copy
import json
import logging
import os
import re
from dataclasses import dataclass, field
from typing import Any

from samtranslator.translator.transform import transform

from shipline.local.template import TEMPLATE, raw

ACCOUNT = "123456789012"
REGION = "us-east-1"


class TemplateError(ValueError):
    """template.yaml cannot be provisioned locally; the message names the resource."""


class _NoManagedPolicies:
    """The translator's managed-policy lookup, offline: the template uses none by name."""

    def load(self) -> dict[str, str]:
        return {}


def translate(template: dict | None = None) -> dict:
    document = copy.deepcopy(template if template is not None else raw(TEMPLATE))
    document.setdefault("Globals", {}).setdefault("Function", {})["CodeUri"] = "s3://shipline-local/functions.zip"
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    logging.getLogger("samtranslator").setLevel(logging.ERROR)
    try:
        return transform(document, {}, _NoManagedPolicies())
    except Exception as exc:  # the translator raises several unrelated types
        raise TemplateError(f"template.yaml does not translate: {exc}") from None


@dataclass
class Function:
    logical_id: str
    name: str
    handler: str
    environment: dict[str, str]
    inbox_url: str = ""
    on_failure: str = ""  # the on-failure destination (ARN) of asynchronous invocations
    max_retries: int = 2  # Lambda's default for asynchronous invocations


@dataclass
class Stack:
    """What provisioning made: physical ids, functions, rules."""

    name: str
    parameters: dict[str, str]
    refs: dict[str, str] = field(default_factory=dict)
    functions: dict[str, Function] = field(default_factory=dict)
    schedule_targets: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


class Resolver:
    """Ref, Fn::GetAtt, Fn::Sub, Fn::If, Fn::Join, Fn::Select and conditions, over known values."""

    def __init__(self, values: dict[str, Any], conditions: dict[str, Any]):
        self.values = values
        self._conditions = conditions
        self._evaluated: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._evaluated:
            self._evaluated[name] = bool(self._truth(self._conditions[name]))
        return self._evaluated[name]

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
                return re.sub(r"\$\{([^}!]+)\}", lambda m: str(local.get(m.group(1)) or self._lookup(m.group(1))), text)
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
        if name not in self.values:
            raise TemplateError(f"the template refers to {name}, which the local account cannot resolve")
        return self(self.values[name])


_NO_VALUE = object()


def parameter_values(template: dict, overrides: dict[str, str]) -> dict[str, str]:
    declared = template.get("Parameters", {})
    unknown = set(overrides) - set(declared)
    if unknown:
        raise TemplateError(f"unknown template parameter(s): {', '.join(sorted(unknown))}")
    values = {name: str(spec.get("Default", "")) for name, spec in declared.items()}
    values.update(overrides)
    for name, spec in declared.items():
        allowed = spec.get("AllowedValues")
        if allowed and values[name] not in [str(a) for a in allowed]:
            raise TemplateError(f"parameter {name}={values[name]!r} is not one of {allowed}")
    return values


def physical_names(stack: str, resources: dict[str, dict], resolve: Resolver) -> dict[str, str]:
    """The template's own names where it gives one, else deterministic generated ones."""
    names = {}
    for logical, resource in resources.items():
        short = re.sub(r"[^A-Za-z0-9-]", "", logical)[:40]
        names[logical] = f"{stack}-{short}"
        props = resource.get("Properties", {})
        for key in ("Name", "TableName", "QueueName", "TopicName", "RoleName", "FunctionName"):
            if key in props:
                try:
                    names[logical] = str(resolve(props[key]))
                except TemplateError:
                    pass  # a name made of another resource's (a permission's FunctionName): not a name
    return names


def references(stack: str, resources: dict[str, dict], names: dict[str, str], endpoint: str) -> dict[str, Any]:
    """Ref and GetAtt values for every resource, computable before anything is created."""
    values: dict[str, Any] = {}
    arn = f"arn:aws:{{service}}:{REGION}:{ACCOUNT}:{{rest}}"
    for logical, resource in resources.items():
        name, kind = names[logical], resource["Type"]
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
            attrs = {"Arn": f"arn:aws:iam::{ACCOUNT}:role/{name}", "RoleId": name}
        elif kind == "AWS::CodeBuild::Project":
            attrs = {"Arn": arn.format(service="codebuild", rest=f"project/{name}")}
        elif kind == "AWS::Lambda::Function":
            attrs = {"Arn": arn.format(service="lambda", rest=f"function:{name}")}
        elif kind == "AWS::Lambda::Url":
            attrs = {"FunctionUrl": f"{endpoint}/lambda-url/{name}/", "FunctionArn": ""}
        elif kind == "AWS::Logs::LogGroup":
            ref = resource.get("Properties", {}).get("LogGroupName", name)
            attrs = {"Arn": {"Fn::Sub": [f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:${{Name}}:*", {"Name": ref}]}}
        elif kind == "AWS::Events::Rule":
            attrs = {"Arn": arn.format(service="events", rest=f"rule/{name}")}
        elif kind == "AWS::SecretsManager::Secret":
            ref = arn.format(service="secretsmanager", rest=f"secret:{name}-AbCdEf")
        elif kind == "AWS::KMS::Key":
            ref = "00000000-0000-0000-0000-000000000000"
            attrs = {"Arn": arn.format(service="kms", rest=f"key/{ref}")}
        values[logical] = ref
        for attr, value in attrs.items():
            values[f"{logical}.{attr}"] = value
    return values


def dumps(document: Any) -> str:
    return json.dumps(document, default=str)
