"""Files given to `shipline local run --events`: what each is, and how it enters the account."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pipeline.domain.scans import SEVERITIES


class InputError(ValueError):
    """An events file that cannot be used; the message names the file."""


@dataclass(frozen=True)
class Input:
    path: Path
    kind: Literal["eventbridge", "function-url"]
    body: dict


def read_input(path: Path) -> Input:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except RecursionError:  # the json module reads nested arrays and objects recursively
        raise InputError(f"{path}: invalid JSON (nested too deeply)") from None
    except ValueError:  # int() past Python's digit limit: its message advises a Python setting
        raise InputError(f"{path}: invalid JSON (a number has more digits than can be read)") from None
    if isinstance(data, dict) and isinstance(data.get("detail-type"), str) and isinstance(data.get("source"), str):
        if not isinstance(data.get("detail", {}), dict):
            raise InputError(f"{path}: an EventBridge envelope's detail must be an object")
        return Input(path, "eventbridge", data)
    if isinstance(data, dict) and isinstance(data.get("requestContext"), dict) and "http" in data["requestContext"]:
        return Input(path, "function-url", data)
    raise InputError(
        f"{path}: neither an EventBridge envelope (source, detail-type, detail) nor a Lambda Function URL "
        "request (requestContext.http)"
    )


def parse_findings(values: list[str], services: tuple[str, ...]) -> dict[str, dict[str, int]]:
    """--findings SERVICE=SEVERITY:COUNT[,SEVERITY:COUNT...], repeatable."""
    findings: dict[str, dict[str, int]] = {}
    for value in values:
        service, _, spec = value.partition("=")
        if service not in services:
            raise InputError(f"--findings {value!r}: unknown service {service!r} (known: {', '.join(services)})")
        counts: dict[str, int] = {}
        for part in filter(None, spec.split(",")):
            severity, _, count = part.partition(":")
            if severity.upper() not in SEVERITIES or not count.isdigit():
                raise InputError(f"--findings {value!r}: expected SEVERITY:COUNT with SEVERITY one of "
                                 f"{', '.join(SEVERITIES)}, got {part!r}")
            counts[severity.upper()] = int(count)
        if not counts:
            raise InputError(f"--findings {value!r}: give at least one SEVERITY:COUNT")
        findings[service] = counts
    return findings
