"""boto3 clients: one per service per process, with botocore's standard retry mode.

Throttling and 5xx errors are retried with backoff by botocore itself; nothing in shipline
loops on its own. A call that is not safe to repeat blindly (RegisterTaskDefinition: a lost
response would mean a second revision) uses a client without retries: its failure fails the
invocation, and the retried invocation first checks what already happened.
`AWS_ENDPOINT_URL` (honoured by boto3) points every client at an emulator.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

RETRIES = Config(
    retries={"mode": "standard", "total_max_attempts": 5},
    connect_timeout=5,
    read_timeout=20,
    user_agent_extra="shipline",
)


@cache
def _session() -> boto3.session.Session:
    # One botocore session per process: each new one reloads the endpoint and model data.
    return boto3.session.Session()


NO_RETRIES = RETRIES.merge(Config(retries={"mode": "standard", "total_max_attempts": 1}))


_CREATING = threading.Lock()  # a boto3 session is not safe to make clients from on two threads at once


@cache
def _client(service: str, retry: bool) -> Any:
    return _session().client(service, config=RETRIES if retry else NO_RETRIES)  # type: ignore[call-overload]


def client(service: str, *, retry: bool = True) -> Any:
    with _CREATING:
        return _client(service, retry)


def reset() -> None:
    """Forget every client (tests and the local account switch endpoints). The session, with
    its loaded service models, is kept: endpoints and credentials are read per client."""
    _client.cache_clear()
