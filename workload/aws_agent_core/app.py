from __future__ import annotations

import os
import uuid
from typing import Any

from workload.common.service import Service, call


def build(port: int | None = None) -> Service:
    endpoint = os.environ.get("LANGGRAPH_ENDPOINT", "http://localhost:8001")

    def invoke(payload: dict[str, Any]) -> dict[str, Any]:
        if not str(payload.get("input", "")).strip():
            raise ValueError("'input' is required")
        request_id = str(payload.get("request_id") or uuid.uuid4())
        answer = call(endpoint, "/route", {"input": payload["input"], "request_id": request_id})
        return {"request_id": request_id, "orchestrator": "aws-agent-core", **answer}

    return Service("aws-agent-core", int(os.environ.get("PORT", 8000)) if port is None else port,
                   {"/invoke": invoke}, info=lambda: {"langgraph": endpoint})
