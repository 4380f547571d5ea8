"""AWS's limits, enforced by the local account: each is crossed here, with AWS's outcome."""

import copy

import pytest
from botocore.exceptions import ClientError

from shipline.local.template import raw
from tests.local.conftest import push_event
from tests.support.events import load_event

AFTER = load_event("codecommit-push")["detail"]["commitId"]


def _start(account, service: str = "langgraph") -> dict:
    return account.client("codebuild").start_build(
        projectName=account.stack.refs["BuildProject"], sourceVersion=AFTER,
        environmentVariablesOverride=[{"name": "SERVICE", "value": service, "type": "PLAINTEXT"}])


def test_a_project_concurrent_build_limit_refuses_the_build_over_it(local_account):
    template = copy.deepcopy(raw())
    template["Resources"]["BuildProject"]["Properties"]["ConcurrentBuildLimit"] = 1
    account = local_account(template=template)
    _start(account)
    with pytest.raises(ClientError) as refused:
        _start(account, "aws-agent-core")
    assert refused.value.response["Error"]["Code"] == "AccountLimitExceededException"


def test_the_account_quota_queues_five_times_over_then_refuses(local_account):
    account = local_account(codebuild_quota=1)
    for _ in range(6):  # one running, five queued
        _start(account)
    with pytest.raises(ClientError) as refused:
        _start(account)
    error = refused.value.response["Error"]
    assert error["Code"] == "AccountLimitExceededException"
    assert error["Message"] == "Cannot have more than 5 builds in queue for the account"


def test_a_burst_over_the_quota_queues_and_loses_no_build(local_account):
    """The template sets no project limit, so builds over the account's quota wait in CodeBuild's
    queue: a push of every service on a one-build account builds them all."""
    account = local_account(codebuild_quota=1)
    account.put_event(push_event(account, AFTER))
    account.run()
    report = account.report()
    assert report["errors"] == []
    assert sorted(b["status"] for b in report["builds"]) == ["SUCCEEDED"] * 4
    assert len(report["taskDefinitions"]) == 4


def test_the_template_sets_no_project_build_limit():
    assert "ConcurrentBuildLimit" not in raw()["Resources"]["BuildProject"]["Properties"]


def test_a_reservation_that_leaves_too_little_unreserved_concurrency_is_refused(local_account):
    """Lambda keeps 100 of an account's concurrency unreserved (all of it in a smaller account,
    such as a new one's): the GitHub webhook's reservation cannot be made there, and the stack's
    creation fails saying so; WebhookReservedConcurrency=0 reserves nothing, and it is made."""
    from shipline.local.model import TemplateError
    from tests.support.stacks import GITHUB

    with pytest.raises(TemplateError, match=r"GitHubWebhookFunction: Specified ReservedConcurrentExecutions for "
                                            r"function decreases account's UnreservedConcurrentExecution below its "
                                            r"minimum value of \[10\]"):
        local_account(parameters=GITHUB, lambda_concurrency=10)
    account = local_account(parameters={**GITHUB, "WebhookReservedConcurrency": "0"}, lambda_concurrency=10)
    assert account.stack.functions["GitHubWebhookFunction"].reserved_concurrency is None
    account = local_account(parameters=GITHUB, lambda_concurrency=105)  # 100 left unreserved
    assert account.stack.functions["GitHubWebhookFunction"].reserved_concurrency == 5
