"""The ledger (DynamoDB): what shipline did, per service: commits, builds, images, scans,
revisions. One partition per service and environment; `shipline status` reads it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from pipeline.adapters.clients import client
from pipeline.adapters.errors import wrap

_TO = TypeSerializer()
_FROM = TypeDeserializer()


def now() -> str:
    """The ledger's timestamps: UTC, ISO 8601 (they sort as text)."""
    return datetime.now(UTC).isoformat()


def record(table: str, pk: str, sk: str, attributes: dict[str, Any], *, add: dict[str, list[str]] | None = None,
           dynamodb: Any | None = None) -> dict:
    """Set `attributes` on the item (creating it) and add strings to its string-set attributes
    (`add`: tags seen for a digest, in any order), leaving the rest alone, in one write.
    Returns the whole item as it now is."""
    sets = {key: sorted(set(values)) for key, values in (add or {}).items() if values}
    names = {f"#a{i}": key for i, key in enumerate(attributes)} | {f"#s{i}": key for i, key in enumerate(sets)}
    values = {f":v{i}": _TO.serialize(_plain(value)) for i, value in enumerate(attributes.values())}
    values |= {f":s{i}": {"SS": members} for i, members in enumerate(sets.values())}
    expression = "SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(attributes)))
    if sets:
        expression += " ADD " + ", ".join(f"#s{i} :s{i}" for i in range(len(sets)))
    try:
        response = (dynamodb or client("dynamodb")).update_item(
            TableName=table,
            Key={"pk": {"S": pk}, "sk": {"S": sk}},
            UpdateExpression=expression,
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
