"""Approver e-mail notices, in the connector table: one record per e-mail ever meant.

    PK=NOTICE#{company}   SK=IMMEDIATE#{item_id}#{entered_at}#{subject}   one item's e-mail
                          SK=DIGEST#{date}#{subject}                      one day's digest

``entered_at`` is when the item last entered ready_to_export (its ``sent_at``), so a
redelivered intake message or a retried request finds the record and sends nothing, while
the same item sent again after a rejection is a new notice. The record is written before
the e-mail is sent (a conditional put is the claim); its ``status`` says what happened:

    (none) --claim--> sending --SES ok--> sent
                         |  \\--SES refused--> failed --claim again (next run)--> sending
                         |                       \\-- MAX attempts --> given_up
                         \\-- the item left ready_to_export before a retry --> obsolete

Records expire after ``KEEP_DAYS`` (the table's TTL attribute ``expires_at``).
"""

from __future__ import annotations

import json
import time
from typing import Any

from chalicelib.adapters.store_base import StaleItem, TableAdapter, _n, _s

KEEP_DAYS = 30
OPEN = ("sending", "failed")


class NoticeRecords(TableAdapter):
    def claim_new(self, company_id: int, key: str, doc: dict[str, Any], *, at: str) -> bool:
        """Write the notice as ``sending`` unless it exists: False when it already does
        (someone sent, or is sending, this e-mail)."""
        try:
            self._call("put_item", _conditional=True, TableName=self.table_name, Item={
                **self._key(company_id, key), "status": _s("sending"), "attempts": _n(0),
                "claimed_at": _s(at), "doc": _s(json.dumps(doc, sort_keys=True)),
                "expires_at": _n(int(time.time()) + KEEP_DAYS * 86400)},
                ConditionExpression="attribute_not_exists(SK)")
        except StaleItem:
            return False
        return True

    def claim_again(self, company_id: int, key: str, *, status: str, attempts: int,
                    at: str) -> bool:
        """Take an open notice for another attempt, if it is still as read (False when
        another run took it first)."""
        try:
            self._call("update_item", _conditional=True, TableName=self.table_name,
                       Key=self._key(company_id, key),
                       UpdateExpression="SET #status = :sending, claimed_at = :at",
                       ConditionExpression="#status = :seen AND attempts = :attempts",
                       ExpressionAttributeNames={"#status": "status"},
                       ExpressionAttributeValues={":sending": _s("sending"), ":at": _s(at),
                                                  ":seen": _s(status),
                                                  ":attempts": _n(attempts)})
        except StaleItem:
            return False
        return True

    def finish(self, company_id: int, key: str, *, status: str, attempts: int,
               error: str | None = None, message_id: str | None = None) -> None:
        """Record the outcome of an attempt (``error``: our fixed words, never SES's)."""
        values: dict[str, Any] = {":status": _s(status), ":attempts": _n(attempts),
                                  ":error": _s(error or ""), ":message": _s(message_id or "")}
        self._call("update_item", TableName=self.table_name, Key=self._key(company_id, key),
                   UpdateExpression="SET #status = :status, attempts = :attempts, "
                                    "last_error = :error, message_id = :message",
                   ExpressionAttributeNames={"#status": "status"},
                   ExpressionAttributeValues=values)

    def get(self, company_id: int, key: str) -> dict[str, Any] | None:
        answer = self._call("get_item", TableName=self.table_name, ConsistentRead=True,
                            Key=self._key(company_id, key))
        raw = answer.get("Item")
        return _record(raw) if raw else None

    def list_open(self, company_id: int) -> list[dict[str, Any]]:
        """Notices still sending or failed (what the next run looks at)."""
        records: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name, "KeyConditionExpression": "PK = :pk",
            "FilterExpression": "#status IN (:sending, :failed)",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":pk": _s(f"NOTICE#{company_id}"),
                                          ":sending": _s(OPEN[0]), ":failed": _s(OPEN[1])}}
        while True:
            answer = self._call("query", **kwargs)
            records += [_record(raw) for raw in answer["Items"]]
            if "LastEvaluatedKey" not in answer:
                return records
            kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    @staticmethod
    def _key(company_id: int, key: str) -> dict[str, Any]:
        return {"PK": _s(f"NOTICE#{company_id}"), "SK": _s(key)}


def _record(raw: dict[str, Any]) -> dict[str, Any]:
    return {**json.loads(raw["doc"]["S"]), "key": raw["SK"]["S"],
            "status": raw["status"]["S"], "attempts": int(raw["attempts"]["N"]),
            "claimed_at": raw.get("claimed_at", {}).get("S", ""),
            "last_error": raw.get("last_error", {}).get("S", "") or None}
