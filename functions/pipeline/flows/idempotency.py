"""Exactly-once effects under at-least-once delivery: Powertools idempotency on DynamoDB.

The key is what makes an effect unique (a commit and a service, a digest), never the raw
event. The persistence layer is made on first use, not at import time.

Lambda delivers an event more than once, and two events can name one effect (an image
pushed as `:<sha>` and `:latest` at once). While one invocation holds an effect's record,
another gets Powertools' IdempotencyAlreadyInProgressError; that is a duplicate in flight,
not a failure: the holder finishes the effect, and if it fails, its own retries redo it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, Generic, Literal, TypeVar

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
)

from pipeline.adapters.clients import client
from pipeline.adapters.errors import AwsCallError
from pipeline.settings import ConfigurationError, Settings, environment, get_settings

T = TypeVar("T")
EffectState = Literal["done", "replayed", "in flight"]


@dataclass(frozen=True)
class Effect(Generic[T]):
    """What `once` did: ran the effect now ("done"), found it done before ("replayed", with the
    first run's result), or found another invocation doing it ("in flight", no result)."""

    state: EffectState
    value: T | None = None

    @property
    def fresh(self) -> bool:
        return self.state == "done"


@cache
def _store(table: str) -> DynamoDBPersistenceLayer:
    return DynamoDBPersistenceLayer(table_name=table, boto3_client=client("dynamodb"))


@cache
def _config(days: int) -> IdempotencyConfig:
    return IdempotencyConfig(expires_after_seconds=days * 86400)


def config() -> IdempotencyConfig:
    return _config(get_settings().idempotency_days)


def register_lambda_context(context: Any) -> None:
    """Let idempotency see the remaining time, so an invocation that times out mid-effect
    does not block its retry."""
    config().register_lambda_context(context)


def deadline() -> datetime:
    """When this invocation ends at the latest (its Lambda context's remaining time; without
    one, Lambda's longest timeout): a claim an effect holds is good until then."""
    context = config().lambda_context
    remaining = context.get_remaining_time_in_millis() if context is not None else LONGEST_INVOCATION_MS
    return datetime.now(UTC) + timedelta(milliseconds=remaining)


LONGEST_INVOCATION_MS = 900_000


def _effect(*, key: str, run: Callable[[], Any]) -> Any:
    return run()


@cache
def _guarded(function: str, table: str, days: int) -> Callable[..., Any]:
    """The idempotent wrapper, made once per function (its records are prefixed with its name)."""
    return idempotent_function(data_keyword_argument="key", persistence_store=_store(table), config=_config(days),
                               key_prefix=f"{function}._effect")(_effect)


def once(key: str, run: Callable[[], T]) -> Effect[T]:
    """Run `run` once for `key`."""
    settings: Settings = get_settings()
    if not settings.idempotency_table:
        raise ConfigurationError("environment variable IDEMPOTENCY_TABLE is required by this function and not set")
    guarded = _guarded(environment().get("AWS_LAMBDA_FUNCTION_NAME", "local"), settings.idempotency_table,
                       settings.idempotency_days)
    ran: list[bool] = []

    def effect() -> T:
        ran.append(True)
        return run()

    try:
        value = guarded(key=key, run=effect)
    except IdempotencyAlreadyInProgressError:
        return Effect("in flight")
    except IdempotencyPersistenceLayerError as exc:  # the store failed, not the effect: retry the event
        raise AwsCallError(f"idempotency store for {key}: {exc}") from exc
    return Effect("done" if ran else "replayed", value)


def reset() -> None:
    _store.cache_clear()
    _config.cache_clear()
    _guarded.cache_clear()
