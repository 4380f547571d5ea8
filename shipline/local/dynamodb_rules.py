"""DynamoDB's request rules that moto does not check, checked by the local account.

Each is DynamoDB's documented rule, answered with DynamoDB's ValidationException:
- ExpressionAttributeNames and ExpressionAttributeValues, when given, must not be empty maps
  ("ExpressionAttributeNames must not be empty"; DynamoDB API Reference, UpdateItem and every
  other item operation: "ExpressionAttributeNames ... Map ... Minimum 1"; moto checks only an
  empty ExpressionAttributeValues).
- Every ExpressionAttributeValues entry must be used by the member's expressions, in a
  TransactWriteItems member too ("Value provided in ExpressionAttributeValues unused in
  expressions": DynamoDB Developer Guide, "Using expression attribute values"; moto checks it for
  UpdateItem and not for a transaction's members).
- A key attribute may not be an empty string ("One or more parameter values are not valid. The
  AttributeValue for a key attribute cannot contain an empty string value": Developer Guide,
  "Supported data types and naming rules", String; moto lets UpdateItem and TransactGetItems
  through).
- TransactGetItems: at most 100 items (API Reference, TransactGetItems: "up to 100
  TransactGetItem objects"; moto refuses more than 25), and, as in TransactWriteItems, one item
  at most once ("Transaction request cannot include multiple operations on one item"; moto
  answers the item twice).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from moto.dynamodb import responses as dynamodb_responses
from moto.dynamodb.exceptions import MockValidationException
from moto.dynamodb.responses import DynamoHandler

from shipline.local.dynamodb import ITEM_OPERATIONS
from shipline.local.patches import Patches

TRANSACT_GET_LIMIT = 100
_VALUE = re.compile(r":[A-Za-z0-9_]+")
_EXPRESSIONS = ("UpdateExpression", "ConditionExpression", "KeyConditionExpression", "FilterExpression",
                "ProjectionExpression")
# Handler operations whose request carries one table's item parameters.
ITEM_REQUESTS = tuple(name for name in ITEM_OPERATIONS if name != "transact_write_items")


def check_maps(request: dict[str, Any]) -> None:
    for name in ("ExpressionAttributeNames", "ExpressionAttributeValues"):
        if name in request and not request[name]:
            raise MockValidationException(f"{name} must not be empty")


def check_values_used(request: dict[str, Any]) -> None:
    used = {v for key in _EXPRESSIONS for v in _VALUE.findall(str(request.get(key) or ""))}
    unused = sorted(set(request.get("ExpressionAttributeValues") or {}) - used)
    if unused:
        raise MockValidationException(
            f"Value provided in ExpressionAttributeValues unused in expressions: keys: {{{', '.join(unused)}}}")


def check_key(key: dict[str, Any]) -> None:
    empty = next((name for name, value in key.items() if value in ({"S": ""}, {"B": ""}, {"B": b""})), None)
    if empty is not None:
        raise MockValidationException("One or more parameter values are not valid. The AttributeValue for a key "
                                      f"attribute cannot contain an empty string value. Key: {empty}")


def check_transact_get(items: list[dict[str, Any]]) -> None:
    if len(items) > TRANSACT_GET_LIMIT:
        raise MockValidationException(
            "1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have "
            f"length less than or equal to {TRANSACT_GET_LIMIT}")
    seen = set()
    for item in items:
        get = item.get("Get") or {}
        check_maps(get)
        check_key(get.get("Key") or {})
        identity = (get.get("TableName"), json.dumps(get.get("Key"), sort_keys=True))
        if identity in seen:
            raise MockValidationException("Transaction request cannot include multiple operations on one item")
        seen.add(identity)


def check_transact_write(items: Iterable[dict[str, Any]]) -> None:
    for item in items:
        for member in item.values():
            check_maps(member)
            check_values_used(member)


def _checked(operation: Callable[[DynamoHandler], Any], check: Callable[[dict[str, Any]], None]
             ) -> Callable[[DynamoHandler], Any]:
    @functools.wraps(operation)
    def run(handler: DynamoHandler) -> Any:
        check(handler.body)
        return operation(handler)
    return run


def _item_request(request: dict[str, Any]) -> None:
    check_maps(request)
    if "Key" in request:
        check_key(request["Key"])


def install(patches: Patches) -> None:
    for name in ITEM_REQUESTS:
        patches.set(DynamoHandler, name, _checked(getattr(DynamoHandler, name), _item_request))
    patches.set(DynamoHandler, "transact_write_items", _checked(
        DynamoHandler.transact_write_items, lambda body: check_transact_write(body.get("TransactItems") or [])))
    patches.set(DynamoHandler, "transact_get_items", _checked(
        DynamoHandler.transact_get_items, lambda body: check_transact_get(body.get("TransactItems") or [])))
    # the count is checked above (100, as AWS); moto's handler would refuse more than 25
    patches.set(dynamodb_responses, "TRANSACTION_MAX_ITEMS", TRANSACT_GET_LIMIT)
