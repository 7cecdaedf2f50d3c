"""Create intents, in the connector table: "about to create this in Procore".

    INTENT#{company}#{kind}   {sage_key}   the latest create attempt for a Sage record

Written just before a create POST to Procore (a project for a Sage job, a directory vendor
for a Sage vendor, a sub job for a Sage phase) and cleared once the record is linked. An
intent still there means an attempt whose outcome is unknown: its answer was lost (a 5xx
or a dropped connection after Procore may have acted) or the connector stopped between
the POST and the link. The next attempt looks the record up by ``origin_id`` and adopts
what it finds; the intent says whose attempt made it, and when. Entries expire after
``KEEP_DAYS`` (an expired one only loses that who/when: adoption goes by ``origin_id``).
"""

from __future__ import annotations

import json
import time
from typing import Any

from chalicelib.errors import ServiceUnavailable
from chalicelib.observability import logger

KEEP_DAYS = 30


def _s(value: object) -> dict[str, str]:
    return {"S": str(value)}


class CreateIntents:
    """Adapter for the create intents. Takes a low-level boto3 DynamoDB client."""

    def __init__(self, table_name: str, client: Any) -> None:
        self.table_name = table_name
        self.client = client

    def put(self, company_id: int, kind: str, sage_key: str, *, origin_id: str, actor: str,
            at: str) -> None:
        """Note the attempt (replacing an earlier one's note: the newest attempt counts)."""
        doc = {"kind": kind, "sage_key": sage_key, "origin_id": origin_id, "actor": actor,
               "at": at}
        self._call("put_item", TableName=self.table_name, Item={
            **_key(company_id, kind, sage_key), "doc": _s(json.dumps(doc, sort_keys=True)),
            "expires_at": {"N": str(int(time.time()) + KEEP_DAYS * 86400)}})

    def get(self, company_id: int, kind: str, sage_key: str) -> dict[str, Any] | None:
        answer = self._call("get_item", TableName=self.table_name, ConsistentRead=True,
                            Key=_key(company_id, kind, sage_key))
        raw = answer.get("Item")
        return json.loads(raw["doc"]["S"]) if raw else None

    def clear(self, company_id: int, kind: str, sage_key: str) -> None:
        self._call("delete_item", TableName=self.table_name,
                   Key=_key(company_id, kind, sage_key))

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, operation)(**kwargs)  # type: ignore[no-any-return]
        except (ClientError, BotoCoreError) as exc:
            # The AWS text goes to the log only; the caller's answer names no AWS detail.
            logger.error("create intent table call failed", operation=operation,
                         error=str(exc))
            raise ServiceUnavailable("the connector table is unavailable; try again "
                                     "shortly") from exc


def _key(company_id: int, kind: str, sage_key: str) -> dict[str, dict[str, str]]:
    return {"PK": _s(f"INTENT#{company_id}#{kind}"), "SK": _s(sage_key)}
