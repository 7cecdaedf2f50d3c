"""Plumbing shared by the connector table's adapters (``ItemStore`` and its records).

The key layout is described in ``chalicelib.adapters.store``. Here: the attribute
helpers, the one way of calling DynamoDB (errors turned into StaleItem or
ServiceUnavailable, AWS's text kept out of answers), bounded batch reads and writes, and
the opaque page cursors.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Any

from chalicelib.errors import BadRequest, Conflict, ServiceUnavailable
from chalicelib.observability import logger

BATCH_ATTEMPTS = 8  # a batch's unprocessed part is retried this often, with back-off


class StaleItem(Conflict):
    """The item changed (or appeared) between our read and our write."""


def _s(value: object) -> dict[str, str]:
    return {"S": str(value)}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


class TableAdapter:
    """The connector table and the low-level boto3 DynamoDB client that reaches it."""

    def __init__(self, table_name: str, client: Any) -> None:
        self.table_name = table_name
        self.client = client

    def ping(self) -> None:
        self._call("describe_table", TableName=self.table_name)

    def _transact(self, operations: list[dict[str, Any]]) -> None:
        from botocore.exceptions import ClientError

        try:
            self._call("transact_write_items", TransactItems=operations, _raw=True)
        except ClientError as exc:
            reasons = exc.response.get("CancellationReasons") or []
            if any(r.get("Code") == "ConditionalCheckFailed" for r in reasons):
                raise StaleItem("the item changed while this request was handled") from exc
            raise _unavailable(exc) from exc

    def _call(self, operation: str, *, _raw: bool = False, _conditional: bool = False,
              **kwargs: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, operation)(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if _raw:
                raise
            if _conditional and code == "ConditionalCheckFailedException":
                raise StaleItem("the item changed while this request was handled") from exc
            raise _unavailable(exc) from exc
        except BotoCoreError as exc:
            raise _unavailable(exc) from exc

    def _batch_get(self, pk: dict[str, str], keys: list[str]) -> list[dict[str, Any]]:
        docs: list[dict[str, Any]] = []
        for start in range(0, len(keys), 100):
            records = self._batch_get_records(
                [{"PK": pk, "SK": _s(key)} for key in keys[start:start + 100]])
            docs += [json.loads(r["doc"]["S"]) for r in records]
        return docs

    def _batch_get_records(self, keys: list[dict[str, Any]], *,
                           consistent: bool = False) -> list[dict[str, Any]]:
        """One BatchGetItem (at most 100 keys), asking again for what DynamoDB deferred.

        Bounded like ``_batch_write``: DynamoDB may keep deferring keys (throttling) and
        answer 200 each time, which botocore's retries never see; looping until it stops
        would hold the Lambda to its timeout. After BATCH_ATTEMPTS the caller's retry (SQS
        redelivery, or the person's) takes over.
        """
        request: dict[str, Any] = {self.table_name: {"Keys": keys,
                                                     **({"ConsistentRead": True}
                                                        if consistent else {})}}
        records: list[dict[str, Any]] = []
        for attempt in range(BATCH_ATTEMPTS):
            answer = self._call("batch_get_item", RequestItems=request)
            records += answer.get("Responses", {}).get(self.table_name, [])
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                return records
            if attempt < BATCH_ATTEMPTS - 1:
                time.sleep(_backoff(attempt))
        raise ServiceUnavailable("the connector table kept deferring a batch read")

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        for start in range(0, len(requests), 25):
            pending: dict[str, Any] = {self.table_name: requests[start:start + 25]}
            for attempt in range(BATCH_ATTEMPTS):  # bounded: then the caller's retry
                answer = self._call("batch_write_item", RequestItems=pending)
                pending = answer.get("UnprocessedItems") or {}
                if not pending:
                    break
                if attempt < BATCH_ATTEMPTS - 1:
                    time.sleep(_backoff(attempt))
            else:
                raise ServiceUnavailable("the connector table kept deferring a batch write")


def _backoff(attempt: int) -> float:
    """Seconds to wait before asking DynamoDB again for what it deferred: 50 ms doubling,
    capped at a second (BATCH_ATTEMPTS of them stay well inside a Lambda's timeout)."""
    return min(1.0, 0.05 * 2 ** attempt)


def _unavailable(exc: Exception) -> ServiceUnavailable:
    # AWS's text goes to the log, never into an answer.
    logger.error("connector table call failed", error=str(exc))
    return ServiceUnavailable("the connector table is unavailable; try again shortly")


def encode_cursor(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode()


def decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("query parameter 'cursor' is not a cursor this API returned") from exc
    if not isinstance(key, dict):
        raise BadRequest("query parameter 'cursor' is not a cursor this API returned")
    return key
