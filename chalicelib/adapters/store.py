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
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import zlib
from typing import Any

from chalicelib.domain.models import AuditEvent, Item, Link, content_hash
from chalicelib.domain.permissions import Level, User
from chalicelib.domain.state_machine import Status
from chalicelib.errors import BadRequest, Conflict, ServiceUnavailable
from chalicelib.observability import logger

PROCESSED_EVENT_TTL_SECONDS = 14 * 24 * 3600  # beyond SQS's longest retention
BATCH_ATTEMPTS = 8  # a batch's unprocessed part is retried this often, with back-off
INLINE_DOC_MAX = 96 * 1024  # a bigger item document stores its snapshots apart
SNAPSHOT_FIELDS = ("snapshot", "pending_snapshot", "synced_snapshot")
SNAPSHOT_STORED_MAX = 380 * 1024  # compressed; DynamoDB's record limit is 400 KB
# Kept beside the settings document (record attributes), returned with it on reads and
# never written into it: a reader may hand back what it read.
SETTINGS_META = ("version", "updated_by", "updated_at")


class StaleItem(Conflict):
    """The item changed (or appeared) between our read and our write."""


class SnapshotTooLarge(ValueError):
    """A snapshot does not fit one table record even compressed."""


def _s(value: object) -> dict[str, str]:
    return {"S": str(value)}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def item_pk(company_id: int, kind: str, procore_id: int) -> str:
    return f"ITEM#{company_id}#{kind}#{procore_id}"


class ItemStore:
    """Adapter for the connector table. Takes a low-level boto3 DynamoDB client."""

    def __init__(self, table_name: str, client: Any) -> None:
        self.table_name = table_name
        self.client = client

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

    # ---- lists pulled from Sage ---------------------------------------------------------
    def put_erp_rows(self, company_id: int, list_name: str, rows: list[dict[str, Any]],
                     run_id: str) -> None:
        """Upsert a page of a pull; archived flags set by people survive a refresh.

        Batched both ways (one read per 100 rows, one write per 25) rather than a read and a
        write per row: a page is up to 1000 rows.
        """
        pk = _s(f"ERP#{company_id}#{list_name}")
        keyed = {erp_key(list_name, row): row for row in rows}
        archived = {doc["_key"] for doc in self._batch_get(pk, list(keyed))
                    if doc.get("_archived")}
        self._batch_write([{"PutRequest": {"Item": {
            "PK": pk, "SK": _s(key),
            "doc": _s(json.dumps({**row, "_key": key, "_run": run_id,
                                  "_archived": key in archived}, default=str))}}}
            for key, row in keyed.items()])

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

    # ---- line items -> their commitment (webhook payload v2.0 does not say) -------------
    def put_line_parents(self, company_id: int, parents: dict[int, int]) -> None:
        """Remember which commitment holds each line (idempotent; kept after a delete)."""
        self._batch_write([{"PutRequest": {"Item": {
            "PK": _s(f"LINE#{company_id}#{line_id}"), "SK": _s("PARENT"),
            "commitment": _n(commitment_id)}}} for line_id, commitment_id in parents.items()])

    def get_line_parent(self, company_id: int, line_id: int) -> int | None:
        answer = self._call("get_item", TableName=self.table_name, Key={
            "PK": _s(f"LINE#{company_id}#{line_id}"), "SK": _s("PARENT")})
        raw = answer.get("Item")
        return int(raw["commitment"]["N"]) if raw else None

    def get_erp_row(self, company_id: int, list_name: str, key: str) -> dict[str, Any] | None:
        answer = self._call("get_item", TableName=self.table_name, Key={
            "PK": _s(f"ERP#{company_id}#{list_name}"), "SK": _s(key)})
        raw = answer.get("Item")
        return json.loads(raw["doc"]["S"]) if raw else None

    def list_erp_rows(self, company_id: int, list_name: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": self.table_name,
                                  "KeyConditionExpression": "PK = :pk",
                                  "ExpressionAttributeValues": {
                                      ":pk": _s(f"ERP#{company_id}#{list_name}")}}
        while True:
            answer = self._call("query", **kwargs)
            rows += [json.loads(r["doc"]["S"]) for r in answer["Items"]]
            if "LastEvaluatedKey" not in answer:
                return rows
            kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def sweep_erp_rows(self, company_id: int, list_name: str, run_id: str) -> int:
        """Remove rows a complete pull did not see (deleted in Sage).

        Only rows last seen by an older run go: a newer run's page may land between this
        run's last page and its sweep (run ids are sortable request times).
        """
        gone = [r for r in self.list_erp_rows(company_id, list_name)
                if str(r.get("_run") or "") < run_id]
        pk = _s(f"ERP#{company_id}#{list_name}")
        self._batch_write([{"DeleteRequest": {"Key": {"PK": pk, "SK": _s(row["_key"])}}}
                           for row in gone])
        return len(gone)

    def set_erp_archived(self, company_id: int, list_name: str, key: str,
                         archived: bool) -> dict[str, Any] | None:
        row = self.get_erp_row(company_id, list_name, key)
        if row is None:
            return None
        row["_archived"] = archived
        self._call("put_item", TableName=self.table_name, Item={
            "PK": _s(f"ERP#{company_id}#{list_name}"), "SK": _s(key),
            "doc": _s(json.dumps(row, default=str))})
        return row

    def get_pull_state(self, company_id: int, list_name: str) -> dict[str, Any]:
        """The list's pull state, with the record's ``version`` (0: none written yet)."""
        answer = self._call("get_item", TableName=self.table_name, ConsistentRead=True, Key={
            "PK": _s(f"PULL#{company_id}"), "SK": _s(list_name)})
        raw = answer.get("Item")
        return {**json.loads(raw["doc"]["S"]), "version": _version(raw)} if raw else {
            "version": 0}

    def put_pull_state(self, company_id: int, list_name: str, state: dict[str, Any], *,
                       expected_version: int) -> int:
        """Write the pull state read at ``expected_version``; the new version.

        Conditional: pages of one pull may be recorded by two consumers at once, and the
        one writing second must not drop the page the first recorded. StaleItem when the
        state changed since it was read (read again, apply again).
        """
        doc = {k: v for k, v in state.items() if k != "version"}
        self._call("put_item", _conditional=True, TableName=self.table_name, Item={
            "PK": _s(f"PULL#{company_id}"), "SK": _s(list_name),
            "version": _n(expected_version + 1), "doc": _s(json.dumps(doc, default=str))},
            **_version_condition(expected_version))
        return expected_version + 1

    # ---- company settings -------------------------------------------------------------
    def get_company_settings(self, company_id: int) -> dict[str, Any]:
        """The settings document, plus the record's ``version`` (0: none written yet, or
        written before settings had versions) and who wrote it when (``updated_by``,
        ``updated_at``). Those three live beside the document, not in it."""
        answer = self._call("get_item", TableName=self.table_name, ConsistentRead=True, Key={
            "PK": _s(f"COMPANY#{company_id}"), "SK": _s("SETTINGS")})
        raw = answer.get("Item")
        if not raw:
            return {"version": 0}
        return {**json.loads(raw["doc"]["S"]), **_settings_meta(raw)}

    def put_company_settings(self, company_id: int, settings: dict[str, Any], *,
                             expected_version: int, updated_by: str = "",
                             updated_at: str = "") -> int:
        """Write settings edited from ``expected_version``; the new version.

        Conditional on the stored version still being ``expected_version`` (0: no version
        yet), so two admins saving at once never silently revert each other: the second
        gets Conflict (409) naming who changed the settings meanwhile.
        """
        doc = {k: v for k, v in settings.items() if k not in SETTINGS_META}
        item = {"PK": _s(f"COMPANY#{company_id}"), "SK": _s("SETTINGS"),
                "version": _n(expected_version + 1), "updated_by": _s(updated_by),
                "updated_at": _s(updated_at), "doc": _s(json.dumps(doc, default=str))}
        from botocore.exceptions import ClientError

        try:
            self._call("put_item", _raw=True, TableName=self.table_name, Item=item,
                       ReturnValuesOnConditionCheckFailure="ALL_OLD",
                       **_version_condition(expected_version))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise _unavailable(exc) from exc
            current = exc.response.get("Item") or self._call(
                "get_item", TableName=self.table_name, ConsistentRead=True,
                Key={"PK": item["PK"], "SK": item["SK"]}).get("Item") or {}
            meta = _settings_meta(current)
            raise Conflict(
                f"the company settings were changed by {meta['updated_by'] or 'someone'} at "
                f"{meta['updated_at'] or 'an unknown time'} (version {meta['version']}) "
                "while you edited them; reload and apply your change again",
                current_version=meta["version"], changed_by=meta["updated_by"],
                changed_at=meta["updated_at"]) from exc
        return expected_version + 1

    # ---- users -----------------------------------------------------------------------
    def get_user(self, company_id: int, subject: str) -> User | None:
        answer = self._call("get_item", TableName=self.table_name, Key={
            "PK": _s(f"COMPANY#{company_id}"), "SK": _s(f"USER#{subject}")})
        raw = answer.get("Item")
        return _user(company_id, subject, raw["doc"]["S"]) if raw else None

    def put_user(self, user: User, *, updated_by: str = "", updated_at: str = "") -> None:
        doc = {"name": user.name, "erp_level": user.erp_level.label,
               "can_push_to_accounting": user.can_push_to_accounting,
               "tool_levels": {k: Level(v).label for k, v in user.tool_levels.items()},
               "privileges": sorted(user.privileges),
               "updated_by": updated_by, "updated_at": updated_at}
        self._call("put_item", TableName=self.table_name, Item={
            "PK": _s(f"COMPANY#{user.company_id}"), "SK": _s(f"USER#{user.subject}"),
            "doc": _s(json.dumps(doc))})

    def list_users(self, company_id: int) -> list[User]:
        users: list[User] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :user)",
            "ExpressionAttributeValues": {":pk": _s(f"COMPANY#{company_id}"),
                                          ":user": _s("USER#")}}
        while True:
            answer = self._call("query", **kwargs)
            users += [_user(company_id, r["SK"]["S"].removeprefix("USER#"), r["doc"]["S"])
                      for r in answer["Items"]]
            if "LastEvaluatedKey" not in answer:
                return users
            kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

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

    # ---- relay agent heartbeats ---------------------------------------------------------
    def put_heartbeat(self, company_id: int, agent_id: str, doc: dict[str, Any]) -> None:
        """Keep the newest heartbeat per agent (an older one arriving late is ignored)."""
        from botocore.exceptions import ClientError

        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={"PK": _s(f"AGENT#{company_id}"), "SK": _s(f"HEARTBEAT#{agent_id}"),
                      "at": _s(doc["at"]), "doc": _s(json.dumps(doc))},
                ConditionExpression="attribute_not_exists(PK) OR #at < :at",
                ExpressionAttributeNames={"#at": "at"},
                ExpressionAttributeValues={":at": _s(doc["at"])})
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise _unavailable(exc) from exc

    def latest_heartbeat(self, company_id: int) -> dict[str, Any] | None:
        answer = self._call("query", TableName=self.table_name,
                            KeyConditionExpression="PK = :pk AND begins_with(SK, :hb)",
                            ExpressionAttributeValues={":pk": _s(f"AGENT#{company_id}"),
                                                       ":hb": _s("HEARTBEAT#")})
        beats = [json.loads(r["doc"]["S"]) for r in answer["Items"]]
        return max(beats, key=lambda b: b["at"]) if beats else None

    def ping(self) -> None:
        self._call("describe_table", TableName=self.table_name)

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

    # ---- the reconciliation poll -------------------------------------------------------
    def get_reconcile_cursor(self, company_id: int) -> str | None:
        """Procore ``updated_at`` up to which the poll has read (``YYYY-MM-DDTHH:MM:SSZ``)."""
        answer = self._call("get_item", TableName=self.table_name, ConsistentRead=True, Key={
            "PK": _s(f"CURSOR#{company_id}"), "SK": _s("RECONCILE")})
        raw = answer.get("Item")
        return raw["cursor"]["S"] if raw else None

    def put_reconcile_cursor(self, company_id: int, cursor: str, *,
                             previous: str | None) -> bool:
        """Move the cursor from ``previous`` (the value the poll read) to ``cursor``.

        Conditional on the table still holding ``previous``: a poll that overlapped another
        and finished last never overwrites what the other wrote. False when nothing was
        written (someone moved it meanwhile; the next poll starts from there: harmless).
        """
        condition: dict[str, Any]
        if previous is None:
            condition = {"ConditionExpression": "attribute_not_exists(PK)"}
        else:
            condition = {"ConditionExpression": "#cursor = :previous",
                         "ExpressionAttributeNames": {"#cursor": "cursor"},
                         "ExpressionAttributeValues": {":previous": _s(previous)}}
        try:
            self._call("put_item", _conditional=True, TableName=self.table_name, Item={
                "PK": _s(f"CURSOR#{company_id}"), "SK": _s("RECONCILE"),
                "cursor": _s(cursor)}, **condition)
        except StaleItem:
            return False
        return True

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


def _link_keys(link: Link) -> tuple[str, str]:
    return (f"LINK#{link.company_id}#{link.kind}#procore#{link.procore_id}",
            f"LINK#{link.company_id}#{link.kind}#sage#{link.sage_key}")


def _link_list_key(link: Link) -> dict[str, Any]:
    return {"PK": _s(f"LINKS#{link.company_id}#{link.kind}"), "SK": _s(str(link.procore_id))}

ERP_KEYS = {"jobs": ("job",), "vendors": ("vendor",), "cost_codes": ("code",),
            "cost_types": ("type",), "phases": ("job", "phase")}


def erp_key(list_name: str, row: dict[str, Any]) -> str:
    """A pulled row's key: the Sage record number (job#phase for phases)."""
    return "#".join(str(row[field]) for field in ERP_KEYS[list_name])


def _user(company_id: int, subject: str, doc: str) -> User:
    data = json.loads(doc)
    return User(
        subject=subject, company_id=company_id, name=data.get("name"),
        erp_level=Level.parse(data.get("erp_level", "none")),
        can_push_to_accounting=bool(data.get("can_push_to_accounting")),
        tool_levels={k: Level.parse(v) for k, v in data.get("tool_levels", {}).items()},
        privileges=frozenset(data.get("privileges", [])),
    )


def _version(raw: dict[str, Any]) -> int:
    return int(raw["version"]["N"]) if "version" in raw else 0


def _version_condition(expected_version: int) -> dict[str, Any]:
    """Write only over the version read. 0 also matches a record written before it had a
    version (``attribute_not_exists(version)``), so existing records need no migration."""
    if expected_version == 0:
        return {"ConditionExpression": "attribute_not_exists(version)"}
    return {"ConditionExpression": "version = :expected",
            "ExpressionAttributeValues": {":expected": _n(expected_version)}}


def _settings_meta(raw: dict[str, Any]) -> dict[str, Any]:
    return {"version": _version(raw),
            "updated_by": raw.get("updated_by", {}).get("S", ""),
            "updated_at": raw.get("updated_at", {}).get("S", "")}


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
