"""The local Lambda runtime: the stack's handlers invoked as Lambda invokes them.

What Lambda does, and this follows (Lambda Developer Guide, "Asynchronous invocation",
"Lambda function scaling", "Configuring destinations"):
- Asynchronous invocations run concurrently, each in an execution environment of its own
  (here: a worker thread, with its own environment variables, stdout and metrics), and "your
  function may receive the same event multiple times, even if no error occurs".
- A function error is retried twice (MaximumRetryAttempts), then the event goes to the
  on-failure destination as a record carrying the request and the error. Lambda waits between
  attempts ("one minute ... then two minutes"): here a retry waits until every invocation that
  was running when its attempt failed has ended, so it never races the work it failed against.
- An invocation that runs past the function's timeout fails ("Task timed out").
- Reserved concurrency caps a function's concurrent invocations; a synchronous invocation
  over it gets 429 (TooManyRequestsException), an asynchronous one waits and is retried.
Orderly mode runs one invocation at a time, in arrival order. `chaos` (a seed) runs them
concurrently, delivers some twice and reorders what waits. Which deliveries are doubled, and
the order of each batch, follow from the seed and the event (not from its id or arrival time),
so a seed repeats its choices; how the threads then interleave is the machine's.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import sys
import threading
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, MutableMapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TextIO

from shipline.local.model import ACCOUNT, REGION, Function

DUPLICATE_CHANCE = 0.3  # under chaos: how often an asynchronous event is delivered twice
CHAOS_WORKERS = 8


@dataclass
class FakeContext:
    function_name: str
    timeout: int
    aws_request_id: str = "local"
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.started + self.timeout - time.monotonic()) * 1000))


@dataclass
class Invocation:
    function: Function
    event: Any
    attempt: int = 1
    duplicate: bool = False
    result: Any = None
    error: BaseException | None = None
    settle: Callable[[Invocation], None] | None = None  # a queue batch: the mapping settles its messages
    after: frozenset[Future] = frozenset()  # a retry: the invocations it waits for (Lambda's delay)
    output: list[str] = field(default_factory=list)
    metrics: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0  # how long the handler ran

    @property
    def label(self) -> str:
        return (self.event.get("detail-type") if isinstance(self.event, dict) else None) or "request"

    @property
    def failure(self) -> str:
        error = self.error
        return f"{type(error).__name__}: {error}" if error is not None else ""


class _ThreadLocalDict(MutableMapping):  # type: ignore[type-arg]
    """A dict per thread: one execution environment's metrics, as each Lambda process has its own."""

    def __init__(self) -> None:
        self._local = threading.local()

    def _data(self) -> dict:
        if not hasattr(self._local, "data"):
            self._local.data = {}
        return self._local.data  # type: ignore[no-any-return]

    def __getitem__(self, key: Any) -> Any:
        return self._data()[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._data()[key] = value

    def __delitem__(self, key: Any) -> None:
        del self._data()[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._data()))

    def __len__(self) -> int:
        return len(self._data())


class _RoutedStdout(io.TextIOBase):
    """sys.stdout while the runtime runs: an invocation's output (logs, EMF metrics) goes to its
    own buffer and to the functions' log file; anything else to the terminal, as before."""

    def __init__(self, log: TextIO, terminal: TextIO):
        self.log = log
        self.terminal = terminal
        self.local = threading.local()
        self._lock = threading.Lock()
        self.retired = False  # its runtime ended

    def write(self, text: str) -> int:
        target = getattr(self.local, "buffer", None)
        if target is None:
            if self.retired and sys.stdout is not self:
                # A stream kept past its runtime (Powertools' Logger keeps the sys.stdout it was
                # made with): what it gets now goes where sys.stdout goes now (a later runtime's
                # invocation, or the terminal), not to a terminal that may be closed.
                return sys.stdout.write(text)
            return self.terminal.write(text)
        target.append(text)
        with self._lock:
            self.log.write(text)
        return len(text)

    def flush(self) -> None:
        self.log.flush()
        self.terminal.flush()


class LambdaRuntime:
    def __init__(self, *, log: TextIO, chaos: int | None = None,
                 dead_letter: Callable[[Invocation], None], done: Callable[[Invocation], None]):
        self.log = log
        self.seed = chaos
        self.dead_letter = dead_letter
        self.done = done
        self.waiting: list[Invocation] = []
        self.running: set[Future] = set()
        self.invocations: list[Invocation] = []
        self.metrics: Counter[str] = Counter()
        self._lock = threading.RLock()
        self._executor = ThreadPoolExecutor(max_workers=CHAOS_WORKERS if chaos is not None else 1,
                                            thread_name_prefix="lambda")
        self._in_flight: Counter[str] = Counter()
        self._stdout: _RoutedStdout | None = None
        self._saved: list[tuple[Any, str, Any]] = []

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> LambdaRuntime:
        self._stdout = _RoutedStdout(self.log, sys.stdout)
        self._saved.append((sys, "stdout", sys.stdout))
        sys.stdout = self._stdout  # type: ignore[assignment]
        self._saved.append((warnings, "filters", warnings.filters[:]))
        # Powertools warns when an invocation emits no metric; in Lambda that goes to its log.
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        self._isolate_metrics()
        return self

    def __exit__(self, *exc: object) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        if self._stdout is not None:
            self._stdout.retired = True
        while self._saved:
            owner, name, value = self._saved.pop()
            setattr(owner, name, value)
        self.log.flush()

    def _isolate_metrics(self) -> None:
        """Powertools keeps metrics in dicts shared by the process; per thread here, as each
        Lambda execution environment is its own process."""
        from pipeline.handlers.observability import metrics

        provider = metrics.provider
        for owner in (metrics, provider):
            for name in ("metric_set", "dimension_set", "metadata_set"):
                if hasattr(owner, name):
                    self._saved.append((owner, name, getattr(owner, name)))
        for name in ("metric_set", "dimension_set", "metadata_set"):
            shared = _ThreadLocalDict()
            for owner in (metrics, provider):
                if hasattr(owner, name):
                    setattr(owner, name, shared)

    # ------------------------------------------------------------------ invoking
    def invoke(self, function: Function, event: Any) -> Invocation:
        """A synchronous invocation (a Function URL request): no retry, no destination."""
        invocation = Invocation(function, event)
        if not self._admit(function):
            invocation.error = _TooManyRequests("Rate Exceeded.")
            return invocation
        self._execute(invocation)
        return invocation

    def submit(self, function: Function, event: Any) -> None:
        """An asynchronous invocation: queued, run, retried, dead-lettered."""
        with self._lock:
            self.waiting.append(Invocation(function, event))
            if self.seed is not None and _draw(self.seed, "duplicate", function, event) < DUPLICATE_CHANCE:
                self.waiting.append(Invocation(function, json.loads(json.dumps(event)), duplicate=True))

    def submit_batch(self, function: Function, event: Any, settle: Callable[[Invocation], None]) -> None:
        """A batch from an event source mapping: one invocation, no retry of its own (the queue
        retries); `settle` hears how it ended."""
        with self._lock:
            self.waiting.append(Invocation(function, event, settle=settle))

    def pump(self) -> int:
        """Start what waits (all of it under chaos, in a shuffled order; else the next one when
        nothing runs). Returns how many started."""
        with self._lock:
            self.running = {f for f in self.running if not f.done()}
            if self.seed is None and self.running:
                return 0
            ready, self.waiting = self.waiting, []
            due = [all(f.done() for f in i.after) for i in ready]  # a retry's minute is up
            self.waiting.extend(i for i, up in zip(ready, due, strict=True) if not up)
            ready = [i for i, up in zip(ready, due, strict=True) if up]
            if self.seed is not None:
                ready.sort(key=lambda i: _draw(self.seed or 0, f"order {i.attempt} {i.duplicate}", i.function,
                                               i.event))
            elif ready:
                ready, self.waiting = ready[:1], ready[1:] + self.waiting
            started = 0
            for invocation in ready:
                if not self._admit(invocation.function):
                    self.waiting.append(invocation)  # throttled: Lambda keeps the event and tries again
                    continue
                self.running.add(self._executor.submit(self._asynchronous, invocation))
                started += 1
            return started

    def busy(self) -> bool:
        with self._lock:
            self.running = {f for f in self.running if not f.done()}
            return bool(self.running or self.waiting)

    def futures(self) -> set[Future]:
        with self._lock:
            return {f for f in self.running if not f.done()}

    def _admit(self, function: Function) -> bool:
        limit = function.reserved_concurrency
        with self._lock:
            if limit is not None and self._in_flight[function.logical_id] >= limit:
                return False
            self._in_flight[function.logical_id] += 1
            return True

    def _asynchronous(self, invocation: Invocation) -> None:
        self._execute(invocation)
        if invocation.settle is not None:
            invocation.settle(invocation)
            return
        if invocation.error is None:
            return
        if invocation.attempt <= invocation.function.max_retries:
            with self._lock:
                running = frozenset(f for f in self.running if not f.done())
                retry = Invocation(invocation.function, invocation.event, invocation.attempt + 1, invocation.duplicate,
                                   after=running)
                self.waiting.append(retry)
            return
        self.dead_letter(invocation)

    def _execute(self, invocation: Invocation) -> None:
        from pipeline.settings import function_environment

        function = invocation.function
        module, attribute = function.handler.rsplit(".", 1)
        environment = {**function.environment, "AWS_LAMBDA_FUNCTION_NAME": function.name}
        context = FakeContext(function.name, function.timeout)
        assert self._stdout is not None
        self._stdout.local.buffer = invocation.output
        started = time.perf_counter()
        try:
            with function_environment(environment):
                handler = getattr(importlib.import_module(module), attribute)
                invocation.result = handler(invocation.event, context)
            if context.get_remaining_time_in_millis() == 0:
                raise _TimedOut(f"Task timed out after {function.timeout:.2f} seconds")
        except Exception as exc:  # the Lambda runtime's view: the invocation failed
            invocation.error = exc
            invocation.result = None
            invocation.output.append("".join(traceback.format_exception_only(exc)))
        finally:
            invocation.seconds = time.perf_counter() - started
            self._stdout.local.buffer = None
            with self._lock:
                self._in_flight[function.logical_id] -= 1
        invocation.metrics = _emf_metrics(invocation.output)
        with self._lock:
            self.invocations.append(invocation)
            self.metrics.update(invocation.metrics)
        self.done(invocation)


class _TimedOut(RuntimeError):
    pass


class _TooManyRequests(RuntimeError):
    pass


def _draw(seed: int, purpose: str, function: Function, event: Any) -> float:
    """A number in [0, 1) fixed by the seed and what the event is about (its id and times vary
    from run to run; its kind, resource, tag, status and service do not)."""
    detail = event.get("detail", {}) if isinstance(event, dict) else {}
    detail = detail if isinstance(detail, dict) else {}
    variables = {v.get("name"): v.get("value") for v in detail.get("additional-information", {})
                 .get("environment", {}).get("environment-variables", []) if isinstance(v, dict)}
    about = [function.logical_id, purpose, str(event.get("detail-type") if isinstance(event, dict) else "request")]
    about += [str(detail.get(k, "")) for k in ("repository-name", "image-tag", "build-status", "scan-status",
                                                "commitId", "referenceName", "commit")]
    about += [str(variables.get("SERVICE", "")), str(sorted(detail.get("image-tags", []) or []))]
    digest = hashlib.sha256(f"{seed}|{'|'.join(about)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _emf_metrics(output: list[str]) -> Counter[str]:
    """The metrics an invocation emitted (Powertools prints CloudWatch EMF lines)."""
    found: Counter[str] = Counter()
    for line in "".join(output).splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        try:
            blob = json.loads(line)
        except ValueError:
            continue
        for directive in blob["_aws"].get("CloudWatchMetrics", []):
            for metric in directive.get("Metrics", []):
                value = blob.get(metric["Name"], 0)
                found[metric["Name"]] += sum(value) if isinstance(value, list) else value
    return found

