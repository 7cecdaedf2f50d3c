"""The connector table's records beside the items (key layout: ``store``'s docstring).

Lists pulled from Sage and their pull state, line items' commitments, company settings,
users, relay agent heartbeats and the reconciliation poll's cursor. ``ItemStore``
inherits these; the plumbing they share is in ``store_base``.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.adapters.store_base import StaleItem, TableAdapter, _n, _s, _unavailable
from chalicelib.domain.permissions import Level, User
from chalicelib.errors import Conflict

# Kept beside the settings document (record attributes), returned with it on reads and
# never written into it: a reader may hand back what it read.
SETTINGS_META = ("version", "updated_by", "updated_at")


class TableRecords(TableAdapter):
    """Reads and writes of the records other than items, audit events and links."""

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

    def get_erp_row(self, company_id: int, list_name: str, key: str) -> dict[str, Any] | None:
        answer = self._call("get_item", TableName=self.table_name, Key={
            "PK": _s(f"ERP#{company_id}#{list_name}"), "SK": _s(key)})
        raw = answer.get("Item")
        return json.loads(raw["doc"]["S"]) if raw else None

    def list_erp_rows(self, company_id: int, list_name: str, *,
                      key_prefix: str | None = None) -> list[dict[str, Any]]:
        """The list's rows; ``key_prefix`` narrows to keys starting with it (one job's
        budget lines: ``"24001#"``)."""
        rows: list[dict[str, Any]] = []
        values = {":pk": _s(f"ERP#{company_id}#{list_name}")}
        condition = "PK = :pk"
        if key_prefix:
            condition += " AND begins_with(SK, :prefix)"
            values[":prefix"] = _s(key_prefix)
        kwargs: dict[str, Any] = {"TableName": self.table_name,
                                  "KeyConditionExpression": condition,
                                  "ExpressionAttributeValues": values}
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

    # ---- budget imports from Sage (one record per project, versioned) -------------------
    def get_budget_import(self, company_id: int, project_id: int) -> dict[str, Any]:
        """The project's budget import, with its ``version`` (0: never asked for)."""
        answer = self._call("get_item", TableName=self.table_name, ConsistentRead=True, Key={
            "PK": _s(f"IMPORT#{company_id}"), "SK": _s(f"budget#{project_id}")})
        raw = answer.get("Item")
        return {**json.loads(raw["doc"]["S"]), "version": _version(raw)} if raw else {
            "version": 0}

    def put_budget_import(self, company_id: int, project_id: int, doc: dict[str, Any], *,
                          expected_version: int) -> int:
        """Write over the version read (StaleItem when it changed meanwhile)."""
        body = {k: v for k, v in doc.items() if k != "version"}
        self._call("put_item", _conditional=True, TableName=self.table_name, Item={
            "PK": _s(f"IMPORT#{company_id}"), "SK": _s(f"budget#{project_id}"),
            "version": _n(expected_version + 1), "doc": _s(json.dumps(body, default=str))},
            **_version_condition(expected_version))
        return expected_version + 1

    def list_budget_imports(self, company_id: int) -> list[dict[str, Any]]:
        answer = self._call("query", TableName=self.table_name, ConsistentRead=True,
                            KeyConditionExpression="PK = :pk AND begins_with(SK, :sk)",
                            ExpressionAttributeValues={":pk": _s(f"IMPORT#{company_id}"),
                                                       ":sk": _s("budget#")})
        return [{**json.loads(r["doc"]["S"]), "version": _version(r)} for r in answer["Items"]]

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
               "email": user.email, "notify": user.notify,
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

    def add_user_change(self, company_id: int, change: dict[str, Any]) -> None:
        """One change of a user's levels, kept for the audit (never overwritten)."""
        import uuid

        self._call("put_item", TableName=self.table_name, Item={
            "PK": _s(f"USERAUDIT#{company_id}"),
            "SK": _s(f"AT#{change['at']}#{uuid.uuid4().hex[:8]}"),
            "doc": _s(json.dumps(change))}, ConditionExpression="attribute_not_exists(SK)")

    def list_user_changes(self, company_id: int) -> list[dict[str, Any]]:
        changes: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name, "KeyConditionExpression": "PK = :pk",
            "ExpressionAttributeValues": {":pk": _s(f"USERAUDIT#{company_id}")},
            "ScanIndexForward": False}
        while True:
            answer = self._call("query", **kwargs)
            changes += [json.loads(r["doc"]["S"]) for r in answer["Items"]]
            if "LastEvaluatedKey" not in answer:
                return changes
            kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

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


ERP_KEYS = {"jobs": ("job",), "vendors": ("vendor",), "cost_codes": ("code",),
            "cost_types": ("type",), "phases": ("job", "phase"),
            "budgets": ("job", "phase", "cost_code"), "payments": ("payment",),
            "commitments": ("job", "sage_key"), "receipts": ("receipt",),
            "receivables": ("job", "sage_key")}


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
        email=data.get("email"), notify=data.get("notify") or "off",
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
