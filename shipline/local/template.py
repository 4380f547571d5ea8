"""template.yaml, read the way CloudFormation would, so tests cannot drift from the stack."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"

ACCOUNT = "123456789012"
REGION = "us-east-1"


@cache
def raw(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as CloudFormation reads it (intrinsics as {"Ref": ...} dicts)."""
    return cfn_yaml.load(str(path))


def parameter_defaults() -> dict[str, str]:
    return {name: str(spec.get("Default", "")) for name, spec in raw()["Parameters"].items()}


def resource(logical_id: str) -> dict[str, Any]:
    return raw()["Resources"][logical_id]


class Resolver:
    """Resolves Ref, Sub, GetAtt and If for the values tests need (environment, patterns)."""

    def __init__(self, refs: dict[str, str] | None = None, parameters: dict[str, str] | None = None):
        self.values = {
            **parameter_defaults(),
            **(parameters or {}),
            "AWS::AccountId": ACCOUNT,
            "AWS::Region": REGION,
            "AWS::Partition": "aws",
            **(refs or {}),
        }

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self._lookup(arg)
            if key == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                return re.sub(r"\$\{([^}]+)\}", lambda m: str(self._lookup(m.group(1))), text)
            if key == "Fn::GetAtt":
                name = ".".join(arg) if isinstance(arg, list) else arg
                return self._lookup(name)
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v) for v in value]
        return value

    def _lookup(self, name: str) -> Any:
        if name not in self.values:
            raise KeyError(f"template reference {name!r} has no value in this test")
        return self.values[name]


def function_environment(logical_id: str, resolve: Resolver) -> dict[str, str]:
    """The environment the template gives a function: Globals, then the function's own."""
    globals_env = raw()["Globals"]["Function"].get("Environment", {}).get("Variables", {})
    own = resource(logical_id)["Properties"].get("Environment", {}).get("Variables", {})
    return {key: str(resolve(value)) for key, value in {**globals_env, **own}.items()}


def event_patterns(logical_id: str, resolve: Resolver) -> dict[str, dict]:
    """Each EventBridgeRule event of a function: name -> resolved pattern."""
    events = resource(logical_id)["Properties"].get("Events", {})
    return {
        name: resolve(event["Properties"]["Pattern"])
        for name, event in events.items()
        if event["Type"] == "EventBridgeRule"
    }


def table_definition(logical_id: str) -> dict[str, Any]:
    """CreateTable arguments for a DynamoDB table in the template."""
    props = resource(logical_id)["Properties"]
    return {
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props["BillingMode"],
    }
