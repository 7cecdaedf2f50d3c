"""Records the connector keeps: items awaiting or past acceptance, audit events, links."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.state_machine import Status

SYSTEM_INTAKE = "system:intake"
SYSTEM_EXPORTER = "system:exporter"
SYSTEM_DIRECT_EXPORT = "system:direct-export"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_utc(text: str) -> datetime:
    """An ISO 8601 time as the connector and Procore write them ("...Z"); naive is UTC."""
    moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def seconds_between(start: str, end: str) -> float:
    return (parse_utc(end) - parse_utc(start)).total_seconds()


def content_hash(snapshot: dict[str, Any]) -> str:
    """A stable digest of a snapshot: the same Procore content gives the same hash."""
    canonical = json.dumps(snapshot, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def make_item_id(kind: str, procore_id: int) -> str:
    return f"{kind}-{procore_id}"


def parse_item_id(item_id: str) -> tuple[str, int]:
    """``commitment-123`` -> ("commitment", 123); ValueError when it is not of that form."""
    kind, _, number = item_id.rpartition("-")
    if not kind or not number.isdigit():
        raise ValueError(f"item id {item_id!r} is not of the form <kind>-<procore id>")
    return kind, int(number)


class ExportRecord(BaseModel):
    """One acceptance, fixed when it was made: what exports and under which command id.

    The exporter and the results consumer match on this record, never on the item's
    current version: a change seen after acceptance bumps the version but not the export.
    The command id is known (and stored) before any command is sent, so every result
    finds the export it belongs to.
    """

    version: int  # the item version the acceptance wrote
    command_id: str
    operation: Literal["add", "modify"] = "add"  # modify: the Sage record exists (synced)
    snapshot_version: int
    snapshot_hash: str
    accepted_at: str
    accepted_by: str
    redrives: int = 0  # how often the sweeper re-drove it (bounded by a setting)
    last_redrive_at: str | None = None


class Item(BaseModel):
    """One Procore record on its way to Sage, with the snapshot an approver sees."""

    model_config = ConfigDict(use_enum_values=False)

    company_id: int
    kind: str
    procore_id: int
    project_id: int | None = None
    subtype: str | None = None  # commitments: "subcontract" | "purchase_order"
    status: Status
    version: int = 0  # bumped by every transition; the audit trail has one event each
    snapshot: dict[str, Any] = Field(default_factory=dict)
    snapshot_hash: str = ""
    snapshot_version: int = 0  # bumped whenever the content that would export changes
    reasons: list[str] = Field(default_factory=list)  # why it is not ready, in plain words
    # A change seen after acceptance: kept apart so the accepted snapshot is what exports.
    pending_snapshot: dict[str, Any] | None = None
    pending_hash: str | None = None
    accepted_snapshot_version: int | None = None
    accept_params: dict[str, Any] = Field(default_factory=dict)  # e.g. the Sage job number
    export_enqueued: bool = False
    deleted_in_procore: bool = False
    erp_keys: dict[str, Any] = Field(default_factory=dict)
    last_error: dict[str, Any] | None = None
    command_id: str | None = None  # the relay command of the current export
    export: ExportRecord | None = None  # the current (or last) acceptance
    # What Sage holds since the last sync: later changes are compared with it.
    synced_snapshot: dict[str, Any] | None = None
    synced_hash: str | None = None
    # Procore's updated_at of the content held: a read older than this is never applied.
    source_updated_at: str | None = None
    pending_updated_at: str | None = None
    # A synced record changed in Procore in a way Sage takes only through another record
    # (line amounts -> a change order): what differs, kept for the accountant.
    drift: dict[str, Any] | None = None
    exporting_since: str | None = None
    writeback_error: str | None = None  # Procore refused the origin id write-back
    status_reason: str | None = None  # why it is in its status (a rejection's reason, ...)
    status_by: str | None = None  # who moved it there
    # Who last put it before the approvers (a person's send or resend, or the connector's
    # intake when a webhook showed it ready) and when: the inbox's "sent by".
    sent_by: str | None = None
    sent_at: str | None = None
    title: str = ""
    number: str = ""
    created_at: str = ""
    updated_at: str = ""

    @property
    def item_id(self) -> str:
        return make_item_id(self.kind, self.procore_id)

    def public(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data["id"] = self.item_id
        return data


class AuditEvent(BaseModel):
    item_id: str
    version: int
    at: str
    actor: str
    action: str
    from_status: str
    to_status: str
    reason: str | None = None
    snapshot_version: int = 0
    correlation_id: str | None = None


class Link(BaseModel):
    """A Procore record joined to its Sage 100 Contractor record (both directions stored)."""

    company_id: int
    kind: Literal["project", "vendor", "commitment", "sub_job", "budget", "cco",
                  "subcontractor_invoice", "cost_code", "prime_contract", "pcco",
                  "owner_invoice"]
    # budget: which system the budget was created in ("procore": exported, "sage": imported)
    origin: Literal["procore", "sage"] | None = None
    procore_id: int
    sage_key: str  # actrec.recnum for jobs, actpay.recnum for vendors
    created_at: str = ""
    created_by: str = ""
