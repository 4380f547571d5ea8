"""The build starter's idempotency: a commit's ledger item is the record of each plan started
for it (no Powertools record), and StartBuild's idempotency token makes a duplicate that races
the first start get the same build. Each start is one SQS record handed to the starter, as
Lambda's mapping hands it."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from botocore.exceptions import ClientError

from pipeline.handlers import build_starter
from tests.integration.conftest import AFTER
from tests.support.events import load_event

REPO_PK = "multi-agent-orchestrator#dev#langgraph"


@pytest.fixture
def start(stack, emulation, codecommit_history, calls, monkeypatch, lambda_context):
    """Deliver one build start (langgraph at AFTER, or the given fields) to the starter; returns
    its state and build."""
    stack.use_function("BuildStarterFunction", monkeypatch)
    delivered = iter(range(1000))

    def deliver(**fields) -> tuple[str, str]:
        body = {"service": "langgraph", "sourceVersion": AFTER, "trigger": "codecommit", "event": "push", **fields}
        answer = build_starter.handler({"Records": [{"messageId": f"m{next(delivered)}", "body": json.dumps(body),
                                                     "eventSource": "aws:sqs"}]}, lambda_context)
        if answer["batchItemFailures"]:  # the message comes back later (SQS)
            return "failed", ""
        return answer["states"]["langgraph"], answer["builds"].get("langgraph", "")

    return deliver


def _commit(stack) -> dict:
    return boto3.client("dynamodb").get_item(TableName=stack.refs["LedgerTable"], ConsistentRead=True, Key={
        "pk": {"S": REPO_PK}, "sk": {"S": f"commit#{AFTER[:7]}"}})["Item"]


def _effects(calls) -> list[str]:
    """The calls past build avoidance (which reads the commit's inputs from CodeCommit first)."""
    return [op for op in calls.operations() if op.split(":")[0] in ("dynamodb", "codebuild")]


def _builds(stack) -> list[str]:
    items = boto3.client("dynamodb").scan(TableName=stack.refs["LedgerTable"])["Items"]
    return sorted(i["sk"]["S"].removeprefix("build#") for i in items if i["sk"]["S"].startswith("build#"))


def _race_inside_start_build(monkeypatch, start, **fields) -> list[tuple[str, str]]:
    """The next start's StartBuild, once it returns, lets another start (of `fields`) run whole
    before the first goes on; that start's (state, build) is appended to the list returned."""
    from pipeline.adapters import codebuild

    original = codebuild.start_build
    inner: list[tuple[str, str]] = []

    def racing(*args, **kwargs):
        build = original(*args, **kwargs)
        if not inner:
            inner.append(("racing", ""))  # the inner start's own StartBuild does not race again
            inner[0] = start(**fields)
        return build

    monkeypatch.setattr(codebuild, "start_build", racing)
    return inner


def test_a_build_start_makes_three_calls_after_build_avoidance_and_no_idempotency_record(start, calls, stack):
    start()  # the repository and log group made, as on the service's first build
    calls.made.clear()
    start(occasion="forced-once")  # a warm instance: the repository and log group remembered
    assert _effects(calls) == ["dynamodb:UpdateItem", "codebuild:StartBuild", "dynamodb:TransactWriteItems"]
    idempotency = boto3.client("dynamodb").scan(TableName=stack.refs["IdempotencyTable"])["Items"]
    assert idempotency == []


def test_a_late_duplicate_starts_nothing_and_answers_the_first_build(start, calls, stack, emulation):
    state, build = start()
    calls.made.clear()
    again, same = start()
    assert (state, again, same) == ("started", "already started", build)
    # the commit's item holds the plan's build; its build's item says it has not ended
    assert _effects(calls) == ["dynamodb:UpdateItem", "dynamodb:GetItem"]
    assert len(emulation.codebuild.builds) == 1 and _builds(stack) == [build]


def test_a_concurrent_duplicate_gets_the_same_build_and_one_of_the_two_reports_started(start, calls, stack,
                                                                                      emulation, monkeypatch):
    """The second delivery runs whole while the first is inside StartBuild: both read the commit
    before either wrote. CodeBuild answers the second's token with the first's build; the first's
    write finds the plan recorded (its condition fails) and reports "already started"."""
    inner = _race_inside_start_build(monkeypatch, start)  # the duplicate, delivered to another instance meanwhile
    outer = start()
    assert inner == [("started", outer[1])] and outer[0] == "already started"
    assert len(emulation.codebuild.builds) == 1 and len(calls.of("codebuild", "StartBuild")) == 2
    commit = _commit(stack)
    assert commit["attempt"] == {"N": "1"} and commit["lastBuild"] == {"S": outer[1]}
    assert _builds(stack) == [outer[1]]


def test_two_plans_of_one_commit_racing_both_build_and_the_first_write_takes_the_attempt(start, stack, emulation,
                                                                                        monkeypatch):
    """A push's start and a forced request's, at once: two plans, two tokens, two builds (as with
    the Powertools record before). The forced one writes first and is the commit's latest
    attempt; the push's build is recorded for its plan alone, so its duplicate starts nothing."""
    inner = _race_inside_start_build(monkeypatch, start, trigger="request", occasion="forced")
    pushed = start()  # later starts pass through: the race happens once
    forced = inner[0]
    assert pushed[0] == "started" and forced[0] == "started" and pushed[1] != forced[1]
    assert _commit(stack)["lastBuild"] == {"S": forced[1]}
    assert start() == ("already started", pushed[1])
    assert start(trigger="request", occasion="forced") == ("already started", forced[1])
    assert len(emulation.codebuild.builds) == 2


def test_a_late_duplicate_of_an_earlier_forced_request_starts_nothing_after_a_later_one(start, emulation):
    first = start(trigger="request", occasion="forced-1")
    second = start(trigger="request", occasion="forced-2")
    assert first[0] == second[0] == "started" and first[1] != second[1]
    assert start(trigger="request", occasion="forced-1") == ("already started", first[1])
    assert start(trigger="request", occasion="forced-2") == ("already started", second[1])
    assert len(emulation.codebuild.builds) == 2


def test_a_plans_record_is_forgotten_after_the_idempotency_window(start, stack, emulation):
    """As the Powertools record expired after IDEMPOTENCY_DAYS: a later start of the commit drops
    the plans' entries older than that, and a delivery of such a plan after it builds again."""
    first = start(trigger="request", occasion="forced-1")
    table, key = stack.refs["LedgerTable"], {"pk": {"S": REPO_PK}, "sk": {"S": f"commit#{AFTER[:7]}"}}
    dynamodb = boto3.client("dynamodb")
    (slot,) = dynamodb.get_item(TableName=table, Key=key)["Item"]["starts"]["M"]
    dynamodb.update_item(TableName=table, Key=key, UpdateExpression="SET #s.#p.#at = :old",
                         ExpressionAttributeNames={"#s": "starts", "#p": slot, "#at": "at"},
                         ExpressionAttributeValues={":old": {"S": "2020-01-01T00:00:00+00:00"}})
    start(trigger="request", occasion="forced-2")
    emulation.codebuild.clock = lambda: time.monotonic() + 31 * 86400  # StartBuild's tokens long expired too
    assert slot not in _commit(stack)["starts"]["M"] and len(_commit(stack)["starts"]["M"]) == 1
    again = start(trigger="request", occasion="forced-1")
    assert again[0] == "started" and again[1] != first[1] and len(emulation.codebuild.builds) == 3


def test_a_start_whose_ledger_write_failed_records_the_same_build_on_its_retry(start, stack, emulation, faults):
    """StartBuild succeeded, the transaction did not: the retry, within the token's five minutes,
    gets the same build from CodeBuild and records it."""
    faults.inject("dynamodb", "TransactWriteItems", "access-denied", times=1)
    assert start() == ("failed", "")
    assert len(emulation.codebuild.builds) == 1 and _builds(stack) == []  # the build runs, unrecorded
    state, build = start()
    assert state == "started" and len(emulation.codebuild.builds) == 1
    assert _builds(stack) == [build]


# ---------------------------------------------------------------------------- the local account's CodeBuild
def _start_build(stack, tags: str = "abc latest") -> dict:
    return boto3.client("codebuild").start_build(
        projectName=stack.refs["BuildProject"], sourceVersion=AFTER, idempotencyToken="token-1",
        environmentVariablesOverride=[{"name": "IMAGE_TAGS", "value": tags, "type": "PLAINTEXT"}])["build"]


def test_the_local_codebuild_answers_a_repeated_token_with_the_same_build_for_five_minutes(stack, emulation):
    from shipline.local.codebuild import TOKEN_LIFETIME

    now = [1000.0]
    emulation.codebuild.clock = lambda: now[0]
    first = _start_build(stack)
    now[0] += TOKEN_LIFETIME - 1
    assert _start_build(stack)["arn"] == first["arn"] and len(emulation.codebuild.builds) == 1
    now[0] += 1  # five minutes on: the token names nothing any more
    assert _start_build(stack)["arn"] != first["arn"] and len(emulation.codebuild.builds) == 2


def test_the_local_codebuild_refuses_a_repeated_token_with_other_parameters(stack, emulation):
    _start_build(stack)
    with pytest.raises(ClientError) as refused:
        _start_build(stack, tags="abc-b2 latest")
    assert refused.value.response["Error"]["Code"] == "InvalidInputException"
    assert "different parameters" in refused.value.response["Error"]["Message"]
    assert len(emulation.codebuild.builds) == 1


def test_a_duplicate_that_reads_the_inputs_the_first_start_could_not_starts_nothing(start, calls, stack, emulation,
                                                                                   monkeypatch):
    """The first start built without the commit's inputs (its source unreadable then); a duplicate
    of it, able to read them while that build runs, has another plan key, and still starts nothing."""
    from pipeline.flows import builds

    monkeypatch.setattr(builds, "known_inputs", lambda *args, **kwargs: "")  # unreadable
    state, build = start()
    monkeypatch.setattr(builds, "known_inputs", lambda *args, **kwargs: "ab" * 32)  # readable now
    emulation.codebuild.clock = lambda: time.monotonic() + 600  # the first build runs on, its token expired
    again, same = start()
    assert (state, again, same) == ("started", "already started", build)
    assert len(emulation.codebuild.builds) == 1 and _builds(stack) == [build]


@pytest.mark.parametrize("event", [{}, {"Records": None}, {"detail-type": "Build Requested"}, [1, 2]])
def test_an_event_that_is_not_a_queue_batch_is_rejected_with_one_line(event, stack, calls, monkeypatch,
                                                                      lambda_context):
    """Invoked directly with something else: one line and an outcome, not a traceback (its queue
    only ever sends a batch)."""
    stack.use_function("BuildStarterFunction", monkeypatch)
    calls.made.clear()
    answer = build_starter.handler(event, lambda_context)
    assert answer == {"outcome": "rejected", "reason": "not a batch of SQS messages (Records)",
                      "batchItemFailures": [], "builds": {}, "states": {}}
    assert calls.made == []


@pytest.mark.parametrize(("body", "problem"), [
    ("{not json", "Invalid JSON"), (json.dumps({"service": "billing", "sourceVersion": AFTER, "trigger": "codecommit"}),
                                    "'billing' is not in the manifest"),
    *[(json.dumps({"service": "langgraph", "sourceVersion": version, "trigger": "request"}),
       f"sourceVersion '{version}' is neither a full commit id nor the tracked branch main")
      for version in ("feature-x", "refs/tags/v1", "main.lock", AFTER.upper(), "z" * 40, "pr/1")],
])
def test_an_unusable_build_start_starts_nothing_and_goes_to_the_dead_letter_queue(body, problem, stack, calls,
                                                                                 monkeypatch, lambda_context, caplog):
    """Reported as a failure (so SQS moves it to the dead-letter queue after its receives, never lost)
    with one line naming the problem; the batch's other starts go on."""
    stack.use_function("BuildStarterFunction", monkeypatch)
    calls.made.clear()
    answer = build_starter.handler({"Records": [{"messageId": "m1", "body": body, "eventSource": "aws:sqs"}]},
                                   lambda_context)
    assert answer["batchItemFailures"] == [{"itemIdentifier": "m1"}] and answer["states"] == {}
    assert [op for op in calls.operations() if op.split(":")[0] in ("codebuild", "dynamodb", "sqs")] == []
    (line,) = [r.getMessage() for r in caplog.records if "unusable" in r.getMessage()]
    assert line.startswith("build start m1 unusable: ") and problem in line


@pytest.mark.parametrize("version", ["--upload-pack=touch /tmp/x", "main\nother", "a b", "main^{tree}"])
def test_a_build_start_whose_source_version_no_git_ref_could_be_starts_no_build(version, start, calls):
    """A commit or a branch name: anything else (a damaged or forged message) would start a build
    that fails fetching its source. It fails here instead, and goes to the dead-letter queue."""
    assert start(sourceVersion=version) == ("failed", "")
    assert calls.of("codebuild", "StartBuild") == []


def test_a_build_that_ended_before_its_start_was_noted_is_not_taken_for_running(start, stack, emulation, faults,
                                                                                monkeypatch, lambda_context):
    """StartBuild went through, the starter's ledger write failed (the message comes back later);
    the build failed fast and its end was recorded, on its own item, before the start's retry
    noted the start. The retry keeps the build FAILED, and a new request for the commit builds it
    again (one new build per failure) instead of answering "already started" for good."""
    from pipeline.handlers import build_events

    faults.inject("dynamodb", "TransactWriteItems", "access-denied", times=1)
    assert start() == ("failed", "")
    (arn,) = [b.arn for b in emulation.codebuild.builds.values()]
    ended = load_event("codebuild-build-failed")
    ended["id"] = "end-" + arn[-6:]
    ended["detail"]["build-id"] = arn
    ended["detail"]["additional-information"]["source-version"] = AFTER
    stack.use_function("BuildEventsFunction", monkeypatch)
    assert build_events.handler(ended, lambda_context)["outcome"] == "notified"
    stack.use_function("BuildStarterFunction", monkeypatch)
    assert start()[1] == arn  # the message's retry: the same build (StartBuild's token), noted now
    item = boto3.client("dynamodb").get_item(TableName=stack.refs["LedgerTable"], ConsistentRead=True, Key={
        "pk": {"S": REPO_PK}, "sk": {"S": f"build#{arn}"}})["Item"]
    assert item["status"]["S"] == "FAILED"
    state, build = start(event="a later push of the same commit")
    assert state == "started" and build != arn
