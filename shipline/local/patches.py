"""Patches on moto's classes that live exactly as long as an emulation is installed.

moto keeps one implementation per process; an emulation adds to it (an API moto lacks, a
limit AWS enforces) by replacing attributes on entry and restoring them on exit, so nothing
outlives the local account or the test that installed it.
"""

from __future__ import annotations

from typing import Any

_MISSING = object()


class Patches:
    def __init__(self) -> None:
        self._saved: list[tuple[Any, str, Any]] = []

    def set(self, owner: Any, name: str, value: Any) -> None:
        self._saved.append((owner, name, owner.__dict__.get(name, _MISSING)))
        setattr(owner, name, value)

    def restore(self) -> None:
        while self._saved:
            owner, name, old = self._saved.pop()
            if old is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, old)
