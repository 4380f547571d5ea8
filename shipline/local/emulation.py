"""The emulated services of one local account: their state in this object, their patches on
moto installed while `installed()` is active and removed after, so nothing outlives the run
(or the test) that made them. One emulation is installed at a time: moto's server keeps one
account per process."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline.adapters import github_api, registry
from shipline.local import dynamodb, dynamodb_rules, ecr_rules, ecs, ecs_rules, kms, limits, scheduler_rules
from shipline.local.codebuild import CodeBuildEmulation
from shipline.local.codecommit import CodeCommitEmulation
from shipline.local.deployments import EcsDeploymentEmulation
from shipline.local.ecr import EcrEmulation
from shipline.local.github import GitHubApi
from shipline.local.model import ACCOUNT, REGION
from shipline.local.patches import Patches
from shipline.local.quotas import DEFAULT_QUOTA
from shipline.local.registry import BaseImageRegistry


class EmulationActiveError(RuntimeError):
    """Another local account (or test emulation) is installed in this process. Stop it first."""


class Outbox:
    """Events AWS services send, each due at a time of its own (a scan result comes a moment
    after the push it scans); and state changes a service makes at a time of its own (an ECS
    deployment ending), which emit their own events when they happen."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Any]] = []
        self._order = itertools.count()
        self._lock = threading.Lock()

    def emit(self, event: dict | Callable[[], None], delay: float = 0.0) -> None:
        with self._lock:
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._order), event))

    def due(self) -> list[dict]:
        now = time.monotonic()
        found = []
        with self._lock:
            while self._heap and self._heap[0][0] <= now:
                found.append(heapq.heappop(self._heap)[2])
        events = []
        for item in found:
            if callable(item):
                item()  # its events are due from now: the next call returns them
            else:
                events.append(item)
        return events

    def pending(self) -> bool:
        with self._lock:
            return bool(self._heap)


class Emulation:
    _active: Emulation | None = None
    _guard = threading.Lock()

    def __init__(self, *, source_root: Path, findings: dict[str, dict[str, int]] | None = None,
                 failing_scans: set[str] | None = None, codebuild_quota: int = DEFAULT_QUOTA,
                 tools_url: Callable[[], str] = lambda: "", note: Callable[[str, str], None] | None = None,
                 failing_deployments: set[str] | None = None):
        self.outbox = Outbox()
        self.codecommit = CodeCommitEmulation()
        self.ecr = EcrEmulation(self.outbox.emit, ACCOUNT, REGION, findings_by_service=dict(findings or {}),
                                failing_scans=set(failing_scans or ()))
        self.codebuild = CodeBuildEmulation(account=ACCOUNT, region=REGION, source_root=source_root,
                                            emit=self.outbox.emit, tools_url=tools_url, quota=codebuild_quota,
                                            note=note)
        self.registry = BaseImageRegistry()  # the public registries base images come from
        self.github = GitHubApi()  # GitHub's REST API, for a GitHub stack's build inputs
        self.deployments = EcsDeploymentEmulation(self.outbox.emit, ACCOUNT, REGION,
                                                  failing=set(failing_deployments or ()))

    @contextmanager
    def installed(self) -> Iterator[Emulation]:
        with Emulation._guard:
            if Emulation._active is not None:
                raise EmulationActiveError("another local account is running in this process")
            Emulation._active = self
        patches = Patches()
        try:
            self.codecommit.install(patches)
            self.ecr.install(patches)
            ecr_rules.install(patches)
            self.codebuild.install(patches)
            limits.install(patches)
            dynamodb.install(patches)
            dynamodb_rules.install(patches)
            kms.install(patches)
            ecs.install(patches)
            ecs_rules.install(patches)
            scheduler_rules.install(patches)
            self.registry.start()
            patches.set(registry, "REGISTRY_URL", f"{self.registry.url}/{{host}}")
            self.github.start()
            patches.set(github_api, "API_URL", self.github.url)
            self.deployments.install(patches)
            yield self
        finally:
            self.registry.stop()
            self.github.stop()
            patches.restore()
            self.ecr.close()
            with Emulation._guard:
                Emulation._active = None
