"""The EventBridge envelope, and what happens to an event that does not fit."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.domain.quoting import one_line, shown


class EventBridgeModel(BaseModel):
    """The EventBridge envelope. (Powertools' parser has one too, but importing its models
    package loads every event source's models: a third of a second of cold start.)"""

    model_config = ConfigDict(defer_build=True, extra="ignore", populate_by_name=True)
    version: str
    id: Annotated[str, Field(min_length=1)]  # keys a trigger's plan: two events with id "" would be one
    source: str
    account: str
    time: datetime
    region: str
    resources: list[str]
    detail_type: Annotated[str, Field(alias="detail-type")]
    detail: dict
    replay_name: Annotated[str | None, Field(alias="replay-name")] = None


class EventError(ValueError):
    """An event we will not act on. Its message is one printable line, whatever the event's
    fields hold (they are echoed in logs, outcomes and the local run report)."""

    def __init__(self, message: str):
        super().__init__(one_line(message))


class InvalidEventError(EventError):
    """An event that does not have the documented shape. It is logged and dropped: a retry
    cannot fix it."""


class NotOursError(EventError):
    """An event for another project, environment, repository or branch: ignored."""


def describe(exc: ValidationError) -> str:
    """One line: the first problem's place and message."""
    error = exc.errors()[0]
    where = ".".join(shown(part, 40) for part in error["loc"]) or "event"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {error['msg']}{more}"
