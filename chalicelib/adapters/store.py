"""The connector's single DynamoDB table.

Key layout (all scoped by company):

    ITEM#{company}#{kind}#{procore_id}  STATE            the item (status, version, snapshot)
    ITEM#{company}#{kind}#{procore_id}  EV#{version:08}  one audit event per transition
    ITEM#{company}#{kind}#{procore_id}  SNAP#{hash}      a large snapshot, zlib-compressed
    LINK#{company}#{kind}#procore#{id}  LINK             Procore id -> Sage key
    LINK#{company}#{kind}#sage#{key}    LINK             Sage key -> Procore id
    LINKS#{company}#{kind}              {procore_id}     the company's links of a kind
    COMPANY#{company}                   USER#{subject}   an approver's levels
    EVENT#{company}#{event_id}          EVENT            webhook event already processed (TTL)
    AGENT#{company}                     HEARTBEAT#{id}   the relay agent's newest heartbeat
    ERP#{company}#{list}                {key}            a row of a list pulled from Sage
    LINE#{company}#{line_id}            PARENT           the commitment holding a line item
    PULL#{company}                      {list}           state of the list's pulls (versioned)
    COMPANY#{company}                   SETTINGS         the company's connector settings
                                                         (versioned, who and when beside)
    LINKEV#{company}#{kind}#{id}        EV#{at}#{n}      link / unlink history
    CURSOR#{company}                    RECONCILE        the reconciliation poll's cursor
    QUARANTINE#{company}                {at}-{digest}    an unreadable webhook delivery
    INTENT#{company}#{kind}             {sage_key}       a Procore create about to be sent
    IMPORT#{company}                    budget#{project} a budget import from Sage (versioned)
    JOBCOST#{company}                   SYNC#{project}   a project's job cost sync (versioned)
    JOBCOST#{company}#{project}         ROWS#{bucket}    jobcst rows as synced (store_job_costs)

Index ``inbox``: GSI1PK = "{company}#{status}", GSI1SK = "{updated_at}#{item_id}".
Index ``company_items``: GSI2PK = "COMPANY#{company}#ITEMS", same sort key.

Item documents are stored as JSON text (``doc``) beside the attributes that keys,
indexes and conditions need: Procore's numbers stay exact and no float/Decimal juggling
leaks out of this adapter. Every transition is one TransactWriteItems: the item put,
conditional on the version read, plus its audit events, each conditional on not existing.

A document over ``INLINE_DOC_MAX`` keeps its large snapshots (a 2,000-line commitment is
~535 KB of JSON; DynamoDB takes 400 KB per record) apart: each is stored compressed once
under its content hash (immutable, so writing it again changes nothing) and the document
holds ``{"$snapshot": hash}`` in its place. Reads put them back.

``ItemStore`` (here) reads and writes items, audit events, links and processed webhook
events; the other records are ``TableRecords`` (``store_records``) and ``JobCostRecords``
(``store_job_costs``), which it inherits, and
the plumbing both share (calls, batches, cursors) is ``TableAdapter`` (``store_base``).
"""

from __future__ import annotations

import json
import time
import zlib
from typing import Any

from chalicelib.adapters.store_base import (
    BATCH_ATTEMPTS,
    StaleItem,
    _n,
    _s,
    decode_cursor,
    encode_cursor,
)
from chalicelib.adapters.store_job_costs import JobCostRecords
from chalicelib.adapters.store_records import ERP_KEYS, SETTINGS_META, TableRecords, erp_key
from chalicelib.domain.models import AuditEvent, Item, Link, content_hash
from chalicelib.domain.state_machine import Status
from chalicelib.errors import BadRequest, Conflict, ServiceUnavailable

__all__ = [
    "BATCH_ATTEMPTS",
    "ERP_KEYS",
    "INLINE_DOC_MAX",
    "PROCESSED_EVENT_TTL_SECONDS",
    "SETTINGS_META",
    "SNAPSHOT_FIELDS",
    "SNAPSHOT_STORED_MAX",
    "ItemStore",
    "SnapshotTooLarge",
    "StaleItem",
    "decode_cursor",
    "encode_cursor",
    "erp_key",
    "item_pk",
]

PROCESSED_EVENT_TTL_SECONDS = 14 * 24 * 3600  # beyond SQS's longest retention
INLINE_DOC_MAX = 96 * 1024  # a bigger item document stores its snapshots apart
SNAPSHOT_FIELDS = ("snapshot", "pending_snapshot", "synced_snapshot")
SNAPSHOT_STORED_MAX = 380 * 1024  # compressed; DynamoDB's record limit is 400 KB


class SnapshotTooLarge(ValueError):
    """A snapshot does not fit one table record even compressed."""


def item_pk(company_id: int, kind: str, procore_id: int) -> str:
    return f"ITEM#{company_id}#{kind}#{procore_id}"


class ItemStore(TableRecords, JobCostRecords):
    """Adapter for the connector table. Takes a low-level boto3 DynamoDB client."""

    # ---- items -----------------------------------------------------------------------
    def get_item(self, company_id: int, kind: str, procore_id: int) -> Item | None:
        answer = self._call("get_item", TableName=self.table_name, ConsistentRead=True,
                            Key={"PK": _s(item_pk(company_id, kind, procore_id)),
                                 "SK": _s("STATE")})
        raw = answer.get("Item")
        return self._items([raw["doc"]["S"]])[0] if raw else None

    def save_transition(self, item: Item, event: AuditEvent | list[AuditEvent], *,
                        expected_version: int) -> None:
        """Write ``item`` (already at its new version) and its audit events atomically.

        ``expected_version`` is the version read before deciding the transition; 0 means
        the item must not exist yet. Raises StaleItem when someone else wrote first.
        Several events: one change made of several transitions (synced, then the change
        that waited promoted), all or nothing.
        """
        events = event if isinstance(event, list) else [event]
        condition: dict[str, Any]
        if expected_version == 0:
            condition = {"ConditionExpression": "attribute_not_exists(PK)"}
        else:
            condition = {"ConditionExpression": "version = :expected",
                         "ExpressionAttributeValues": {":expected": _n(expected_version)}}
        pk = item_pk(item.company_id, item.kind, item.procore_id)
        state, snapshots = self._state_record(item)
        self._transact([
            *snapshots,
            {"Put": {"TableName": self.table_name, "Item": state, **condition}},
            *({"Put": {"TableName": self.table_name,
                       "Item": {"PK": _s(pk), "SK": _s(f"EV#{e.version:08d}"),
                                "doc": _s(e.model_dump_json())},
                       "ConditionExpression": "attribute_not_exists(PK)"}} for e in events),
        ])

    def save_fields(self, item: Item) -> None:
        """Rewrite an item without a transition (e.g. export_enqueued), same version only."""
        state, snapshots = self._state_record(item)
        self._transact([*snapshots, {"Put": {
            "TableName": self.table_name, "Item": state,
            "ConditionExpression": "version = :expected",
            "ExpressionAttributeValues": {":expected": _n(item.version)}}}])

    def audit_trail(self, company_id: int, kind: str, procore_id: int) -> list[AuditEvent]:
        events: list[AuditEvent] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :ev)",
            "ExpressionAttributeValues": {":pk": _s(item_pk(company_id, kind, procore_id)),
                                          ":ev": _s("EV#")},
            "ConsistentRead": True,
        }
        while True:
            answer = self._call("query", **kwargs)
            events += [AuditEvent.model_validate_json(r["doc"]["S"]) for r in answer["Items"]]
            if "LastEvaluatedKey" not in answer:
                return events
            kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def list_items(self, company_id: int, *, status: Status | None = None,
                   kind: str | None = None, project_id: int | None = None,
                   limit: int = 50, cursor: str | None = None) -> tuple[list[Item], str | None]:
        """Newest first; ``cursor`` is the opaque value a previous page returned."""
        kwargs: dict[str, Any] = {"TableName": self.table_name, "ScanIndexForward": False,
                                  "Limit": limit}
        if status is not None:
            kwargs["IndexName"] = "inbox"
            kwargs["KeyConditionExpression"] = "GSI1PK = :pk"
            values = {":pk": _s(f"{company_id}#{status.value}")}
        else:
            kwargs["IndexName"] = "company_items"
            kwargs["KeyConditionExpression"] = "GSI2PK = :pk"
            values = {":pk": _s(f"COMPANY#{company_id}#ITEMS")}
        filters = []
        if kind is not None:
            filters.append("kind = :kind")
            values[":kind"] = _s(kind)
        if project_id is not None:
            filters.append("project_id = :project")
            values[":project"] = _n(project_id)
        if filters:
            kwargs["FilterExpression"] = " AND ".join(filters)
        kwargs["ExpressionAttributeValues"] = values
        if cursor:
            start = decode_cursor(cursor)
            index_pk = "GSI1PK" if status is not None else "GSI2PK"
            if start.get(index_pk) != values[":pk"]:
                raise BadRequest("query parameter 'cursor' belongs to another listing")
            kwargs["ExclusiveStartKey"] = start
        answer = self._call("query", **kwargs)
        items = self._items([r["doc"]["S"] for r in answer["Items"]])
        last = answer.get("LastEvaluatedKey")
        return items, (encode_cursor(last) if last else None)

    # ---- links -----------------------------------------------------------------------
    def count_items(self, company_id: int, status: Status) -> int:
        """How many items are in ``status`` (the inbox index, counted, not read)."""
        kwargs: dict[str, Any] = {
            "TableName": self.table_name, "IndexName": "inbox", "Select": "COUNT",
            "KeyConditionExpression": "GSI1PK = :pk",
            "ExpressionAttributeValues": {":pk": _s(f"{company_id}#{status.value}")}}
        total = 0
        while True:
            answer = self._call("query", **kwargs)
            total += int(answer.get("Count", 0))
            if "LastEvaluatedKey" not in answer:
                return total
            kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def get_link(self, company_id: int, kind: str, procore_id: int) -> Link | None:
        answer = self._call("get_item", TableName=self.table_name, Key={
            "PK": _s(f"LINK#{company_id}#{kind}#procore#{procore_id}"), "SK": _s("LINK")})
        raw = answer.get("Item")
        return Link.model_validate_json(raw["doc"]["S"]) if raw else None

    def put_link(self, link: Link) -> None:
        """Link both directions at once, plus the company's list of links of that kind;
        Conflict if either side is already linked."""
        doc = _s(link.model_dump_json())
        puts: list[dict[str, Any]] = [
            {"Put": {"TableName": self.table_name,
                     "Item": {"PK": _s(pk), "SK": _s("LINK"), "doc": doc},
                     "ConditionExpression": "attribute_not_exists(PK)"}}
            for pk in _link_keys(link)]
        puts.append({"Put": {"TableName": self.table_name, "Item": {
            **_link_list_key(link), "doc": doc}}})
        try:
            self._transact(puts)
        except StaleItem as exc:
            raise Conflict(f"{link.kind} {link.procore_id} or Sage key {link.sage_key} is "
                           "already linked") from exc

    def delete_link(self, link: Link) -> None:
        """Unlink both directions at once; Conflict if the link changed meanwhile."""
        deletes: list[dict[str, Any]] = [
            {"Delete": {"TableName": self.table_name, "Key": {"PK": _s(pk), "SK": _s("LINK")},
                        "ConditionExpression": "attribute_exists(PK)"}}
            for pk in _link_keys(link)]
        deletes.append({"Delete": {"TableName": self.table_name, "Key": _link_list_key(link)}})
        try:
            self._transact(deletes)
        except StaleItem as exc:
            raise Conflict(f"{link.kind} {link.procore_id} is no longer linked to "
                           f"{link.sage_key}") from exc

    def get_link_by_sage(self, company_id: int, kind: str, sage_key: str) -> Link | None:
        answer = self._call("get_item", TableName=self.table_name, Key={
            "PK": _s(f"LINK#{company_id}#{kind}#sage#{sage_key}"), "SK": _s("LINK")})
        raw = answer.get("Item")
        return Link.model_validate_json(raw["doc"]["S"]) if raw else None

    def list_links(self, company_id: int, kind: str) -> list[Link]:
        links: list[Link] = []
        kwargs: dict[str, Any] = {"TableName": self.table_name,
                                  "KeyConditionExpression": "PK = :pk",
                                  "ExpressionAttributeValues": {
                                      ":pk": _s(f"LINKS#{company_id}#{kind}")}}
        while True:
            answer = self._call("query", **kwargs)
            links += [Link.model_validate_json(r["doc"]["S"]) for r in answer["Items"]]
            if "LastEvaluatedKey" not in answer:
                return links
            kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def add_link_event(self, company_id: int, kind: str, procore_id: int,
                       event: dict[str, Any]) -> None:
        import uuid

        self._call("put_item", TableName=self.table_name, Item={
            "PK": _s(f"LINKEV#{company_id}#{kind}#{procore_id}"),
            "SK": _s(f"EV#{event['at']}#{uuid.uuid4().hex[:8]}"),
            "doc": _s(json.dumps(event, default=str))})

    def link_history(self, company_id: int, kind: str, procore_id: int) -> list[dict[str, Any]]:
        answer = self._call("query", TableName=self.table_name,
                            KeyConditionExpression="PK = :pk",
                            ExpressionAttributeValues={
                                ":pk": _s(f"LINKEV#{company_id}#{kind}#{procore_id}")})
        return [json.loads(r["doc"]["S"]) for r in answer["Items"]]

    # ---- processed webhook events ------------------------------------------------------
    def event_seen(self, company_id: int, event_id: str) -> bool:
        answer = self._call("get_item", TableName=self.table_name, ConsistentRead=True,
                            Key={"PK": _s(f"EVENT#{company_id}#{event_id}"),
                                 "SK": _s("EVENT")})
        return "Item" in answer

    def mark_event_seen(self, company_id: int, event_id: str, outcome: str) -> None:
        self._call("put_item", TableName=self.table_name, Item={
            "PK": _s(f"EVENT#{company_id}#{event_id}"), "SK": _s("EVENT"),
            "outcome": _s(outcome),
            "expires_at": _n(int(time.time()) + PROCESSED_EVENT_TTL_SECONDS)})

    def commitment_project_ids(self, company_id: int) -> set[int]:
        """Projects of the commitment items held and not withdrawn (the poll reads these).

        Only ``project_id`` comes back from the company's items index, not the documents.
        """
        projects: set[int] = set()
        kwargs: dict[str, Any] = {
            "TableName": self.table_name, "IndexName": "company_items",
            "KeyConditionExpression": "GSI2PK = :pk",
            "FilterExpression": "kind = :kind AND #status <> :withdrawn",
            "ProjectionExpression": "project_id",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":pk": _s(f"COMPANY#{company_id}#ITEMS"),
                                          ":kind": _s("commitment"),
                                          ":withdrawn": _s(Status.WITHDRAWN.value)}}
        while True:
            answer = self._call("query", **kwargs)
            projects |= {int(r["project_id"]["N"]) for r in answer["Items"]
                         if "project_id" in r}
            if "LastEvaluatedKey" not in answer:
                return projects
            kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    # ---- plumbing --------------------------------------------------------------------
    def _items(self, docs: list[str]) -> list[Item]:
        """Items from their stored documents, large snapshots read back in one batch."""
        parsed = [json.loads(doc) for doc in docs]
        wanted: dict[tuple[str, str], None] = {}
        for data in parsed:
            pk = item_pk(data["company_id"], data["kind"], data["procore_id"])
            for field in SNAPSHOT_FIELDS:
                ref = data.get(field)
                if isinstance(ref, dict) and set(ref) == {"$snapshot"}:
                    wanted[(pk, f"SNAP#{ref['$snapshot']}")] = None
        found: dict[tuple[str, str], Any] = {}
        keys = list(wanted)
        for start in range(0, len(keys), 100):
            for r in self._batch_get_records(
                    [{"PK": _s(pk), "SK": _s(sk)} for pk, sk in keys[start:start + 100]],
                    consistent=True):
                found[(r["PK"]["S"], r["SK"]["S"])] = json.loads(zlib.decompress(r["z"]["B"]))
        items = []
        for data in parsed:
            pk = item_pk(data["company_id"], data["kind"], data["procore_id"])
            for field in SNAPSHOT_FIELDS:
                ref = data.get(field)
                if isinstance(ref, dict) and set(ref) == {"$snapshot"}:
                    key = (pk, f"SNAP#{ref['$snapshot']}")
                    if key not in found:
                        raise ServiceUnavailable(f"snapshot {ref['$snapshot']} of {pk} is "
                                                 "missing from the connector table")
                    data[field] = found[key]
            items.append(Item.model_validate(data))
        return items

    def _state_record(self, item: Item) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The STATE record, and the puts of the snapshots it keeps apart (if large)."""
        doc = item.model_dump_json()
        snapshots: list[dict[str, Any]] = []
        if len(doc) > INLINE_DOC_MAX:
            data = json.loads(doc)
            pk = item_pk(item.company_id, item.kind, item.procore_id)
            for field in SNAPSHOT_FIELDS:
                value = data.get(field)
                if not value:
                    continue
                digest = content_hash(value)
                packed = zlib.compress(json.dumps(value, sort_keys=True,
                                                  separators=(",", ":")).encode(), 6)
                if len(packed) > SNAPSHOT_STORED_MAX:
                    raise SnapshotTooLarge(
                        f"{item.item_id}: its {field.replace('_', ' ')} is {len(packed)} "
                        f"bytes compressed; the connector stores at most "
                        f"{SNAPSHOT_STORED_MAX}")
                data[field] = {"$snapshot": digest}
                put = {"Put": {"TableName": self.table_name, "Item": {
                    "PK": _s(pk), "SK": _s(f"SNAP#{digest}"), "z": {"B": packed}}}}
                if put not in snapshots:
                    snapshots.append(put)
            doc = json.dumps(data, separators=(",", ":"))
        sort = _s(f"{item.updated_at}#{item.item_id}")
        record: dict[str, Any] = {
            "PK": _s(item_pk(item.company_id, item.kind, item.procore_id)), "SK": _s("STATE"),
            "GSI1PK": _s(f"{item.company_id}#{item.status.value}"), "GSI1SK": sort,
            "GSI2PK": _s(f"COMPANY#{item.company_id}#ITEMS"), "GSI2SK": sort,
            "kind": _s(item.kind), "status": _s(item.status.value),
            "version": _n(item.version), "doc": _s(doc),
        }
        if item.project_id is not None:
            record["project_id"] = _n(item.project_id)
        return record, snapshots


def _link_keys(link: Link) -> tuple[str, str]:
    return (f"LINK#{link.company_id}#{link.kind}#procore#{link.procore_id}",
            f"LINK#{link.company_id}#{link.kind}#sage#{link.sage_key}")


def _link_list_key(link: Link) -> dict[str, Any]:
    return {"PK": _s(f"LINKS#{link.company_id}#{link.kind}"), "SK": _s(str(link.procore_id))}
