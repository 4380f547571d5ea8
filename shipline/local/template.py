"""template.yaml as written (intrinsics unresolved): for contract checks of the text itself.
Everything that needs values (environment, patterns, policies) reads model.py."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


@cache
def raw(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as CloudFormation reads it (intrinsics as {"Ref": ...} dicts)."""
    return cfn_yaml.load(str(path))


def resource(logical_id: str) -> dict[str, Any]:
    return raw()["Resources"][logical_id]
