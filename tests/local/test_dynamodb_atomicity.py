"""DynamoDB writes each item atomically (a conditional write checks and writes as one step);
moto's threaded server does not, so the local account runs each DynamoDB item operation as one
step. Without it, two invocations racing for one claim could both win under --chaos."""

import threading
import time

import pytest
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.responses import DynamoHandler

from shipline.local import dynamodb
from shipline.local.patches import Patches


@pytest.mark.parametrize(("owner", "name"), [(DynamoDBBackend, n) for n in dynamodb.ITEM_OPERATIONS]
                         + [(DynamoHandler, n) for n in dynamodb.HANDLER_OPERATIONS])
def test_concurrent_item_operations_run_one_at_a_time(owner, name):
    running, most = [0], [0]
    guard = threading.Lock()

    def slow(*_args, **_kwargs):  # a check-then-write with room for another thread in between
        with guard:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.02)
        with guard:
            running[0] -= 1

    outer = Patches()
    outer.set(owner, name, slow)
    patches = Patches()
    try:
        dynamodb.install(patches)
        threads = [threading.Thread(target=getattr(owner, name), args=(None,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        patches.restore()
        outer.restore()
    assert most[0] == 1


def test_the_patches_are_undone():
    before = {name: DynamoDBBackend.__dict__[name] for name in dynamodb.ITEM_OPERATIONS}
    patches = Patches()
    dynamodb.install(patches)
    assert all(DynamoDBBackend.__dict__[name] is not before[name] for name in dynamodb.ITEM_OPERATIONS)
    patches.restore()
    assert all(DynamoDBBackend.__dict__[name] is before[name] for name in dynamodb.ITEM_OPERATIONS)
