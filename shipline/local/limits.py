"""Limits AWS enforces and moto does not, enforced by the local account.

Each is AWS's documented rule; the numbers and messages are AWS's:
- EventBridge PutEvents: the entries of one request total at most 1 MB (raised from 256 KB in
  January 2026; the size counts Source, DetailType, Detail and Resources as UTF-8, and Time as
  14 bytes: "Calculating PutEvents event entry size"). Over it, the whole request fails with
  ValidationException. A `source` starting with `aws.` belongs to AWS services: an entry that
  uses one fails with NotAuthorizedForSourceException. An entry whose Detail is not "a valid
  JSON object" fails with MalformedDetail ("Detail is malformed."; EventBridge API Reference,
  PutEventsRequestEntry and PutEventsResultEntry); moto takes any JSON.
- SNS Publish: a subject is UTF-8 "with no line breaks or control characters" and at most 100
  characters (InvalidParameter: "Invalid parameter: Subject"; moto checks only the length). The
  API Reference says "less than 100", but AWS takes exactly 100 and refuses 101 (getmoto/moto#1503:
  AWS Config itself sends 100-character subjects); the functions cut theirs to 99, within both;
  a message is at most 256 KB. With MessageStructure `json` the message must be "a
  syntactically valid JSON object" with "a top-level JSON key of "default" with a value that is
  a string" (SNS API Reference, Publish; "Invalid parameter: Message Structure - JSON message
  body failed to parse" / "... - No default entry in JSON message body"); moto takes anything
  and fails only when it delivers.
(ECS RegisterTaskDefinition's rules, names included, are in ecs_rules.py.)
- Lambda Function URLs take requests of at most 6 MB (see account.py: the caller gets 413 and
  the function is not invoked).
ECR repository names and their errors are moto's own, which follow ECR's.
"""

from __future__ import annotations

import json
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.events.responses import EventsHandler
from moto.sns.exceptions import InvalidParameterValue
from moto.sns.responses import SNSResponse

from shipline.local.patches import Patches

PUT_EVENTS_LIMIT = 1024 * 1024  # bytes, all entries of one PutEvents request
SNS_SUBJECT_LIMIT = 100  # characters: what AWS takes (the documented "less than 100" is one fewer)
SNS_MESSAGE_LIMIT = 256 * 1024  # bytes
FUNCTION_URL_REQUEST_LIMIT = 6 * 1024 * 1024  # bytes


def entry_size(entry: dict[str, Any]) -> int:
    """A PutEvents entry's size as EventBridge counts it."""
    size = 14 if entry.get("Time") else 0
    for key in ("Source", "DetailType", "Detail"):
        size += len(str(entry.get(key) or "").encode())
    size += sum(len(str(r).encode()) for r in entry.get("Resources") or [])
    return size


def entry_problem(entry: dict[str, Any]) -> dict[str, str] | None:
    """PutEvents' answer for an entry EventBridge fails on its own, or None."""
    if str(entry.get("Source", "")).startswith("aws."):
        return {"ErrorCode": "NotAuthorizedForSourceException", "ErrorMessage": "Not authorized for the source."}
    if "Detail" in entry:
        try:
            detail = json.loads(str(entry["Detail"]))
        except ValueError:
            detail = None
        if not isinstance(detail, dict):
            return {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
    return None


def subject_problem(subject: str | None) -> bool:
    if subject is None:
        return False
    return not subject or len(subject) > SNS_SUBJECT_LIMIT or any(
        not c.isprintable() or c in "\r\n" for c in subject)


def structure_problem(message: str) -> str | None:
    """What SNS says of a MessageStructure `json` message it refuses, or None."""
    try:
        parsed = json.loads(message)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        return "Invalid parameter: Message Structure - JSON message body failed to parse"
    if not isinstance(parsed.get("default"), str):
        return "Invalid parameter: Message Structure - No default entry in JSON message body"
    return None


def install(patches: Patches) -> None:
    original_put_events = EventsHandler.put_events
    original_publish = SNSResponse.publish

    def put_events(response: EventsHandler) -> str:
        entries = response._get_param("Entries") or []
        if sum(entry_size(e) for e in entries) > PUT_EVENTS_LIMIT:
            raise JsonRESTError("ValidationException", "Total size of the entries in the request is over the limit.")
        refused = {i: problem for i, e in enumerate(entries) if (problem := entry_problem(e))}
        if not refused:
            return str(original_put_events(response))
        allowed = [e for i, e in enumerate(entries) if i not in refused]
        done = iter(response.events_backend.put_events(allowed) if allowed else [])
        answers = [refused[i] if i in refused else next(done) for i in range(len(entries))]
        return json.dumps({"FailedEntryCount": sum(1 for a in answers if "ErrorCode" in a), "Entries": answers})

    def publish(response: SNSResponse) -> Any:
        if subject_problem(response._get_param("Subject")):
            raise InvalidParameterValue("Invalid parameter: Subject")
        message = str(response._get_param("Message") or "")
        if len(message.encode()) > SNS_MESSAGE_LIMIT:
            raise InvalidParameterValue("Invalid parameter: Message too long")
        if response._get_param("MessageStructure") == "json":
            problem = structure_problem(message)
            if problem:
                raise InvalidParameterValue(problem)
        return original_publish(response)

    patches.set(EventsHandler, "put_events", put_events)
    patches.set(SNSResponse, "publish", publish)
