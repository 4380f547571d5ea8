"""Promotion on the local account, over its endpoint as an operator runs it: a dev build (the
buildspec, the docker stand-in pushing its blobs through ECR's layer API) is registered, then
`shipline promote --endpoint-url` copies it into staging's repository, its blobs downloaded
from the URLs GetDownloadUrlForLayer answers. Nothing is built."""

import json

from shipline.cli import main
from tests.local.conftest import push_event
from tests.support.events import load_event

STAGING_REPO = "multi-agent-orchestrator-staging-langgraph"


def _staging_side(account) -> None:
    """What the CLI needs of staging: its repository (as its build starter makes it), its ledger
    and its stack's outputs."""
    account.client("ecr").create_repository(repositoryName=STAGING_REPO,
                                            imageScanningConfiguration={"scanOnPush": True})
    account.client("dynamodb").create_table(
        TableName="shipline-staging-ledger", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}])
    outputs = {"LedgerTableName": "shipline-staging-ledger", "PromotionApproval": "none",
               "PromotionSelfApproval": "false", "Environment": "staging"}
    account.client("cloudformation").create_stack(StackName="shipline-staging", TemplateBody=json.dumps({
        "Resources": {"Stack": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()}}))


def test_promote_copies_the_registered_build_into_staging_without_a_build(local_account, capsys):
    account = local_account()
    commit = load_event("codecommit-push")["detail"]["commitId"]
    account.put_event(push_event(account, commit))
    account.run()
    before = account.report()
    assert main(["status", "--endpoint-url", account.endpoint, "--json"]) == 0
    dev = {s["service"]: s for s in json.loads(capsys.readouterr().out)}["langgraph"]
    _staging_side(account)

    assert main(["promote", "--service", "langgraph", "--from", "dev", "--to", "staging",
                 "--endpoint-url", account.endpoint]) == 0
    assert "promoted" in capsys.readouterr().out
    account.run()

    (image,) = account.client("ecr").describe_images(repositoryName=STAGING_REPO)["imageDetails"]
    assert image["imageDigest"] == dev["digest"] and image["imageTags"] == [commit[:7]]
    after = account.report()
    assert len(after["builds"]) == len(before["builds"]) and after["errors"] == []
