"""AWS's limits on single calls, enforced by the local account: each is crossed here, with AWS's
answer. The calls leave nothing behind, so one account serves the module."""

import json

import pytest
from botocore.exceptions import ClientError

from shipline.local.account import LocalAccount
from shipline.local.limits import FUNCTION_URL_REQUEST_LIMIT, PUT_EVENTS_LIMIT
from tests.support.events import load_event
from tests.support.stacks import GITHUB


@pytest.fixture(scope="module")
def local_account():
    """One account for the module (the name shadows the per-test factory, which it replaces); a
    GitHub stack, so it has the webhook's Function URL."""
    with LocalAccount(parameters=GITHUB) as account:
        yield lambda: account


def test_a_put_events_request_over_the_size_limit_is_refused(local_account):
    account = local_account()
    detail = json.dumps({"padding": "x" * PUT_EVENTS_LIMIT})
    with pytest.raises(ClientError) as refused:
        account.client("events").put_events(Entries=[{"Source": "shipline", "DetailType": "Build Requested",
                                                      "Detail": detail}])
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    small = account.client("events").put_events(Entries=[{"Source": "shipline", "DetailType": "x", "Detail": "{}"}])
    assert small["FailedEntryCount"] == 0


def test_put_events_refuses_an_aws_source(local_account):
    account = local_account()
    answer = account.client("events").put_events(Entries=[{"Source": "aws.ecr", "DetailType": "ECR Image Action",
                                                           "Detail": "{}"}])
    assert answer["FailedEntryCount"] == 1
    assert answer["Entries"][0]["ErrorCode"] == "NotAuthorizedForSourceException"


@pytest.mark.parametrize("detail", ["[1]", '"text"', "{not json"])
def test_put_events_fails_an_entry_whose_detail_is_not_a_json_object(local_account, detail):
    account = local_account()
    answer = account.client("events").put_events(Entries=[
        {"Source": "shipline", "DetailType": "x", "Detail": detail},
        {"Source": "shipline", "DetailType": "x", "Detail": "{}"}])
    assert answer["FailedEntryCount"] == 1
    assert (answer["Entries"][0]["ErrorCode"], answer["Entries"][0]["ErrorMessage"]) == ("MalformedDetail",
                                                                                          "Detail is malformed.")
    assert "EventId" in answer["Entries"][1]


def test_a_function_url_request_over_6_mb_is_refused_before_the_function_runs(local_account):
    account = local_account()
    request = load_event("github-push")
    request["body"] = "x" * (FUNCTION_URL_REQUEST_LIMIT + 1)
    before = account.report()["invocations"]["count"]
    assert account.invoke_webhook(request)["statusCode"] == 413
    assert account.report()["invocations"]["count"] == before


@pytest.mark.parametrize("subject", ["x" * 101, "two\nlines", "bell\x07"])
def test_sns_refuses_a_subject_aws_refuses(local_account, subject):
    account = local_account()
    topic = account.stack.refs["NotificationTopic"]
    with pytest.raises(ClientError) as refused:
        account.client("sns").publish(TopicArn=topic, Message="m", Subject=subject)
    assert refused.value.response["Error"]["Code"] == "InvalidParameter"
    # AWS takes exactly 100, though the API Reference says "less than 100" (getmoto/moto#1503).
    account.client("sns").publish(TopicArn=topic, Message="m", Subject="x" * 100)


@pytest.mark.parametrize(("message", "problem"), [
    ("not json", "JSON message body failed to parse"),
    ('["default"]', "JSON message body failed to parse"),
    ('{"email": "m"}', "No default entry in JSON message body"),
    ('{"default": {"text": "m"}}', "No default entry in JSON message body"),
])
def test_sns_refuses_a_json_structured_message_without_a_default_string(local_account, message, problem):
    account = local_account()
    topic = account.stack.refs["NotificationTopic"]
    with pytest.raises(ClientError) as refused:
        account.client("sns").publish(TopicArn=topic, Message=message, MessageStructure="json")
    error = refused.value.response["Error"]
    assert error["Code"] == "InvalidParameter"
    assert error["Message"] == f"Invalid parameter: Message Structure - {problem}"
    account.client("sns").publish(TopicArn=topic, Message='{"default": "m", "email": "m"}', MessageStructure="json")


@pytest.mark.parametrize(("family", "container", "message"), [
    ("multi.agent", "app", "Family contains invalid characters."),
    ("f" * 256, "app", "Family contains invalid characters."),
    ("family", "app.v2", "Container.name contains invalid characters."),
])
def test_ecs_refuses_names_outside_its_alphabet(local_account, family, container, message):
    account = local_account()
    with pytest.raises(ClientError) as refused:
        account.client("ecs").register_task_definition(
            family=family, cpu="256", memory="512", requiresCompatibilities=["FARGATE"], networkMode="awsvpc",
            containerDefinitions=[{"name": container, "image": "x"}])
    assert refused.value.response["Error"] == {"Code": "ClientException", "Message": message}


@pytest.mark.parametrize("name", ["Upper", "double--hyphen", "-leading", "trailing."])
def test_ecr_refuses_repository_names_outside_its_pattern(local_account, name):
    account = local_account()
    with pytest.raises(ClientError) as refused:
        account.client("ecr").create_repository(repositoryName=name)
    error = refused.value.response["Error"]
    assert error["Code"] == "InvalidParameterException" and "'repositoryName' failed to satisfy" in error["Message"]


def test_a_one_letter_repository_name_is_refused_before_it_is_sent(local_account):
    from botocore.exceptions import ParamValidationError

    account = local_account()
    with pytest.raises(ParamValidationError, match="valid min length: 2"):
        account.client("ecr").create_repository(repositoryName="a")
