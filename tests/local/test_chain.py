"""The whole chain on the local account, one trigger at a time: push, builds, images,
revisions, notifications."""

import copy
import json

import pytest

from shipline.local.account import prepare_for
from shipline.local.template import raw
from tests.local.conftest import push_event
from tests.support.events import load_event
from tests.support.stacks import GITHUB

AFTER = load_event("codecommit-push")["detail"]["commitId"]
SERVICES = ["aws-agent-core", "langgraph", "snowflake-cortex", "langfuse"]


def families(report) -> list[str]:
    return sorted(t["family"].removeprefix("multi-agent-orchestrator-dev-") for t in report["taskDefinitions"])


def test_codecommit_push_of_a_new_branch_registers_every_service(local_account):
    account = local_account()
    account.put_event(push_event(account, AFTER))
    account.run()
    report = account.report()
    assert report["errors"] == []
    assert sorted(r["name"] for r in report["repositories"]) == sorted(
        f"multi-agent-orchestrator-dev-{s}" for s in SERVICES)
    assert all(r["scanOnPush"] and r["encryption"] == "AES256" for r in report["repositories"])
    assert sorted(b["service"] for b in report["builds"]) == sorted(SERVICES)
    assert {b["status"] for b in report["builds"]} == {"SUCCEEDED"}
    tags = sorted(tuple(sorted(i["tags"])) for i in report["images"])
    # each registered image carries live-dev; and the cache
    assert tags == sorted([tuple(sorted([AFTER[:7], "latest", "live-dev"]))] * 4 + [("buildcache",)] * 4)
    assert families(report) == sorted(SERVICES)
    assert {d["status"] for d in report["taskDefinitions"]} == {"ACTIVE"}
    image = report["taskDefinitions"][0]["containers"][0]["image"]
    assert "@sha256:" in image
    assert len(report["notifications"]) == 4


def test_github_webhook_push_builds_and_registers_langgraph_only(local_account):
    account = local_account(parameters=GITHUB)
    response = account.invoke_webhook(load_event("github-push"))
    account.run()
    report = account.report()
    assert response["statusCode"] == 202
    assert [b["service"] for b in report["builds"]] == ["langgraph"]
    assert families(report) == ["langgraph"]


def test_a_github_push_redelivered_is_still_one_build(local_account):
    """GitHub's "Redeliver" (or the same delivery answered twice): the webhook queues the push's
    build start again, and the build starter starts nothing new for a commit and service it
    started already, whether the first build is still running or done."""
    account = local_account(parameters=GITHUB)
    push = load_event("github-push")
    first = account.invoke_webhook(push)
    again = account.invoke_webhook(push)  # before the first build ran
    account.run()
    late = account.invoke_webhook(push)  # after it succeeded
    account.run()
    report = account.report()
    assert [r["statusCode"] for r in (first, again, late)] == [202, 202, 202]
    assert json.loads(late["body"])["services"] == ["langgraph"]
    assert [(b["service"], b["status"]) for b in report["builds"]] == [("langgraph", "SUCCEEDED")]
    assert families(report) == ["langgraph"]  # one revision
    assert report["errors"] == [] and report["metrics"]["WebhookPushesAccepted"] == 3


def test_schedule_rebuilds_every_service(local_account):
    account = local_account()
    account.put_event(load_event("schedule-nightly"))
    account.run()
    assert sorted(b["service"] for b in account.report()["builds"]) == sorted(SERVICES)


def test_build_requested_builds_the_named_service(local_account):
    account = local_account()
    account.put_event(load_event("build-requested"))
    account.run()
    report = account.report()
    assert [b["service"] for b in report["builds"]] == ["langgraph"] and families(report) == ["langgraph"]


def test_staging_gate_holds_a_critical_image_and_says_why(local_account):
    account = local_account(environment="staging", findings={"langgraph": {"CRITICAL": 1}})
    account.put_event(push_event(account, AFTER))
    account.run()
    report = account.report()
    assert "langgraph" not in families(report)
    assert len(families(report)) == 3
    (held,) = [n for n in report["notifications"] if "langgraph" in n["subject"]]
    assert "CRITICAL" in held["subject"] and "held back" in held["message"]


def test_enhanced_scanning_sends_one_message_per_image_whatever_its_findings(local_account):
    """Amazon Inspector sends a finding event per finding, then the scan: people get one
    message per scanned image, the findings summed up in it."""
    account = local_account(scanning="enhanced", findings={"langgraph": {"CRITICAL": 2, "HIGH": 3}})
    account.put_event(push_event(account, AFTER))
    account.run()
    report = account.report()
    assert report["errors"] == [] and families(report) == sorted(SERVICES)
    assert sorted(n["subject"].split(":", 1)[0] for n in report["notifications"]) == sorted(
        f"[shipline] {s}" for s in SERVICES)
    (langgraph,) = [n for n in report["notifications"] if "langgraph" in n["subject"]]
    assert "scanned: CRITICAL" in langgraph["subject"] and "CRITICAL 2, HIGH 3" in langgraph["message"]


def test_each_schedule_reaches_only_its_own_rule(local_account):
    account = local_account()
    account.put_event(load_event("schedule-findings-digest"))
    account.run()
    report = account.report()
    assert report["builds"] == [] and report["notifications"] == [] and report["errors"] == []
    assert report["invocations"]["count"] == 1  # the image events function; the nightly rebuild's rule is not it


def test_a_push_that_changes_nothing_builds_nothing(local_account):
    account = local_account()
    account.put_event(push_event(account, AFTER, old=AFTER))
    account.run()
    assert account.report()["builds"] == []


def test_replaying_the_push_changes_nothing_more(local_account):
    account = local_account()
    event = push_event(account, AFTER)
    account.put_event(event)
    account.run()
    first = account.report()
    account.put_event(event)
    account.run()
    again = account.report()
    assert len(again["builds"]) == len(first["builds"]) == 4
    assert again["taskDefinitions"] == first["taskDefinitions"]


def test_a_broken_event_pattern_in_the_template_breaks_the_chain(local_account):
    template = copy.deepcopy(raw())
    pattern = template["Resources"]["ImageEventsFunction"]["Properties"]["Events"]["ImagePushed"]["Properties"]
    pattern["Pattern"]["detail"]["action-type"] = ["PUSHED"]  # a typo AWS would accept, too
    account = local_account(template=template)
    account.put_event(push_event(account, AFTER))
    account.run()
    report = account.report()
    assert len([i for i in report["images"] if "latest" in i["tags"]]) == 4
    # No push event reached the function: each image was registered by its scan instead (gate
    # none's stand-in for a lost push event), as every scan message says.
    assert not [i for i in account.invocations if i.label == "ECR Image Action"]
    assert len(report["taskDefinitions"]) == 4
    assert all("its push event had not registered it" in n["message"] for n in report["notifications"])


def test_injected_push_makes_the_image_exist_first(local_account):
    account = local_account()
    event = load_event("ecr-image-push")
    prepare_for(account, event)
    account.put_event(event)
    account.run()
    report = account.report()
    assert [i["digest"] for i in report["images"]] == [event["detail"]["image-digest"]]
    assert families(report) == ["langgraph"]


def test_function_failure_after_retries_lands_in_the_dead_letter_queue(local_account, monkeypatch):
    from pipeline.handlers import build_trigger

    def broken(*_args, **_kwargs):
        raise RuntimeError("injected failure")

    account = local_account()
    monkeypatch.setattr(build_trigger, "queue_builds", broken)  # the planner fails, every time
    account.put_event(load_event("build-requested"))
    account.run()
    (error,) = account.report()["errors"]
    assert "RuntimeError: injected failure" in error
    sqs = account.client("sqs")
    url = account.stack.refs["DeadLetterQueue"]
    messages = sqs.receive_message(QueueUrl=url).get("Messages", [])
    assert len(messages) == 1
    record = json.loads(messages[0]["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"]["detail-type"] == "Build Requested"
    assert record["responsePayload"] == {"errorType": "RuntimeError", "errorMessage": "injected failure"}


def test_a_codecommit_stack_has_no_webhook_and_says_so(local_account):
    from shipline.local.model import TemplateError

    account = local_account()
    with pytest.raises(TemplateError, match="no webhook.*SourceProvider=CodeCommit.*only with SourceProvider=GitHub"):
        account.invoke_webhook(load_event("github-push"))
    assert "GitHubWebhookFunction" not in account.stack.functions


def test_a_github_stack_builds_nothing_for_a_codecommit_push(local_account):
    """CodeBuild fetches from GitHub: a CodeCommit push starts nothing, and no rule is there for it."""
    account = local_account(parameters=GITHUB)
    account.put_event(push_event(account, AFTER))
    assert account.run() == 0
    report = account.report()
    assert report["builds"] == [] and report["errors"] == []
    assert not account.listens_for("aws.codecommit", "CodeCommit Repository State Change")


def test_a_webhook_of_a_stack_whose_project_name_is_not_the_manifests_answers_5xx(local_account):
    """Never a 202 that builds nothing: the invocation fails (GitHub shows the delivery failed and
    the error alarm counts it), with one line naming both names."""
    account = local_account(parameters={**GITHUB, "ProjectName": "billing"})
    response = account.invoke_webhook(load_event("github-push"))
    account.run()
    report = account.report()
    assert response["statusCode"] == 502
    assert report["builds"] == []
    (failed,) = [i for i in account.invocations if i.error is not None]
    assert "[project].name is 'multi-agent-orchestrator'" in str(failed.error) and "'billing'" in str(failed.error)
