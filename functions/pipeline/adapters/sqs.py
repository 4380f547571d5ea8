"""SQS: store a message."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from pipeline.adapters.clients import client
from pipeline.adapters.errors import AwsCallError, wrap


def send(queue_url: str, body: str, *, sqs: Any | None = None) -> str:
    try:
        return str((sqs or client("sqs")).send_message(QueueUrl=queue_url, MessageBody=body)["MessageId"])
    except ClientError as exc:
        raise wrap(exc, "store the message") from exc


def send_batch(queue_url: str, bodies: list[str], *, sqs: Any | None = None) -> None:
    """Store messages, ten to a request (SQS's most); any that fails fails the call."""
    sqs = sqs or client("sqs")
    for first in range(0, len(bodies), 10):
        entries = [{"Id": str(n), "MessageBody": body} for n, body in enumerate(bodies[first:first + 10])]
        try:
            response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        except ClientError as exc:
            raise wrap(exc, "store the messages") from exc
        if response.get("Failed"):
            failed = response["Failed"][0]
            raise AwsCallError(f"store the messages: {failed.get('Code')}: {failed.get('Message', '')}")


def retry_later(queue_url: str, receipt_handle: str, seconds: int, *, sqs: Any | None = None) -> None:
    """Make a received message visible again only after `seconds` (SQS allows up to 12 hours)."""
    try:
        (sqs or client("sqs")).change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt_handle,
                                                         VisibilityTimeout=min(seconds, 43200))
    except ClientError as exc:
        raise wrap(exc, "delay the message") from exc


MAX_BACKOFF = 900  # seconds: a queued message waits at most this long between tries


def backoff(first: int, receive_count: int) -> int:
    """The wait before a message's next try: `first`, doubling with each receive, at most 15 minutes."""
    return min(first * 2 ** max(receive_count - 1, 0), MAX_BACKOFF)
