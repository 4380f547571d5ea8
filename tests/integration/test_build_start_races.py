"""Two deliveries of one build start racing (SQS delivers at least once), one able to read the
commit's build inputs and one not (a transient failure: GitHub's rate limit, Secrets Manager
throttling the token's read, CodeCommit throttling GetFolder). One is paused inside StartBuild
(another execution environment) while the other runs whole; the one that failed is delivered
again afterwards, as SQS does after the starter's backoff. One build starts, whichever order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import boto3
import pytest

from pipeline.adapters import codebuild
from pipeline.handlers import build_starter
from tests.integration.conftest import AFTER
from tests.support.races import Pause, Run
from tests.support.sources import source_files
from tests.support.stacks import GITHUB

FULL_NAME = "example-org/multi-agent-orchestrator"
TOKEN = "ghp_" + "t" * 36
CODECOMMIT, GITHUB_PUBLIC, GITHUB_TOKEN = "codecommit", "github (rate limit spent)", "github (token's read throttled)"


@pytest.fixture
def stack_parameters(source, aws) -> dict[str, str]:
    if source == GITHUB_TOKEN:
        arn = boto3.client("secretsmanager").create_secret(Name="github-token", SecretString=TOKEN)["ARN"]
        return {**GITHUB, "GitHubTokenSecretArn": arn}
    return dict(GITHUB) if source == GITHUB_PUBLIC else {}


@pytest.fixture
def deliver(source, stack, emulation, codecommit_history, monkeypatch, lambda_context):
    """Deliver the build start of langgraph at AFTER (message `message_id`) to the starter; its
    state and build ("failed" when the message comes back later). The commit holds this
    repository's build sources, on CodeCommit and on the GitHub stand-in."""
    codecommit_history.files[AFTER] = source_files()
    if source != CODECOMMIT:
        emulation.github.add(FULL_NAME, codecommit_history, token=TOKEN if source == GITHUB_TOKEN else "")
    stack.use_function("BuildStarterFunction", monkeypatch)
    trigger = "codecommit" if source == CODECOMMIT else "github"

    def start(message_id: str) -> tuple[str, str]:
        body = {"service": "langgraph", "sourceVersion": AFTER, "trigger": trigger, "event": "push"}
        answer = build_starter.handler({"Records": [{"messageId": message_id, "body": json.dumps(body),
                                                     "eventSource": "aws:sqs"}]}, lambda_context)
        if answer["batchItemFailures"]:
            return "failed", ""
        return answer["states"]["langgraph"], answer["builds"].get("langgraph", "")

    return start


@contextmanager
def _unreadable(source: str, faults, emulation) -> Iterator[None]:
    """The commit's inputs cannot be read while inside (a transient failure)."""
    if source == GITHUB_PUBLIC:
        emulation.github.limits["anonymous"] = len(emulation.github.requests)  # the hour's requests are spent
    elif source == GITHUB_TOKEN:
        faults.inject("secretsmanager", "GetSecretValue", "throttling", times=-1)
    else:
        faults.inject("codecommit", "GetFolder", "throttling", times=-1)
    yield
    emulation.github.limits["anonymous"] = 10_000  # the next hour
    faults.clear()


def _another_environment() -> None:
    """What a fresh execution environment has not read yet: the commit's files, the token."""
    from aws_lambda_powertools.utilities import parameters

    from pipeline.flows import inputs

    inputs.reset()
    parameters.clear_caches()


@pytest.mark.parametrize("source", [CODECOMMIT, GITHUB_PUBLIC, GITHUB_TOKEN])
@pytest.mark.parametrize("first", ["reader", "unable"])
def test_two_deliveries_racing_one_unable_to_read_the_inputs_start_one_build(first, source, deliver, faults,
                                                                             emulation, stack, monkeypatch):
    """`first` starts, and is paused once its StartBuild returned; the other delivery runs whole
    meanwhile (in another environment); then the first goes on. A delivery that failed comes
    back (its inputs readable by then) and finds the build. (CodeCommit's failure is an AWS error:
    the start fails before StartBuild and is retried, there was no race to lose.)"""
    paused = Pause(monkeypatch, codebuild, "start_build", after=True)
    outer = Run(lambda: deliver("m-first"))
    with _unreadable(source, faults, emulation) if first == "unable" else nullcontext():
        outer.start()
        while not paused.reached.wait(0.05) and outer.is_alive():
            pass
    if not paused.reached.is_set():  # it failed before StartBuild (CodeCommit's error fails the start): no pause
        paused.go.set()
    _another_environment()
    with _unreadable(source, faults, emulation) if first == "reader" else nullcontext():
        inner = deliver("m-second")
    paused.go.set()
    outcomes = {"m-first": outer.outcome(), "m-second": inner}

    for message, (state, _build) in list(outcomes.items()):
        if state == "failed":  # SQS delivers it again after the starter's backoff
            outcomes[message] = deliver(message)
    (build,) = [b.arn for b in emulation.codebuild.builds.values()]
    assert sorted(state for state, _ in outcomes.values()) == ["already started", "started"], outcomes
    assert {arn for _, arn in outcomes.values()} == {build}
    items = boto3.client("dynamodb").scan(TableName=stack.refs["LedgerTable"])["Items"]
    assert [i["sk"]["S"] for i in items if i["sk"]["S"].startswith("build#")] == [f"build#{build}"]
