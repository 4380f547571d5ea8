"""The EventBridge envelope, and what happens to an event that does not fit."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class EventBridgeModel(BaseModel):
    """The EventBridge envelope. (Powertools' parser has one too, but importing its models
    package loads every event source's models: a third of a second of cold start.)"""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    version: str
    id: str
    source: str
    account: str
    time: datetime
    region: str
    resources: list[str]
    detail_type: Annotated[str, Field(alias="detail-type")]
    detail: dict
    replay_name: Annotated[str | None, Field(alias="replay-name")] = None


class InvalidEventError(ValueError):
    """An event that does not have the documented shape. It is logged and dropped: a retry
    cannot fix it."""


class NotOursError(ValueError):
    """An event for another project, environment, repository or branch: ignored."""


def describe(exc: ValidationError) -> str:
    """One line: the first problem's place and message."""
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "event"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {error['msg']}{more}"
