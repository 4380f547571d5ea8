"""SQS messages, as a Lambda event source mapping delivers them."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipeline.domain.rollout import RolloutRequest, revision_of
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


NOT_A_BATCH = "not a batch of SQS messages (Records)"


def is_queue_batch(event: object) -> bool:
    """Whether the event is what an SQS event source mapping sends (a function invoked directly
    may get anything)."""
    return isinstance(event, dict) and isinstance(event.get("Records"), list)


def parse_queue_batch(event: object) -> list[QueueRecord]:
    try:
        return QueueBatch.model_validate(event).records
    except ValidationError as exc:
        raise InvalidEventError(describe(exc)) from None


# ECS API Reference, TaskDefinition, taskDefinitionArn:
# arn:aws:ecs:<region>:<account>:task-definition/<family>:<revision>
_TASK_DEFINITION_ARN = r"^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task-definition/[A-Za-z0-9_-]{1,255}:[1-9]\d*$"


class _RolloutRequestMessage(BaseModel):
    """A rollout request's body, as the registration queues it (`RolloutRequest.body`). Strict:
    a revision of 1.7, true or "2" is a damaged message, not revision 1, 1 or 2."""

    model_config = ConfigDict(defer_build=True, extra="ignore", strict=True)
    service: Annotated[str, Field(min_length=1)]
    family: Annotated[str, Field(min_length=1)]
    revision: Annotated[int, Field(ge=1)]
    revision_arn: Annotated[str, Field(alias="revisionArn", min_length=1)]

    @field_validator("revision_arn")
    @classmethod
    def _is_a_task_definition_arn(cls, value: str) -> str:
        if not re.fullmatch(_TASK_DEFINITION_ARN, value):
            raise ValueError("not a task-definition ARN (arn:aws:ecs:<region>:<account>:task-definition/<family>:"
                             "<revision>)")
        return value

    @model_validator(mode="after")
    def _arn_names_the_revision(self) -> _RolloutRequestMessage:
        # UpdateService is given the ARN: it must be the family and revision the request names
        # (the ledger records those), not another family's task definition.
        if revision_of(self.revision_arn) != (self.family, self.revision):
            raise ValueError(f"revisionArn names {self.revision_arn.rsplit('/', 1)[-1]}, not the request's "
                             f"{self.family}:{self.revision}")
        return self


def parse_rollout_request(body: str) -> RolloutRequest:
    """The request a rollout queue message holds; one that is not is an InvalidEventError
    naming the first problem (not JSON, nested too deeply, a field missing or of the wrong type)."""
    try:
        message = _RolloutRequestMessage.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidEventError(describe(exc)) from None
    return RolloutRequest(service=message.service, family=message.family, revision=message.revision,
                          revision_arn=message.revision_arn)
