"""SQS messages, as a Lambda event source mapping delivers them."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.events.envelope import InvalidEventError, describe


class QueueRecord(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    message_id: Annotated[str, Field(alias="messageId")]
    body: str
    event_source: Annotated[str, Field(alias="eventSource")] = "aws:sqs"


class QueueBatch(BaseModel):
    model_config = ConfigDict(extra="ignore")
    records: Annotated[list[QueueRecord], Field(alias="Records")]


def parse_queue_batch(event: object) -> list[QueueRecord]:
    try:
        return QueueBatch.model_validate(event).records
    except ValidationError as exc:
        raise InvalidEventError(describe(exc)) from None
