"""What each failure comes to is declared by its exception (pipeline.domain.outcomes), so that a
handler catches kinds and imports no other function's modules to name their exceptions."""

import json
import os
import subprocess
import sys

import pytest

from pipeline.adapters.ecr import ImageGoneError
from pipeline.domain.manifest import UnknownServiceError
from pipeline.domain.naming import InvalidCommitError
from pipeline.domain.outcomes import Drift, Ignored, Refused, Rejected
from pipeline.domain.requests import UntrackedSourceError
from pipeline.domain.task_definitions import NoContainerForRepositoryError, TaskSizeConflictError
from pipeline.events.envelope import InvalidEventError, NotOursError
from pipeline.handlers.outcomes import event_outcomes
from tests.support.paths import ROOT


@pytest.mark.parametrize(("error", "outcome", "drift"), [
    (InvalidEventError("bad"), "rejected", False),
    (InvalidCommitError("bad"), "rejected", False),
    (ImageGoneError("gone"), "rejected", False),
    (UnknownServiceError("unknown"), "rejected", True),
    (NoContainerForRepositoryError("no container"), "rejected", True),
    (TaskSizeConflictError("too small"), "rejected", True),
    (UntrackedSourceError("untracked"), "refused", False),
    (NotOursError("not ours"), "ignored", False),
])
def test_each_failure_comes_to_its_declared_outcome(error, outcome, drift, lambda_context):
    def handler(event, context):
        raise error

    assert event_outcomes(handler)({}, lambda_context) == {"outcome": outcome, "reason": str(error)}
    assert isinstance(error, Drift) == drift
    assert sum(isinstance(error, kind) for kind in (Rejected, Refused, Ignored)) == 1


def test_any_other_failure_is_raised_for_lambda_to_retry(lambda_context):
    def handler(event, context):
        raise RuntimeError("throttled past the retries")

    with pytest.raises(RuntimeError):
        event_outcomes(handler)({}, lambda_context)


@pytest.mark.parametrize("module", ["build_trigger", "build_events", "github_webhook"])
def test_a_handler_that_never_touches_ecr_or_task_definitions_does_not_import_them(module):
    probe = f"import json, sys; import pipeline.handlers.{module}; print(json.dumps(list(sys.modules)))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT, capture_output=True, text=True, check=True,
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT / "functions"), "POWERTOOLS_TRACE_DISABLED": "true"})
    modules = set(json.loads(loaded.stdout))
    assert not modules & {"pipeline.adapters.ecr", "pipeline.domain.task_definitions", "pipeline.adapters.ecs"}
