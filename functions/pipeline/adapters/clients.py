"""boto3 clients: one per service per process, with botocore's standard retry mode.

Throttling and 5xx errors are retried with backoff by botocore itself; nothing in shipline
loops on its own. `AWS_ENDPOINT_URL` (honoured by boto3) points every client at an
emulator, which is how the local account works.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

RETRIES = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=20,
    user_agent_extra="shipline",
)


@cache
def _session() -> boto3.session.Session:
    # One botocore session per process: each new one reloads the endpoint and model data.
    return boto3.session.Session()


@cache
def client(service: str) -> Any:
    return _session().client(service, config=RETRIES)  # type: ignore[call-overload]


def reset() -> None:
    """Forget every client (tests and the local account switch endpoints). The session, with
    its loaded service models, is kept: endpoints and credentials are read per client."""
    client.cache_clear()
