"""DynamoDB's request rules that moto does not check, as the local account answers them
(shipline/local/dynamodb_rules.py). Each request here is one moto takes and DynamoDB refuses."""

from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.dynamodb import responses as dynamodb_responses
from moto.dynamodb.responses import DynamoHandler

from shipline.local import dynamodb_rules
from shipline.local.patches import Patches
from tests.support.emulated import patched

TABLE = "ledger"


@pytest.fixture
def dynamodb() -> Iterator:
    with patched(dynamodb_rules.install):
        client = boto3.client("dynamodb")
        client.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                       {"AttributeName": "sk", "KeyType": "RANGE"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                  {"AttributeName": "sk", "AttributeType": "S"}])
        yield client


def key(sk: str) -> dict:
    return {"pk": {"S": "svc#dev"}, "sk": {"S": sk}}


def refused(call) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    return str(caught.value.response["Error"]["Message"])


def test_an_empty_expression_attribute_names_map_is_refused(dynamodb):
    message = refused(lambda: dynamodb.update_item(TableName=TABLE, Key=key("a"), UpdateExpression="SET a = :v",
                                                   ExpressionAttributeValues={":v": {"S": "1"}},
                                                   ExpressionAttributeNames={}))
    assert message == "ExpressionAttributeNames must not be empty"


def test_an_empty_expression_attribute_names_map_in_a_transaction_is_refused(dynamodb):
    message = refused(lambda: dynamodb.transact_write_items(TransactItems=[{"Update": {
        "TableName": TABLE, "Key": key("a"), "UpdateExpression": "SET a = :v",
        "ExpressionAttributeValues": {":v": {"S": "1"}}, "ExpressionAttributeNames": {}}}]))
    assert message == "ExpressionAttributeNames must not be empty"
    assert "Item" not in dynamodb.get_item(TableName=TABLE, Key=key("a"))


def test_an_unused_value_in_a_transaction_member_is_refused(dynamodb):
    message = refused(lambda: dynamodb.transact_write_items(TransactItems=[{"Update": {
        "TableName": TABLE, "Key": key("a"), "UpdateExpression": "SET a = :v",
        "ExpressionAttributeValues": {":v": {"S": "1"}, ":unused": {"S": "2"}}}}]))
    assert "unused in expressions: keys: {:unused}" in message
    assert "Item" not in dynamodb.get_item(TableName=TABLE, Key=key("a"))


def test_a_value_used_only_by_the_condition_is_used(dynamodb):
    dynamodb.transact_write_items(TransactItems=[{"Update": {
        "TableName": TABLE, "Key": key("a"), "UpdateExpression": "SET a = :v",
        "ConditionExpression": "attribute_not_exists(a) OR a <> :old",
        "ExpressionAttributeValues": {":v": {"S": "1"}, ":old": {"S": "0"}}}}])
    assert dynamodb.get_item(TableName=TABLE, Key=key("a"))["Item"]["a"] == {"S": "1"}


@pytest.mark.parametrize("operation", ["update_item", "transact_get_items"])
def test_an_empty_string_key_is_refused(dynamodb, operation):
    if operation == "update_item":
        message = refused(lambda: dynamodb.update_item(TableName=TABLE, Key=key(""), UpdateExpression="SET a = :v",
                                                       ExpressionAttributeValues={":v": {"S": "1"}}))
    else:
        message = refused(lambda: dynamodb.transact_get_items(TransactItems=[{"Get": {"TableName": TABLE,
                                                                                      "Key": key("")}}]))
    assert message.endswith("cannot contain an empty string value. Key: sk")


def test_transact_get_items_refuses_one_item_twice(dynamodb):
    message = refused(lambda: dynamodb.transact_get_items(TransactItems=[
        {"Get": {"TableName": TABLE, "Key": key("current")}}, {"Get": {"TableName": TABLE, "Key": key("current")}}]))
    assert message == "Transaction request cannot include multiple operations on one item"


def test_transact_get_items_takes_100_items_and_no_more(dynamodb):
    answer = dynamodb.transact_get_items(TransactItems=[{"Get": {"TableName": TABLE, "Key": key(str(n))}}
                                                        for n in range(100)])
    assert len(answer["Responses"]) == 100
    message = refused(lambda: dynamodb.transact_get_items(TransactItems=[
        {"Get": {"TableName": TABLE, "Key": key(str(n))}} for n in range(101)]))
    assert "less than or equal to 100" in message


def test_the_rules_are_undone():
    before = {name: DynamoHandler.__dict__[name] for name in (*dynamodb_rules.ITEM_REQUESTS, "transact_get_items")}
    limit = dynamodb_responses.TRANSACTION_MAX_ITEMS
    patches = Patches()
    dynamodb_rules.install(patches)
    assert all(DynamoHandler.__dict__[name] is not found for name, found in before.items())
    patches.restore()
    assert all(DynamoHandler.__dict__[name] is found for name, found in before.items())
    assert dynamodb_responses.TRANSACTION_MAX_ITEMS == limit
