"""Races: pause one invocation inside an adapter call while another runs (another execution environment)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class Pause:
    """The first call of module.name for which `when(*args, **kwargs)` holds waits (before the
    call, or after it with after=True) until `go` is set; `reached` says it is waiting."""

    def __init__(self, monkeypatch, module, name: str, when: Callable[..., bool] = lambda *a, **k: True,
                 after: bool = False):
        self.reached, self.go, self.used = threading.Event(), threading.Event(), False
        self._lock = threading.Lock()
        original = getattr(module, name)

        def paused(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                mine = not self.used and when(*args, **kwargs)
                if mine:
                    self.used = True
            if mine and not after:
                self.reached.set()
                assert self.go.wait(60), "never released"
            result = original(*args, **kwargs)
            if mine and after:
                self.reached.set()
                assert self.go.wait(60), "never released"
            return result

        monkeypatch.setattr(module, name, paused)

    def wait(self) -> None:
        assert self.reached.wait(60), "the paused call was never reached"


class Run(threading.Thread):
    """A handler invocation on its own thread (another execution environment)."""

    def __init__(self, fn: Callable[[], Any]):
        super().__init__(daemon=True)
        self.fn, self.result, self.error = fn, None, None

    def run(self) -> None:
        try:
            self.result = self.fn()
        except BaseException as exc:  # noqa: BLE001
            self.error = exc

    def outcome(self, timeout: float = 60) -> Any:
        self.join(timeout)
        assert not self.is_alive(), "still running"
        if self.error is not None:
            raise self.error
        return self.result
