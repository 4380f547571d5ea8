"""SQS: store a message."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from pipeline.adapters.clients import client
from pipeline.adapters.errors import wrap


def send(queue_url: str, body: str, *, sqs: Any | None = None) -> str:
    try:
        return str((sqs or client("sqs")).send_message(QueueUrl=queue_url, MessageBody=body)["MessageId"])
    except ClientError as exc:
        raise wrap(exc, "store the message") from exc
