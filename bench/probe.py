"""Runs in a fresh interpreter, as a Lambda execution environment would: measures one
handler's cold init, its per-event time, and the part of it spent in its AWS calls (boto3).

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
    started, cpu = time.perf_counter(), time.process_time()
    import boto3

    boto3.client("ecr")
    return {"init": time.perf_counter() - started, "init_cpu": time.process_time() - cpu, "rss_mb": _rss_mb()}


def probe(module: str, events: list[dict]) -> dict:
    sys.path.insert(0, str(ROOT / "functions"))
    started, cpu = time.perf_counter(), time.process_time()
    handler = __import__(f"pipeline.handlers.{module}", fromlist=["handler"]).handler
    from pipeline.adapters.clients import client

    for service in CLIENTS[module]:
        client(service)
    init, init_cpu = time.perf_counter() - started, time.process_time() - cpu

    import boto3

    # The time each event spends in its AWS calls, timed around each call on the handler's own
    # clients (from botocore's first hook to its last, so parameter validation, signing, the
    # request and parsing are all in it): the same calls, made the same way, as "direct boto3".
    # What the handler adds on top is its own work: parsing, checks, logging, the domain.
    in_calls: list[float] = []
    calls_made: list[str] = []
    started_at: dict[int, float] = {}
    original = boto3.session.Session.client

    made_for: set[str] = set()

    def timed_client(self, *args, **kwargs):
        made = original(self, *args, **kwargs)
        made_for.add(made.meta.service_model.service_name)

        def begin(model, context, **_):
            started_at[id(context)] = time.perf_counter()
            calls_made.append(model.name)

        def end(model, context, **_):
            began = started_at.pop(id(context), None)
            if began is not None:
                in_calls.append(time.perf_counter() - began)

        made.meta.events.register("before-parameter-build.*.*", begin)
        made.meta.events.register("after-call.*.*", end)
        made.meta.events.register("after-call-error.*.*", end)
        return made

    from pipeline.adapters import clients

    clients.reset()
    boto3.session.Session.client = timed_client  # type: ignore[method-assign]
    context = _Context()
    first = time.perf_counter()
    handler(events[0], context)  # the first event: also creates what the later ones reuse
    first_event = time.perf_counter() - first
    per_event, calls_time, counts = [], [], []
    for event in events[1:]:
        in_calls.clear()
        calls_made.clear()
        started = time.perf_counter()
        handler(event, context)
        per_event.append(time.perf_counter() - started)
        calls_time.append(sum(in_calls))
        counts.append(len(calls_made))
    if not made_for <= set(CLIENTS[module]):  # (replayed events may need fewer)
        raise SystemExit(f"{module} made clients for {sorted(made_for)}, the probe's CLIENTS say "
                         f"{sorted(CLIENTS[module])}: correct CLIENTS")
    return {"init": init, "init_cpu": init_cpu, "first_event": first_event,
            "per_event": _median(per_event), "direct": _median(calls_time),
            "calls_per_event": _median(counts), "rss_mb": _rss_mb()}


# The clients each handler makes on its bench path (GitHub stack), created at init as Lambda's
# would be on a cold start; the probe fails when the handler makes one not listed. (The webhook's
# secretsmanager client is Powertools' own, made at its first event; one made here stands in for it.)
CLIENTS = {
    "build_trigger": ("dynamodb", "sqs"),
    "image_events": ("dynamodb", "ecr", "ecs"),  # its bench events are pushes: no message
    "build_events": ("dynamodb", "sns"),
    "github_webhook": ("secretsmanager", "sqs"),
}


class _Context:
    function_name = "bench"
    aws_request_id = "bench"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


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
