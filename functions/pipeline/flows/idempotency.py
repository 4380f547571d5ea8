"""Exactly-once effects under at-least-once delivery: Powertools idempotency on DynamoDB.

The key is what makes an effect unique (a commit and a service, a digest), never the raw
event. The persistence layer is made on first use, not at import time.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from pipeline.adapters.clients import client
from pipeline.settings import get_settings

T = TypeVar("T")


@cache
def _store() -> DynamoDBPersistenceLayer:
    return DynamoDBPersistenceLayer(
        table_name=get_settings().require("idempotency_table"), boto3_client=client("dynamodb")
    )


@cache
def config() -> IdempotencyConfig:
    return IdempotencyConfig(expires_after_seconds=get_settings().idempotency_days * 86400)


def register_lambda_context(context: Any) -> None:
    """Let idempotency see the remaining time, so an invocation that times out mid-effect
    does not block its retry."""
    config().register_lambda_context(context)


def _effect(*, key: str, run: Callable[[], Any]) -> Any:
    return run()


@cache
def _guarded() -> Callable[..., Any]:
    """The idempotent wrapper, made once per process (with the store it needs)."""
    return idempotent_function(data_keyword_argument="key", persistence_store=_store(), config=config())(_effect)


def once(key: str, run: Callable[[], T]) -> T:
    """Run `run` once for `key`; a repeat returns the first run's (JSON) result."""
    return _guarded()(key=key, run=run)  # type: ignore[no-any-return]


def reset() -> None:
    _store.cache_clear()
    config.cache_clear()
    _guarded.cache_clear()
