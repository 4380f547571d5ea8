"""Fault injection through botocore's event hooks: a `before-send` handler answers in AWS's
place, so the client's own retry logic (and everything above it) sees a real error response.

botocore calls every `before-send` handler and uses the first response, so moto's handler
would still carry the request out. The injecting handler therefore points the request at an
address moto does not serve, and a last handler restores it for the next attempt."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from botocore.awsrequest import AWSResponse

# Counted across the run and printed in pytest's summary (tests/conftest.py).
INJECTED: Counter[str] = Counter()

def _cancellation(body: bytes) -> tuple[str, dict]:
    """A conflict's message and CancellationReasons: one reason per member of the request, in
    its order, the first member's the conflict and the others' "None" (as DynamoDB lists them)."""
    members = len(json.loads(body or b"{}").get("TransactItems", [])) or 1
    reasons = [{"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}] + [
        {"Code": "None"}] * (members - 1)
    message = ("Transaction cancelled, please refer cancellation reasons for specific reasons "
               f"[{', '.join(r['Code'] for r in reasons)}]")
    return message, {"CancellationReasons": reasons}


# kind -> status, code, and the message; or what makes the message and the rest of the error
# body from the request's body, for a kind whose answer depends on the request.
KINDS: dict[str, tuple[int, str, str | Callable[[bytes], tuple[str, dict]]]] = {
    "throttling": (400, "ThrottlingException", "Rate exceeded"),
    "server-error": (500, "InternalFailure", "We encountered an internal error. Please try again."),
    "access-denied": (403, "AccessDeniedException", "User is not authorized to perform this action"),
    # CodeBuild's answer when its build queue is full; botocore does not retry it.
    "account-limit": (400, "AccountLimitExceededException", "Cannot have more than 0 builds in queue for the account"),
    # DynamoDB's answer to a transaction (TransactWriteItems or TransactGetItems) that met another
    # on one of its items (TransactionCanceledException in the API Reference: "There is an
    # ongoing TransactWriteItems operation that conflicts with a concurrent ..."); botocore's
    # standard retry mode does not retry it. Its CancellationReasons name the conflict.
    "transaction-conflict": (400, "TransactionCanceledException", _cancellation),
}
_QUERY_CODES = {"ThrottlingException": "Throttling", "AccessDeniedException": "AccessDenied",
                "InternalFailure": "InternalFailure"}


class _Raw:
    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **_kwargs):
        yield self._body

    def read(self, *_args):
        return self._body


@dataclass
class Fault:
    service: str
    operation: str
    kind: str
    times: int  # how many requests fail before the service answers normally (-1: all)
    containing: str = ""  # only requests whose body holds this text (one build of several, say)
    hits: int = 0


@dataclass
class Faults:
    active: list[Fault] = field(default_factory=list)

    def inject(self, service: str, operation: str, kind: str, times: int = 1, containing: str = "") -> Fault:
        fault = Fault(service, operation, kind, times, containing)
        self.active.append(fault)
        return fault

    def clear(self) -> None:
        self.active.clear()

    def install(self, events, service: str, protocol: str) -> None:
        """Register on a client's event system, first and last of the `before-send` handlers."""
        diverted: dict[int, str] = {}

        def inject(request, **kwargs):
            operation = kwargs.get("event_name", "").rsplit(".", 1)[-1]
            for fault in self.active:
                if (fault.service, fault.operation) != (service, operation):
                    continue
                if fault.times != -1 and fault.hits >= fault.times:
                    continue
                body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
                if fault.containing and fault.containing.encode() not in body:
                    continue
                fault.hits += 1
                INJECTED[fault.kind] += 1
                diverted[id(request)] = request.url
                url = request.url
                request.url = "https://fault-injection.invalid/"
                status, code, answer = KINDS[fault.kind]
                message, extra = answer(body) if callable(answer) else (answer, {})
                return _response(url, protocol, status, code, message, extra=extra)
            return None

        def restore(request, **_kwargs):
            if id(request) in diverted:
                request.url = diverted.pop(id(request))

        events.register_first("before-send", inject)
        events.register_last("before-send", restore)


def _response(url: str, protocol: str, status: int, code: str, message: str, extra: dict | None = None) -> AWSResponse:
    if protocol in ("query", "ec2"):
        code = _QUERY_CODES.get(code, code)
        body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message>"
                f"</Error><RequestId>fault</RequestId></ErrorResponse>").encode()
        headers = {"Content-Type": "text/xml"}
    else:
        body = json.dumps({"__type": code, "message": message, **(extra or {})}).encode()
        headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code}
    return AWSResponse(url, status, headers, _Raw(body))
