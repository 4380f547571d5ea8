"""A function's cold start: its imports run with Python's cyclic garbage collector paused.

Importing boto3, Powertools, pydantic and shipline makes about 70,000 container objects and
next to no garbage (modules, classes and functions live as long as the process). Left on, the
collector walks the growing heap hundreds of times during the imports, tens of milliseconds of
every function's Init Duration (`make bench`, "cold init"). The objects the imports made are then
frozen (`gc.freeze`, which the Python docs describe for this case): later collections, on warm
invocations too, do not walk them again. Garbage made later is collected as usual.

Two costs, both small and fixed. The few hundred objects the imports leave as cyclic garbage
(about 700 for ImageEvents) are frozen with the rest and never freed. And the pause is the
process's: where several functions share one (the local account, the tests), invocations on
other threads run without cyclic collection while a thread imports a handler, once per handler.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def imports() -> Iterator[None]:
    """Run a handler module's imports without the cyclic collector, then freeze what they made."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
        gc.freeze()
    finally:
        if enabled:
            gc.enable()
