"""EventBridge: put shipline's own events on the bus."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from pipeline.adapters.clients import client
from pipeline.adapters.errors import AwsCallError, wrap


def put_event(source: str, detail_type: str, detail: dict, *, bus: str = "default", events: Any | None = None) -> str:
    """Put one event; returns its id. A partial failure (FailedEntryCount) is an error."""
    events = events or client("events")
    try:
        response = events.put_events(
            Entries=[{"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail), "EventBusName": bus}]
        )
    except ClientError as exc:
        raise wrap(exc, f"put {detail_type} event") from exc
    entry = response["Entries"][0]
    if response.get("FailedEntryCount") or "EventId" not in entry:
        raise AwsCallError(f"put {detail_type} event: {entry.get('ErrorCode')}: {entry.get('ErrorMessage')}")
    return str(entry["EventId"])
