"""Build avoidance on a GitHub stack, on moto: the planner and the build starter read a commit's
inputs through GitHub's REST API, served by the local account's stand-in from an in-memory
history (the same one the CodeCommit tests use). A build's push is played as in the CodeCommit
tests: the image it would have pushed, under its tags and inputs-<hash>, put into ECR."""

import boto3
import pytest

from tests.integration.conftest import AFTER, BEFORE
from tests.integration.test_build_avoidance import (
    CHANGED,
    CODE,
    LANGFUSE_BASE,
    REVERTED,
    SERVICES,
    nightly,
    overrides,
    play_builds,
    started,
    tags_of,
)
from tests.support.events import load_event
from tests.support.sources import source_files
from tests.support.stacks import GITHUB

FULL_NAME = "example-org/multi-agent-orchestrator"


TOKEN = "ghp_" + "t" * 36
WITH_TOKEN = "a GitHub stack whose GitHubTokenSecretArn names a secret holding TOKEN"


@pytest.fixture
def stack_parameters(request, aws) -> dict[str, str]:
    """A GitHub stack; with a token secret (made first) when a test asks for WITH_TOKEN."""
    if getattr(request, "param", None) == WITH_TOKEN:
        arn = boto3.client("secretsmanager").create_secret(Name="github-token", SecretString=TOKEN)["ARN"]
        return {**GITHUB, "GitHubTokenSecretArn": arn}
    return dict(GITHUB)


@pytest.fixture
def history(codecommit_history, emulation):
    """The sample repository's history on GitHub (public): this repository's build sources as its
    files, a commit changing langgraph's code, and the commit reverting it."""
    files = source_files()
    codecommit_history.files[AFTER] = files
    codecommit_history.files[CHANGED] = {**files, CODE: files.get(CODE, "") + "# changed\n"}
    codecommit_history.files[REVERTED] = dict(files)
    codecommit_history.ancestors |= {CHANGED: {BEFORE, AFTER, CHANGED}, REVERTED: {BEFORE, AFTER, CHANGED, REVERTED}}
    emulation.github.add(FULL_NAME, codecommit_history)
    return codecommit_history


def request(commit: str, event_id: str) -> dict:
    """A Build Requested of langgraph at `commit` (trigger github): the planner queues the same build
    start the webhook queues for a GitHub push of it."""
    event = load_event("build-requested")
    event["id"] = event_id
    event["detail"] |= {"commit": commit, "trigger": "github", "requestedBy": "github push"}
    return event


def test_the_same_commit_hashes_the_same_on_github_and_codecommit(history, emulation):
    from pipeline.domain.manifest import default_manifest
    from pipeline.flows.inputs import Source, service_inputs

    github = Source("GitHub", GITHUB["GitHubRepositoryUrl"])
    for service in SERVICES:
        assert service_inputs(github, default_manifest(), service, AFTER) == service_inputs(
            "multi-agent-orchestrator", default_manifest(), service, AFTER), service
    # One recursive tree and one blob per Dockerfile: the folders are read from the one listing.
    trees = [p for p, _ in emulation.github.requests if "/git/trees/" in p]
    blobs = [p for p, _ in emulation.github.requests if "/git/blobs/" in p]
    assert trees == [f"/repos/{FULL_NAME}/git/trees/{AFTER}"] and len(blobs) == len(SERVICES)


def test_a_second_nightly_run_on_an_unchanged_head_starts_no_build(pipeline, history, calls, emulation):
    first = pipeline(nightly("monday"))
    assert sorted(first["started"]) == sorted(SERVICES)
    assert {overrides(b)["IMAGE_TAGS"] for b in started(calls)} == {f"{AFTER[:7]} latest"}  # the head's commit
    assert all(len(overrides(b)["INPUTS_HASH"]) == 64 for b in started(calls))
    play_builds(emulation, calls)
    for night in ("tuesday", "wednesday"):
        again = pipeline(nightly(night))
        assert again["started"] == [] and sorted(again["alreadyBuilt"]) == sorted(SERVICES), night
    assert len(started(calls)) == len(SERVICES)
    assert calls.of("ecr", "PutImage") == []


def test_a_revert_retags_instead_of_building(pipeline, history, calls, emulation):
    pipeline(request(AFTER, "push-after"))
    play_builds(emulation, calls)
    pipeline(request(CHANGED, "push-changed"))
    play_builds(emulation, calls, already=1)
    assert len(started(calls)) == 2
    result = pipeline(request(REVERTED, "push-reverted"))
    assert len(started(calls)) == 2 and result["outcome"] != "started"
    tags = tags_of("multi-agent-orchestrator-dev-langgraph")
    assert REVERTED[:7] in tags[f"sha256:{0:064x}"] and "latest" in tags[f"sha256:{0:064x}"]
    assert [p["imageTag"] for p in calls.of("ecr", "PutImage")] == ["latest", REVERTED[:7]]


def test_a_moved_base_tag_builds(pipeline, history, calls, emulation):
    pipeline(nightly("monday"))
    play_builds(emulation, calls)
    emulation.registry.move(LANGFUSE_BASE)
    assert pipeline(nightly("tuesday"))["started"] == ["langfuse"]


def test_a_rate_limited_api_builds_every_service_as_before(pipeline, history, calls, emulation):
    pipeline(nightly("monday"))
    play_builds(emulation, calls)
    emulation.github.limits["anonymous"] = len(emulation.github.requests)  # the hour's 60 are spent
    again = pipeline(nightly("tuesday"))
    assert sorted(again["started"]) == sorted(SERVICES)  # built, never skipped
    builds = started(calls)[len(SERVICES):]
    assert all("INPUTS_HASH" not in overrides(b) and overrides(b)["IMAGE_TAGS"] == "" for b in builds)
    assert all(b["sourceVersion"] == "main" for b in builds)  # the head unknown: the branch, as before


def test_a_private_repository_without_a_token_builds(pipeline, history, calls, emulation, caplog):
    emulation.github.add(FULL_NAME, history, token="ghp_" + "x" * 36)  # private: 404 without its token
    result = pipeline(request(AFTER, "push-after"))
    assert result["started"] == ["langgraph"]
    assert "INPUTS_HASH" not in overrides(started(calls)[0])


def test_an_api_out_of_reach_builds(pipeline, history, calls, emulation, monkeypatch):
    from pipeline.adapters import github_api

    monkeypatch.setattr(github_api, "API_URL", "http://127.0.0.1:9")  # nothing listens: connection refused
    result = pipeline(request(AFTER, "push-after"))
    assert result["started"] == ["langgraph"] and "INPUTS_HASH" not in overrides(started(calls)[0])


def test_a_truncated_tree_is_read_one_folder_at_a_time(history, emulation):
    from pipeline.domain.manifest import default_manifest
    from pipeline.flows.inputs import Source, reset, service_inputs

    github = Source("GitHub", GITHUB["GitHubRepositoryUrl"])
    whole = service_inputs(github, default_manifest(), "langgraph", AFTER)
    reset()
    emulation.github.max_entries = 3  # past it, GitHub cuts a recursive listing and says truncated
    emulation.github.requests.clear()
    assert service_inputs(github, default_manifest(), "langgraph", AFTER) == whole
    assert any(p.endswith(f"/git/trees/{AFTER}") for p, _ in emulation.github.requests)
    assert len([p for p, _ in emulation.github.requests if "/git/trees/" in p]) > 2  # the subtrees, one by one


@pytest.mark.parametrize("stack_parameters", [WITH_TOKEN], indirect=True)
def test_a_private_repository_is_read_with_the_token_the_stack_names(pipeline, history, calls, emulation):
    emulation.github.add(FULL_NAME, history, token=TOKEN)
    first = pipeline(nightly("monday"))
    assert sorted(first["started"]) == sorted(SERVICES)
    assert all(len(overrides(b).get("INPUTS_HASH", "")) == 64 for b in started(calls))
    play_builds(emulation, calls)
    assert pipeline(nightly("tuesday"))["started"] == []
    assert {who for _, who in emulation.github.requests} == {"token"}
    # Powertools keeps the token for five minutes: one read per function here (Lambda: per instance).
    assert 1 <= len(calls.of("secretsmanager", "GetSecretValue")) <= 2


def test_a_request_for_the_branch_builds_the_head_github_names(pipeline, history, calls):
    event = load_event("build-requested")
    del event["detail"]["commit"]
    event["detail"]["branch"] = "main"  # shipline trigger --branch main: the tracked branch's head
    pipeline(event)
    (build,) = started(calls)
    assert build["sourceVersion"] == AFTER and len(overrides(build)["INPUTS_HASH"]) == 64
    again = load_event("build-requested")
    del again["detail"]["commit"]
    again["detail"]["branch"] = "main"
    again["id"] = "the same request, later"
    assert pipeline(again)["started"] == []  # the head is built: a request without --force builds nothing


def test_the_stand_in_answers_as_githubs_rest_api_documents(history, emulation):
    api = emulation.github
    tree = f"/repos/{FULL_NAME}/git/trees/{AFTER}"
    agent = {"user-agent": "test", "x-github-api-version": "2022-11-28"}
    status, body, headers = api.answer(tree, {}, agent)
    assert status == 200 and body["truncated"] is False and body["tree"]
    assert headers["x-ratelimit-limit"] == "60" and headers["x-ratelimit-remaining"] == "59"
    assert api.answer(tree, {}, {})[0] == 403  # no User-Agent
    assert api.answer(tree, {}, {**agent, "x-github-api-version": "2020-01-01"})[0] == 400
    assert api.answer(tree, {}, {**agent, "authorization": "Bearer nobody's"})[:2] == (
        401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"})
    assert api.answer(f"/repos/someone/else/git/trees/{AFTER}", {}, agent)[:2] == (
        404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"})
    api.limits["anonymous"] = 2
    status, body, headers = api.answer(tree, {}, agent)
    assert status == 403 and body["message"].startswith("API rate limit exceeded")
    assert headers["x-ratelimit-remaining"] == "0"


def test_this_checkouts_head_hashes_the_same_read_from_github_or_codecommit(emulation, aws):
    """This repository's own history behind both stand-ins (`git ls-tree -r -t` for GitHub's one
    recursive listing, a `git ls-tree` per folder for GetFolder): the same git ids, the same hash."""
    import subprocess

    from pipeline.domain.manifest import default_manifest
    from pipeline.flows.inputs import Source, service_inputs
    from shipline.local.codecommit import GitHistory
    from tests.support.paths import ROOT

    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    boto3.client("codecommit").create_repository(repositoryName="checkout")
    emulation.codecommit.histories["checkout"] = GitHistory(ROOT)
    emulation.github.add(FULL_NAME, GitHistory(ROOT))
    github = Source("GitHub", GITHUB["GitHubRepositoryUrl"])
    for service in SERVICES:
        assert service_inputs(github, default_manifest(), service, head) == service_inputs(
            "checkout", default_manifest(), service, head), service
