import json
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest

from pipeline.domain.builds import BuildPlan
from pipeline.domain.manifest import load_manifest
from pipeline.domain.naming import Target
from pipeline.domain.webhook import GITHUB_MAX_COMMITS, Delivery, decide, plan_push, queued, sign, signature_is_valid
from tests.support.events import LOCAL_WEBHOOK_SECRET, load_event
from tests.support.paths import MANIFEST

SECRET = LOCAL_WEBHOOK_SECRET
TARGET = Target("multi-agent-orchestrator", "dev", "123456789012", "us-east-1")


@pytest.fixture(scope="module")
def manifest():
    return load_manifest(MANIFEST)


def _push(**changes) -> dict:
    body = json.loads(load_event("github-push")["body"])
    body.update(changes)
    return body


@dataclass
class Outcome:
    """What the webhook decided, what it accepted, and the builds it plans for that."""

    status: int
    message: str
    delivery: Delivery | None
    plans: tuple[BuildPlan, ...] | None

    @property
    def services(self) -> tuple[str, ...] | None:
        return None if self.plans is None else tuple(plan.service for plan in self.plans)


def _decide(manifest, body, *, event="push", secret=SECRET, headers=None, raw=None, repository_url=""):
    payload = raw if raw is not None else json.dumps(body).encode()
    base = {"X-GitHub-Event": event, "X-Hub-Signature-256": sign(secret, payload),
            "Content-Type": "application/json", "X-GitHub-Delivery": "delivery-1"}
    decision = decide(branch="main", secret=SECRET, body=payload, headers={**base, **(headers or {})},
                      repository_url=repository_url)
    plans = plan_push(manifest, TARGET, decision.delivery) if decision.delivery else None
    return Outcome(decision.status, decision.message, decision.delivery, plans)


def test_signature_of_the_body_is_valid():
    assert signature_is_valid(SECRET, b"{}", sign(SECRET, b"{}"))


def test_signature_over_another_body_is_invalid():
    assert not signature_is_valid(SECRET, b"{} ", sign(SECRET, b"{}"))


def test_missing_or_sha1_signature_is_invalid():
    assert not signature_is_valid(SECRET, b"{}", None)
    assert not signature_is_valid(SECRET, b"{}", "sha1=" + "0" * 40)


def test_bad_signature_answers_401_and_plans_nothing(manifest):
    decision = _decide(manifest, _push(), secret=b"wrong")
    assert (decision.status, decision.plans) == (401, None)


def test_push_touching_langgraph_is_accepted_for_langgraph(manifest):
    decision = _decide(manifest, _push())
    assert decision.status == 202
    (plan,) = decision.plans
    assert (plan.service, plan.source_version, plan.trigger) == ("langgraph", _push()["after"], "github")
    assert plan.tags == (_push()["after"][:7], "latest") and plan.occasion == ""  # a commit: built once


def test_the_webhook_plans_a_push_as_the_planner_plans_a_github_build_requested(manifest):
    """The same core: plan_builds for the pushed commit and the services its paths changed."""
    from pipeline.domain.builds import plan_builds

    decision = _decide(manifest, _push())
    assert decision.plans == plan_builds(manifest, TARGET, source_version=_push()["after"], trigger="github",
                                         services=["langgraph"])


def test_the_answer_to_a_queued_push_names_its_services_and_one_that_changed_none_says_so(manifest):
    delivery = _decide(manifest, _push()).delivery
    answer = queued(delivery, ("langgraph",)).response()
    assert answer["statusCode"] == 202
    assert json.loads(answer["body"]) == {"message": f"accepted: push of {delivery.commit[:7]}, builds queued: "
                                                     "langgraph", "services": ["langgraph"]}
    nothing = queued(delivery, ()).response()
    assert nothing["statusCode"] == 202
    assert json.loads(nothing["body"]) == {"message": f"no service changed: push of {delivery.commit[:7]} builds "
                                                      "nothing", "services": []}


def test_ping_is_ignored_with_200(manifest):
    decision = _decide(manifest, {"zen": "hi"}, event="ping")
    assert (decision.status, decision.message) == (200, "ignored: ping")


def test_untracked_branch_is_ignored(manifest):
    decision = _decide(manifest, _push(ref="refs/heads/feature"))
    assert decision.status == 200 and "not the tracked branch" in decision.message
    assert decision.plans is None


def test_malformed_json_answers_400(manifest):
    decision = _decide(manifest, None, raw=b'{"ref": ')
    assert decision.status == 400 and decision.message.startswith("malformed push payload")


def test_payload_missing_ref_answers_400_naming_the_field(manifest):
    body = _push()
    del body["ref"]
    decision = _decide(manifest, body)
    assert decision.status == 400 and "ref: Field required" in decision.message


def test_empty_push_is_accepted_and_plans_nothing(manifest):
    decision = _decide(manifest, _push(commits=[]))
    assert decision.status == 202 and decision.delivery.paths == ()
    assert decision.plans == ()


def test_a_push_from_another_repository_is_ignored(manifest):
    decision = _decide(manifest, _push(), repository_url="https://github.com/example-org/other.git")
    assert decision.status == 200 and decision.message.startswith("ignored: repository example-org/")


def test_the_configured_repository_matches_any_of_its_urls(manifest):
    for url in ("https://github.com/example-org/multi-agent-orchestrator.git",
                "https://github.com/Example-Org/multi-agent-orchestrator/", "git@github.com:x/y.git"):
        decision = _decide(manifest, _push(repository={**_push()["repository"], "ssh_url": "git@github.com:x/y.git"}),
                           repository_url=url)
        assert decision.status == 202


@pytest.mark.parametrize("after", ["not-a-sha", "z" * 40, "3b6258b"])
def test_a_signed_push_with_an_after_that_is_not_a_sha_is_a_400(manifest, after):
    decision = _decide(manifest, _push(after=after))
    assert decision.status == 400 and "after is not a full commit SHA" in decision.message


def test_a_signed_body_nested_too_deeply_is_a_400_not_a_crash(manifest):
    raw = ("[" * 100_000 + "]" * 100_000).encode()
    decision = _decide(manifest, None, raw=raw)
    assert decision.status == 400 and decision.message.startswith("malformed push payload")


def test_the_delivery_id_is_the_github_delivery_header(manifest):
    assert _decide(manifest, _push()).delivery.delivery == "delivery-1"


def test_a_push_listing_many_paths_is_planned_from_all_of_them(manifest):
    """Nothing is stored in between any more: no cap on what the push may list but GitHub's own."""
    many = [f"docs/{n:06d}/{'x' * 40}.md" for n in range(2000)]
    commits = [{**_push()["commits"][0], "modified": many},
               {**_push()["commits"][0], "modified": many + ["docker/langfuse/Dockerfile"]}]
    decision = _decide(manifest, _push(commits=commits))
    assert decision.status == 202 and len(decision.delivery.paths) == 4001
    assert decision.services == ("langfuse",)


def test_deleted_branch_is_ignored(manifest):
    decision = _decide(manifest, _push(deleted=True, after="0" * 40))
    assert (decision.status, decision.message) == (200, "ignored: branch deleted")


def test_truncated_commit_list_rebuilds_everything(manifest):
    commit = _push()["commits"][0]
    decision = _decide(manifest, _push(commits=[commit] * GITHUB_MAX_COMMITS))
    assert decision.status == 202 and decision.services == manifest.names


def test_commit_without_file_lists_rebuilds_everything(manifest):
    commit = {"id": "3b6258b2d01afe2f989c7f7a5af86223f7aaa9f2", "message": "x"}
    decision = _decide(manifest, _push(commits=[commit]))
    assert decision.status == 202 and decision.services == manifest.names


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "Application/X-WWW-Form-Urlencoded",
                                          "application/x-www-form-urlencoded; charset=utf-8"])
def test_form_encoded_delivery_is_read_from_its_payload_field(manifest, content_type):
    """Media types are case-insensitive (RFC 9110, 8.3.1)."""
    raw = urlencode({"payload": json.dumps(_push())}).encode()
    decision = _decide(manifest, None, raw=raw, headers={"Content-Type": content_type})
    assert decision.status == 202 and decision.services == ("langgraph",)


def test_other_github_events_are_ignored(manifest):
    decision = _decide(manifest, {"action": "opened"}, event="pull_request")
    assert decision.status == 200 and "not a push" in decision.message


def test_a_commit_listing_3000_files_counts_as_truncated_and_rebuilds_everything(manifest):
    from pipeline.domain.webhook import GITHUB_MAX_FILES

    commit = {**_push()["commits"][0], "modified": [f"docs/{n}.md" for n in range(GITHUB_MAX_FILES)]}
    decision = _decide(manifest, _push(commits=[commit]))
    assert decision.delivery.paths is None and decision.services == manifest.names
    commit["modified"] = commit["modified"][:-1]  # 2,999: GitHub listed them all
    decision = _decide(manifest, _push(commits=[commit]))
    assert decision.plans == ()  # only docs/: no service changed


def test_a_signed_body_with_a_number_too_long_to_read_is_a_400_that_says_so(manifest):
    """Not Python's advice to call sys.set_int_max_str_digits(), echoed to GitHub."""
    decision = _decide(manifest, None, raw=b'{"ref": "refs/heads/main", "size": ' + b"9" * 5000 + b"}")
    assert (decision.status, decision.message) == (400, "malformed push payload: a number in the body has more "
                                                        "digits than can be read")
