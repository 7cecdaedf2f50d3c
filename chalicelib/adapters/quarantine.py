"""Quarantined webhook deliveries, in the connector table.

    QUARANTINE#{company}   {received_at}-{digest}   one delivery the receiver could not parse

A delivery with a valid token whose body the connector cannot read is kept here (raw
bytes up to a bound, the reason, when) instead of being refused: Procore pauses every
delivery to an endpoint after one non-2xx answer and discards what waited after 12 hours.
An ERP admin lists them and replays one after a fix is deployed. Entries expire after
``KEEP_DAYS`` (by then the reconciliation poll has read every commitment they concern).
"""

from __future__ import annotations

import json
import time
from typing import Any

from chalicelib.adapters.store import StaleItem, decode_cursor, encode_cursor
from chalicelib.domain.tax_ids import redact, redact_text
from chalicelib.errors import ServiceUnavailable
from chalicelib.observability import logger

KEEP_DAYS = 90
QUARANTINED = "quarantined"
REPLAYED = "replayed"


def _s(value: object) -> dict[str, str]:
    return {"S": str(value)}


class QuarantineStore:
    """Adapter for the quarantine records. Takes a low-level boto3 DynamoDB client."""

    def __init__(self, table_name: str, client: Any) -> None:
        self.table_name = table_name
        self.client = client

    def put(self, company_id: int, entry_id: str, body: bytes, doc: dict[str, Any]) -> None:
        """Keep one delivery: ``body`` as bytes (already cut to the bound), ``doc`` the rest.

        Tax ids are masked first (a company's business_register may ride in a body): EIN
        and SSN shapes and tax-id keys' values; bare nine-digit ids stay, for the replay.
        """
        text = body.decode("utf-8", errors="surrogateescape")
        body = redact_text(text, bare_nine=False).encode("utf-8", errors="surrogateescape")
        doc = redact(doc, bare_nine=False)
        self._call("put_item", TableName=self.table_name, Item={
            "PK": _s(f"QUARANTINE#{company_id}"), "SK": _s(entry_id),
            "body": {"B": body}, "status": _s(doc["status"]),
            "doc": _s(json.dumps(doc, sort_keys=True)),
            "expires_at": {"N": str(int(time.time()) + KEEP_DAYS * 86400)}})

    def get(self, company_id: int, entry_id: str) -> tuple[dict[str, Any], bytes] | None:
        answer = self._call("get_item", TableName=self.table_name, ConsistentRead=True,
                            Key={"PK": _s(f"QUARANTINE#{company_id}"), "SK": _s(entry_id)})
        raw = answer.get("Item")
        if raw is None:
            return None
        return _doc(raw), bytes(raw["body"]["B"])

    def list(self, company_id: int, *, limit: int,
             cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """Newest first, ``limit`` per page."""
        kwargs: dict[str, Any] = {
            "TableName": self.table_name, "KeyConditionExpression": "PK = :pk",
            "ExpressionAttributeValues": {":pk": _s(f"QUARANTINE#{company_id}")},
            "ScanIndexForward": False, "Limit": limit,
            "ProjectionExpression": "SK, doc"}
        if cursor:
            kwargs["ExclusiveStartKey"] = decode_cursor(cursor)
        answer = self._call("query", **kwargs)
        last = answer.get("LastEvaluatedKey")
        return [_doc(raw) for raw in answer["Items"]], encode_cursor(last) if last else None

    def update(self, company_id: int, entry_id: str, doc: dict[str, Any], *,
               expected_status: str) -> None:
        """Replace the entry's document if its status is still ``expected_status``."""
        from botocore.exceptions import ClientError

        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"PK": _s(f"QUARANTINE#{company_id}"), "SK": _s(entry_id)},
                UpdateExpression="SET #doc = :doc, #status = :status",
                ConditionExpression="#status = :expected",
                ExpressionAttributeNames={"#doc": "doc", "#status": "status"},
                ExpressionAttributeValues={":doc": _s(json.dumps(doc, sort_keys=True)),
                                           ":status": _s(doc["status"]),
                                           ":expected": _s(expected_status)})
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise StaleItem("the quarantine entry changed meanwhile") from exc
            raise _unavailable(exc) from exc

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, operation)(**kwargs)  # type: ignore[no-any-return]
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(exc) from exc


def _doc(raw: dict[str, Any]) -> dict[str, Any]:
    return {**json.loads(raw["doc"]["S"]), "id": raw["SK"]["S"]}


def _unavailable(exc: Exception) -> ServiceUnavailable:
    # The AWS text goes to the log only; the caller's answer names no AWS detail.
    logger.error("quarantine table call failed", error=str(exc))
    return ServiceUnavailable("the connector table is unavailable; try again shortly")
