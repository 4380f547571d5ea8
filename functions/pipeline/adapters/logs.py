"""CloudWatch Logs: the services' log groups, made when a service is first built (the stack
holds no resource per service, so it does not grow with the manifest).

A function instance remembers the log groups it has made or found, so a warm starter asks
CloudWatch Logs once per service, not once per build (the retention is set on creation only,
as before: a group that exists is left as it is)."""

from __future__ import annotations

import threading
from typing import Any

from botocore.exceptions import ClientError

from pipeline.adapters.clients import client
from pipeline.adapters.errors import error_code, wrap

_KNOWN: set[str] = set()  # log groups this instance made or found
_KNOWN_LOCK = threading.Lock()


def ensure_log_group(name: str, retention_days: int, *, logs: Any | None = None) -> bool:
    """Create the log group with its retention; False when it already exists (or this instance
    has made or found it before)."""
    with _KNOWN_LOCK:
        if name in _KNOWN:
            return False
    logs = logs or client("logs")
    try:
        logs.create_log_group(logGroupName=name)
    except ClientError as exc:
        if error_code(exc) == "ResourceAlreadyExistsException":
            _remember(name)
            return False
        raise wrap(exc, f"create log group {name}") from exc
    try:
        logs.put_retention_policy(logGroupName=name, retentionInDays=retention_days)
    except ClientError as exc:
        raise wrap(exc, f"set the retention of {name}") from exc
    _remember(name)
    return True


def _remember(name: str) -> None:
    with _KNOWN_LOCK:
        _KNOWN.add(name)


def reset() -> None:
    """Forget the log groups seen (tests, and the local account between runs)."""
    with _KNOWN_LOCK:
        _KNOWN.clear()
