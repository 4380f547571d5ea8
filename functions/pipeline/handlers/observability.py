"""Logger, Metrics and (when the stack enables it) Tracer: created once, imported by every handler."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics

logger = Logger()
metrics = Metrics(namespace="shipline")


def traced(handler: Callable[..., Any]) -> Callable[..., Any]:
    """X-Ray tracing of the handler when the stack turns it on (EnableTracing=true).

    With tracing off (the default) the X-Ray SDK is not loaded at all, which keeps it out of
    every cold start (`make bench` measures both).
    """
    if os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").lower() == "true":
        return handler
    from aws_lambda_powertools import Tracer

    return Tracer().capture_lambda_handler(capture_response=False)(handler)
