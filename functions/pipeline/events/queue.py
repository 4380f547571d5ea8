"""SQS messages, as a Lambda event source mapping delivers them."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.events.envelope import InvalidEventError, describe


class _Attributes(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")
    approximate_receive_count: Annotated[int, Field(alias="ApproximateReceiveCount")] = 1


class QueueRecord(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore", populate_by_name=True)
    message_id: Annotated[str, Field(alias="messageId")]
    receipt_handle: Annotated[str, Field(alias="receiptHandle")] = ""
    body: str
    attributes: _Attributes = _Attributes()
    event_source: Annotated[str, Field(alias="eventSource")] = "aws:sqs"

    @property
    def receive_count(self) -> int:
        return self.attributes.approximate_receive_count


class QueueBatch(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")
    records: Annotated[list[QueueRecord], Field(alias="Records")]


def parse_queue_batch(event: object) -> list[QueueRecord]:
    try:
        return QueueBatch.model_validate(event).records
    except ValidationError as exc:
        raise InvalidEventError(describe(exc)) from None
