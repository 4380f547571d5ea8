"""Fixtures shared by every test tier: no credentials, no network, fresh caches."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import pytest

from tests.support.paths import ROOT

sys.path.insert(0, str(ROOT / "functions"))

# No test may find real credentials or reach AWS, whatever the machine has configured.
for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(name, None)
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
    AWS_CONFIG_FILE=os.devnull,
    AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    POWERTOOLS_TRACE_DISABLED="true",
    POWERTOOLS_DEV="false",
    POWERTOOLS_METRICS_NAMESPACE="shipline",
    POWERTOOLS_SERVICE_NAME="shipline",
)


@dataclass
class FakeLambdaContext:
    function_name: str = "shipline-test"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:shipline-test"
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    log_group_name: str = "/aws/lambda/shipline-test"
    log_stream_name: str = "2026/11/26/[$LATEST]abcdef"
    remaining_ms: int = 60_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture(autouse=True)
def _fresh_process_state():
    """Each test starts as a cold Lambda would: no cached clients, settings or metrics."""
    from aws_lambda_powertools import Metrics
    from aws_lambda_powertools.utilities import parameters

    from pipeline.adapters import clients, logs
    from pipeline.domain import manifest
    from pipeline.flows import idempotency, repositories
    from pipeline.flows import inputs as build_inputs
    from pipeline.settings import get_settings

    def reset():
        clients.reset()
        idempotency.reset()
        repositories.reset()
        logs.reset()
        build_inputs.reset()
        get_settings.cache_clear()
        manifest.default_manifest.cache_clear()
        parameters.clear_caches()
        metrics = Metrics()
        metrics.clear_metrics()
        metrics.clear_default_dimensions()

    environment = dict(os.environ)
    reset()
    yield
    # A test that points the CLI at an endpoint (or anything else) leaves the process as it found it.
    os.environ.clear()
    os.environ.update(environment)
    reset()


def pytest_sessionfinish(session, exitstatus):
    """Under pytest-xdist, a worker hands its counts to the controller, which reports them."""
    from tests.support.faults import INJECTED
    from tests.support.properties import TRIED

    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output["injected"], output["tried"] = dict(INJECTED), dict(TRIED)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    from tests.support.faults import INJECTED
    from tests.support.properties import TRIED

    output = getattr(node, "workeroutput", {})
    INJECTED.update(output.get("injected", {}))
    TRIED.update(output.get("tried", {}))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """The counts the fault and property tests promise to report."""
    from tests.support.faults import INJECTED
    from tests.support.properties import TRIED

    if INJECTED:
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(INJECTED.items()))
        terminalreporter.write_line(f"faults injected: {sum(INJECTED.values())} ({kinds})")
    if TRIED:
        terminalreporter.write_line(f"property cases tried: {sum(TRIED.values())}")
        for name, count in sorted(TRIED.items()):
            terminalreporter.write_line(f"  {name}: {count}")
