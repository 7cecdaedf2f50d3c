"""Records the connector keeps: items awaiting or past acceptance, audit events, links."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.state_machine import Status

ItemKind = Literal["commitment"]  # budget, cco, vendor, project... arrive with later issues
SYSTEM_INTAKE = "system:intake"
SYSTEM_EXPORTER = "system:exporter"
SYSTEM_DIRECT_EXPORT = "system:direct-export"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
    exporting_since: str | None = None
    writeback_error: str | None = None  # Procore refused the origin id write-back
    status_reason: str | None = None  # why it is in its status (a rejection's reason, ...)
    status_by: str | None = None  # who moved it there
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
    kind: Literal["project", "vendor", "commitment", "sub_job"]
    procore_id: int
    sage_key: str  # actrec.recnum for jobs, actpay.recnum for vendors
    created_at: str = ""
    created_by: str = ""
