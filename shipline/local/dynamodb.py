"""DynamoDB's item-level atomicity, which moto's server does not have.

DynamoDB applies each write to an item as one atomic step: a conditional PutItem, UpdateItem
or DeleteItem checks its condition and writes with no other write in between ("Condition
expressions", "Conditional writes": "conditional writes are idempotent ... DynamoDB performs the
write only if the condition is met"; TransactWriteItems is all-or-nothing and isolated from
other writes: "Isolation levels for DynamoDB transactions": serializable). moto's threaded
server evaluates a condition and then writes, with nothing stopping another request's thread in
between, so two invocations that race to claim the same item (the ledger's registration claim,
Powertools idempotency records) can both win there and never in AWS: the local account under
`--chaos` then registered an image twice. Here every item operation of the DynamoDB backend
runs under one lock, as one step, which is what a client of DynamoDB can observe.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.responses import DynamoHandler

from shipline.local.patches import Patches

ITEM_OPERATIONS = ("put_item", "update_item", "delete_item", "get_item", "query", "scan", "transact_write_items")
# TransactGetItems is read item by item by moto's handler; DynamoDB isolates it as a whole.
HANDLER_OPERATIONS = ("transact_get_items",)

_lock = threading.RLock()


def _atomic(operation: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(operation)
    def run(*args: Any, **kwargs: Any) -> Any:
        with _lock:
            return operation(*args, **kwargs)
    return run


def install(patches: Patches) -> None:
    for owner, names in ((DynamoDBBackend, ITEM_OPERATIONS), (DynamoHandler, HANDLER_OPERATIONS)):
        for name in names:
            patches.set(owner, name, _atomic(getattr(owner, name)))
