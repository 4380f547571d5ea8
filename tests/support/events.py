"""Sample events live in events/*.json; tests load them here and nowhere else."""

from __future__ import annotations

import copy
import json
from functools import cache

from tests.support.paths import EVENTS

LOCAL_WEBHOOK_SECRET = b"shipline-local-webhook-secret"


@cache
def _read(name: str) -> str:
    return (EVENTS / f"{name}.json").read_text()


def load_event(name: str) -> dict:
    """A fresh copy of events/<name>.json."""
    return copy.deepcopy(json.loads(_read(name)))
