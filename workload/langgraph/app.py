from __future__ import annotations

import os
from typing import Any

from workload.common.service import Service, call

# The supervisor's one decision: which agent takes the request.
AGENTS = {"sql": ("select", "table", "query", "revenue", "count"), "summary": ()}


def choose_agent(text: str) -> str:
    words = text.lower()
    return next((agent for agent, keys in AGENTS.items() if any(k in words for k in keys)), "summary")


def build(port: int | None = None) -> Service:
    endpoint = os.environ.get("SNOWFLAKE_CORTEX_ENDPOINT", "http://localhost:8002")

    def route(payload: dict[str, Any]) -> dict[str, Any]:
        text = str(payload.get("input", ""))
        agent = choose_agent(text)
        answer = call(endpoint, "/complete", {"input": text, "agent": agent,
                                              "request_id": payload.get("request_id")})
        return {"supervisor": "langgraph", "agent": agent, **answer}

    return Service("langgraph", int(os.environ.get("PORT", 8001)) if port is None else port,
                   {"/route": route}, info=lambda: {"snowflake_cortex": endpoint})
