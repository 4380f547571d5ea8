"""The ledger (DynamoDB): what shipline did, per service: commits, builds, images, scans,
revisions. One partition per service and environment; `shipline status` reads it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from pipeline.adapters.clients import client
from pipeline.adapters.errors import wrap

_TO = TypeSerializer()
_FROM = TypeDeserializer()


def record(table: str, pk: str, sk: str, attributes: dict[str, Any], *, dynamodb: Any | None = None) -> dict:
    """Set `attributes` on the item (creating it), leaving its other attributes alone; returns
    the whole item as it now is."""
    names = {f"#a{i}": key for i, key in enumerate(attributes)}
    values = {f":v{i}": _TO.serialize(_plain(value)) for i, value in enumerate(attributes.values())}
    try:
        response = (dynamodb or client("dynamodb")).update_item(
            TableName=table,
            Key={"pk": {"S": pk}, "sk": {"S": sk}},
            UpdateExpression="SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(attributes))),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
    except ClientError as exc:
        raise wrap(exc, f"record {sk} in the ledger") from exc
    return _python(response.get("Attributes", {}))


def read(table: str, pk: str, sk: str, *, dynamodb: Any | None = None) -> dict[str, Any] | None:
    try:
        item = (dynamodb or client("dynamodb")).get_item(
            TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
        ).get("Item")
    except ClientError as exc:
        raise wrap(exc, f"read {sk} from the ledger") from exc
    return _python(item) if item else None


def history(table: str, pk: str, *, dynamodb: Any | None = None) -> list[dict[str, Any]]:
    """Every item of one service, in sort-key order."""
    items: list[dict[str, Any]] = []
    try:
        paginator = (dynamodb or client("dynamodb")).get_paginator("query")
        for page in paginator.paginate(
            TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": pk}}
        ):
            items.extend(_python(item) for item in page.get("Items", []))
    except ClientError as exc:
        raise wrap(exc, "read the ledger") from exc
    return items


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _python(item: dict) -> dict[str, Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, Decimal):
            return int(value) if value == int(value) else float(value)
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list | set):
            return [convert(v) for v in value]
        return value

    return {key: convert(_FROM.deserialize(value)) for key, value in item.items()}


def add_to_set(table: str, pk: str, sk: str, attribute: str, values: list[str], *, dynamodb: Any | None = None) -> None:
    """Add strings to a string-set attribute (tags seen for a digest, in any order)."""
    if not values:
        return
    try:
        (dynamodb or client("dynamodb")).update_item(
            TableName=table,
            Key={"pk": {"S": pk}, "sk": {"S": sk}},
            UpdateExpression="ADD #a :v",
            ExpressionAttributeNames={"#a": attribute},
            ExpressionAttributeValues={":v": {"SS": sorted(set(values))}},
        )
    except ClientError as exc:
        raise wrap(exc, f"record {attribute} of {sk} in the ledger") from exc
