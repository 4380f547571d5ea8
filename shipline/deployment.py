"""The project name a stack is deployed with: what `sam deploy` would pass as ProjectName.

`sam deploy --config-env ENV` reads ENV's `parameter_overrides` from samconfig.toml (the deploy
command's, else the global ones); a parameter it does not override takes the template's Default.
"""

from __future__ import annotations

import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path

from cfnlint.decode import cfn_yaml

from pipeline.domain.quoting import shown

PARAMETER = "ProjectName"


class DeploymentConfigError(ValueError):
    """samconfig.toml or template.yaml cannot be read for the deployed project name; the message says which."""


@dataclass(frozen=True)
class DeployedName:
    config_env: str  # samconfig.toml's environment ([dev.deploy.parameters] -> "dev")
    project: str
    source: str  # where the value comes from, for a message


def deployed_project_names(samconfig: Path, template: Path) -> list[DeployedName]:
    """ProjectName for each config environment of samconfig.toml that deploys (or, with none,
    the template's Default alone)."""
    default = _template_default(template)
    if not samconfig.exists():
        return [DeployedName("default", default, f"{template.name} Default")]
    try:
        config = tomllib.loads(samconfig.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise DeploymentConfigError(f"{samconfig}: cannot be read ({exc})") from None
    except RecursionError:  # tomllib reads nested arrays and inline tables recursively
        raise DeploymentConfigError(f"{samconfig}: cannot be read (nested too deeply)") from None
    except ValueError:  # int() past Python's digit limit: its message advises a Python setting
        raise DeploymentConfigError(
            f"{samconfig}: cannot be read (a number has more digits than can be read)") from None
    found = []
    for env, commands in config.items():
        if not isinstance(commands, dict) or not isinstance(commands.get("deploy"), dict):
            continue
        overrides = {**_overrides(commands.get("global"), samconfig, env, "global"),
                     **_overrides(commands["deploy"], samconfig, env, "deploy")}
        if PARAMETER in overrides:
            found.append(DeployedName(env, overrides[PARAMETER], f"{samconfig.name} [{env}] parameter_overrides"))
        else:
            found.append(DeployedName(env, default, f"{template.name} Default (samconfig.toml [{env}] "
                                                    f"does not override {PARAMETER})"))
    return found or [DeployedName("default", default, f"{template.name} Default")]


def _overrides(section: object, samconfig: Path, env: str, command: str) -> dict[str, str]:
    parameters = section.get("parameters") if isinstance(section, dict) else None
    value = parameters.get("parameter_overrides") if isinstance(parameters, dict) else None
    if value is None:
        return {}
    try:  # a string ("A=1 B='two words'") or a list of KEY=VALUE strings, as sam takes them
        items = shlex.split(value) if isinstance(value, str) else [str(v) for v in value]
    except ValueError as exc:
        raise DeploymentConfigError(f"{samconfig}: [{env}.{command}.parameters] parameter_overrides: {exc}") from None
    found = {}
    for item in items:
        key, sep, setting = item.partition("=")
        if sep:
            found[key] = setting
    return found


def _template_default(template: Path) -> str:
    try:
        parameters = cfn_yaml.load(str(template)).get("Parameters", {})
    except Exception as exc:  # cfn-lint's loader raises several unrelated types
        raise DeploymentConfigError(f"{template}: cannot be read ({shown(exc)})") from None
    return str(parameters.get(PARAMETER, {}).get("Default", ""))
