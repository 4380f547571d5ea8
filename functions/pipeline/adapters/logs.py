"""CloudWatch Logs: the services' log groups, made when a service is first built (the stack
holds no resource per service, so it does not grow with the manifest)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from pipeline.adapters.clients import client
from pipeline.adapters.errors import error_code, wrap


def ensure_log_group(name: str, retention_days: int, *, logs: Any | None = None) -> bool:
    """Create the log group with its retention; False when it already exists."""
    logs = logs or client("logs")
    try:
        logs.create_log_group(logGroupName=name)
    except ClientError as exc:
        if error_code(exc) == "ResourceAlreadyExistsException":
            return False
        raise wrap(exc, f"create log group {name}") from exc
    try:
        logs.put_retention_policy(logGroupName=name, retentionInDays=retention_days)
    except ClientError as exc:
        raise wrap(exc, f"set the retention of {name}") from exc
    return True
