"""Runs in a fresh interpreter, as a Lambda execution environment would: measures one
handler's cold init, its per-event time, and the same AWS calls made directly with boto3.

    python bench/probe.py MODULE EVENTS_JSON      (environment: the function's, from the bench)
    python bench/probe.py --baseline               (import boto3 plus one client)
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def baseline() -> dict:
    started = time.perf_counter()
    import boto3

    boto3.client("ecr")
    return {"init": time.perf_counter() - started, "rss_mb": _rss_mb()}


def probe(module: str, events: list[dict]) -> dict:
    sys.path.insert(0, str(ROOT / "functions"))
    started = time.perf_counter()
    handler = __import__(f"pipeline.handlers.{module}", fromlist=["handler"]).handler
    from pipeline.adapters.clients import client

    for service in CLIENTS[module]:
        client(service)
    init = time.perf_counter() - started

    import boto3

    recorded: list[tuple[str, str, dict]] = []
    original = boto3.session.Session.client

    def recording_client(self, *args, **kwargs):
        made = original(self, *args, **kwargs)
        name = made.meta.service_model.service_name
        made.meta.events.register("provide-client-params.*.*",
                                  lambda params, model, **_: recorded.append((name, model.name, dict(params))))
        return made

    from pipeline.adapters import clients

    clients.reset()
    boto3.session.Session.client = recording_client  # type: ignore[method-assign]
    context = _Context()
    handler(events[0], context)  # the first event: also creates what the later ones reuse
    per_event, replayed = [], []
    direct = {}
    for event in events[1:]:
        recorded.clear()
        started = time.perf_counter()
        handler(event, context)
        per_event.append(time.perf_counter() - started)
        calls = list(recorded)
        started = time.perf_counter()
        for service, operation, params in calls:  # the same calls, with plain boto3
            if service not in direct:
                direct[service] = original(boto3.session.Session(), service)
            try:
                getattr(direct[service], _snake(operation))(**params)
            except direct[service].exceptions.ClientError:
                pass  # a conditional write that now fails costs the same round trip
        replayed.append(time.perf_counter() - started)
    return {"init": init, "per_event": _median(per_event), "direct": _median(replayed),
            "calls_per_event": len(calls), "rss_mb": _rss_mb()}


CLIENTS = {
    "build_trigger": ("ecr", "codebuild", "codecommit", "dynamodb"),
    "image_events": ("ecr", "ecs", "dynamodb", "sns"),
    "build_events": ("dynamodb", "sns"),
    "github_webhook": ("events",),
}


class _Context:
    function_name = "bench"
    aws_request_id = "bench"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else 0.0


def _rss_mb() -> float:
    """This process's peak resident set (VmHWM). Not getrusage: Linux carries ru_maxrss over
    exec, so a child would report its parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    # The functions log to stdout, as in Lambda; here that goes nowhere and the result is
    # the one line this prints.
    out, sys.stdout = sys.stdout, open(os.devnull, "w")  # noqa: SIM115
    if sys.argv[1] == "--baseline":
        result = baseline()
    else:
        result = probe(sys.argv[1], json.loads(Path(sys.argv[2]).read_text()))
    out.write(json.dumps(result) + "\n")
