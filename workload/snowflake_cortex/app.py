from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Mapping
from typing import Any, Protocol

from workload.common.service import Service, UpstreamError


class Backend(Protocol):
    name: str

    def complete(self, agent: str, text: str) -> str: ...


class OfflineBackend:
    """Answers without any account: deterministic, for demos and tests."""

    name = "offline"

    def complete(self, agent: str, text: str) -> str:
        if agent == "sql":
            return f"-- offline answer\nSELECT COUNT(*) FROM requests WHERE text ILIKE '%{text[:20]}%';"
        return f"(offline) {len(text.split())} words received; summary: {text[:60]}"


class CortexBackend:
    """Snowflake Cortex COMPLETE over its REST API."""

    name = "snowflake-cortex"

    def __init__(self, account: str, token: str, model: str):
        self.url = f"https://{account}.snowflakecomputing.com/api/v2/cortex/inference:complete"
        self.token, self.model = token, model

    def complete(self, agent: str, text: str) -> str:
        body = {"model": self.model, "messages": [{"role": "user", "content": text}], "stream": False}
        request = urllib.request.Request(self.url, data=json.dumps(body).encode(), method="POST", headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json",
            "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (https)
                data = json.loads(response.read())
        except Exception as exc:
            raise UpstreamError(f"Snowflake Cortex: {exc}") from exc
        return str(data.get("choices", [{}])[0].get("message", {}).get("content", ""))


def choose_backend(env: Mapping[str, str]) -> Backend:
    """CORTEX_BACKEND=offline|snowflake|auto; auto uses Snowflake when its credentials are set."""
    wanted = env.get("CORTEX_BACKEND", "auto")
    account, token = env.get("SNOWFLAKE_ACCOUNT", ""), env.get("SNOWFLAKE_TOKEN", "")
    if wanted == "offline" or (wanted == "auto" and not (account and token)):
        return OfflineBackend()
    if not (account and token):
        raise SystemExit("CORTEX_BACKEND=snowflake needs SNOWFLAKE_ACCOUNT and SNOWFLAKE_TOKEN")
    return CortexBackend(account, token, env.get("CORTEX_MODEL", "mistral-large2"))


def build(port: int | None = None, backend: Backend | None = None) -> Service:
    chosen = backend or choose_backend(os.environ)

    def complete(payload: dict[str, Any]) -> dict[str, Any]:
        text = str(payload.get("input", ""))
        if not text.strip():
            raise ValueError("'input' is required")
        agent = str(payload.get("agent", "summary"))
        return {"backend": chosen.name, "answer": chosen.complete(agent, text)}

    return Service("snowflake-cortex", int(os.environ.get("PORT", 8002)) if port is None else port,
                   {"/complete": complete}, info=lambda: {"backend": chosen.name})
