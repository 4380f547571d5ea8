"""Handlers for the local runtime's own tests: one holds something until released, the other
fails while it is held (as a registration fails while another holds the service's lease)."""

from __future__ import annotations

import threading

RELEASE = threading.Event()
SUCCEEDED: list[str] = []


def holding(event: dict, context: object) -> dict:
    assert RELEASE.wait(20), "never released"
    return {}


def failing_while_held(event: dict, context: object) -> dict:
    if not RELEASE.is_set():
        raise RuntimeError("held by another invocation")
    SUCCEEDED.append(str(event.get("id")))
    return {}


def reset() -> None:
    RELEASE.clear()
    SUCCEEDED.clear()
