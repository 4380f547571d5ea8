"""Sample events live in events/*.json; tests load them here and nowhere else."""

from __future__ import annotations

import copy
import json
from functools import cache

from tests.support.paths import EVENTS

LOCAL_WEBHOOK_SECRET = b"shipline-local-webhook-secret"


@cache
def _read(name: str) -> str:
    return (EVENTS / f"{name}.json").read_text()


def load_event(name: str) -> dict:
    """A fresh copy of events/<name>.json."""
    return copy.deepcopy(json.loads(_read(name)))


def deliver(event: dict) -> None:
    """Put an event on moto's default bus as its source sends it: an AWS service's own event
    (aws.*) straight into EventBridge, anything else through PutEvents (where AWS refuses
    aws.* sources)."""
    import boto3

    entry = {"Source": event["source"], "DetailType": event["detail-type"], "Detail": json.dumps(event["detail"]),
             "Resources": event.get("resources", [])}
    if event["source"].startswith("aws."):
        from moto.events.models import events_backends

        events_backends["123456789012"]["us-east-1"].put_events([entry])
    else:
        boto3.client("events").put_events(Entries=[entry])
