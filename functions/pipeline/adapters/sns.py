"""SNS: publish a notification to the stack's topic."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from pipeline.adapters.clients import client
from pipeline.adapters.errors import wrap
from pipeline.domain.notifications import Notification


def publish(topic_arn: str, notification: Notification, *, sns: Any | None = None) -> str:
    try:
        response = (sns or client("sns")).publish(
            TopicArn=topic_arn,
            Subject=notification.subject,
            Message=notification.sns_message(),
            MessageStructure="json",
        )
    except ClientError as exc:
        raise wrap(exc, f"publish {notification.event_type}") from exc
    return str(response["MessageId"])
