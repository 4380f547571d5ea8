"""The EventBridge envelope, and what happens to an event that does not fit."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.domain.outcomes import Ignored, Rejected
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


class InvalidEventError(EventError, Rejected):
    """An event that does not have the documented shape. It is logged and dropped: a retry
    cannot fix it."""


class NotOursError(EventError, Ignored):
    """An event for another project, environment, repository or branch: ignored."""


def describe(exc: ValidationError, kind: str | None = None) -> str:
    """One line: the first problem's place (under the event's `kind`, when given) and message."""
    error = exc.errors()[0]
    where = ".".join(shown(part, 40) for part in ((kind,) if kind else ()) + tuple(error["loc"])) or "event"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {error['msg']}{more}"


_Model = TypeVar("_Model", bound=EventBridgeModel)


def by_detail_type(*models: type[_Model]) -> dict[str, type[_Model]]:
    """Each model under the detail-type its `detail_type` Literal names (written once, there)."""
    return {get_args(model.model_fields["detail_type"].annotation)[0]: model for model in models}


def parse_by_detail_type(event: object, models: dict[str, type[_Model]], what: str) -> _Model:
    """The event as the model its `detail-type` names. Only that model's validator is built
    (on its first event; `defer_build`), not one for every kind the function takes: a cold
    start pays for the kind of event it was started for."""
    kind = event.get("detail-type", event.get("detail_type")) if isinstance(event, dict) else None
    model = models.get(kind) if isinstance(kind, str) else None
    if model is None:
        expected = ", ".join(repr(k) for k in models)
        raise InvalidEventError(f"not {what}: detail-type {shown(repr(kind), 40)} (expected {expected})")
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        raise InvalidEventError(describe(exc, kind)) from None
