"""moto in this process with some of the local account's patches installed, and removed after:
for tests of one emulation rule against plain moto."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from moto import mock_aws

from shipline.local.patches import Patches


@contextmanager
def patched(*installers: Callable[[Patches], None]) -> Iterator[None]:
    patches = Patches()
    with mock_aws():
        for install in installers:
            install(patches)
        try:
            yield
        finally:
            patches.restore()
