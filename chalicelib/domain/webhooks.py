"""Parse Procore webhook payloads (v2.0, v3.0, v4.0) into one typed ``WebhookEvent``.

Pure: no I/O. Procore's payload is only a notification ("resource X changed"); the caller
GETs the resource itself. Each payload version has its own pydantic model because the
versions disagree on types (v2/v3 send integer ids, v4 sends strings of digits) and on
names (``event_type``/``resource_name`` vs ``reason``/``resource_type``). Every parse
failure becomes ``BadRequest`` whose message names the offending field, so the webhook
route can answer 400 without guessing.

Unknown extra keys are ignored on purpose: Procore says v4.0 may grow a ``data`` object
and treats additions as non-breaking.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError

from chalicelib.errors import BadRequest

PayloadVersion = Literal["v2.0", "v3.0", "v4.0"]
SUPPORTED_VERSIONS: tuple[str, ...] = ("v2.0", "v3.0", "v4.0")
#: Short names Procore also sends (its hooks API and older deliveries say "v2").
VERSION_ALIASES: Mapping[str, PayloadVersion] = {"v2": "v2.0", "v3": "v3.0"}

# --- resource names the connector cares about (identical in v2.0/v3.0; assumed for v4.0) --
WORK_ORDER_CONTRACTS = "Work Order Contracts"
PURCHASE_ORDER_CONTRACTS = "Purchase Order Contracts"
WORK_ORDER_CONTRACT_LINE_ITEMS = "Work Order Contract Line Items"
PURCHASE_ORDER_CONTRACT_LINE_ITEMS = "Purchase Order Contract Line Items"
PROJECTS = "Projects"

CommitmentKind = Literal["work_order_contract", "purchase_order_contract"]

#: commitment resource name -> commitment kind
COMMITMENT_RESOURCES: Mapping[str, CommitmentKind] = {
    WORK_ORDER_CONTRACTS: "work_order_contract",
    PURCHASE_ORDER_CONTRACTS: "purchase_order_contract",
}
#: line item resource name -> resource name of its parent commitment
COMMITMENT_LINE_ITEM_PARENTS: Mapping[str, str] = {
    WORK_ORDER_CONTRACT_LINE_ITEMS: WORK_ORDER_CONTRACTS,
    PURCHASE_ORDER_CONTRACT_LINE_ITEMS: PURCHASE_ORDER_CONTRACTS,
}
COMMITMENT_RESOURCE_NAMES: frozenset[str] = frozenset(
    (*COMMITMENT_RESOURCES, *COMMITMENT_LINE_ITEM_PARENTS)
)

# Procore's budget resources (webhook resource names); each event names its project, and
# the project's whole budget is read again (one budget item per project).
BUDGET_RESOURCES = frozenset({"Budget Line Items", "Budget Modifications", "Budget Changes",
                              "Budget Change Adjustments",
                              "Budget Change Adjustment Line Items"})

# SQS FIFO MessageGroupId: at most 128 chars, alphanumerics and punctuation, no spaces.
_GROUP_KEY_MAX = 128
_SLUG_RE = re.compile(r"[^a-z0-9]+")

# v4.0 ids: strings of digits; 19 digits covers int64 and keeps int() cheap.
_DIGITS_PATTERN = r"^[0-9]{1,19}$"
_V4_DIGIT_FIELDS = frozenset({"company_id", "project_id", "user_id", "resource_id"})

#: Procore ids are int64 ("store IDs as int64"); the bound also keeps group keys short.
ProcoreId = Annotated[int, Field(ge=0, le=2**63 - 1)]


# --- public event model ----------------------------------------------------------------
class RelatedResource(BaseModel):
    """A parent named by Procore (v3.0 ``related_resources``), e.g. a line item's commitment."""

    model_config = ConfigDict(frozen=True)

    id: ProcoreId
    name: str


class WebhookEvent(BaseModel):
    """One Procore webhook event, normalised across payload versions."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: str = Field(min_length=1)
    delivery_id: str | None = None
    payload_version: PayloadVersion
    company_id: ProcoreId
    project_id: ProcoreId | None = None
    user_id: ProcoreId | None = None
    action: str
    resource_name: str
    resource_id: ProcoreId
    related_resources: tuple[RelatedResource, ...] = ()
    source_application_id: str | None = None
    source_user_id: ProcoreId | None = None
    timestamp: str

    def related(self, name: str) -> RelatedResource | None:
        """First related resource called ``name``; v2.0/v4.0 events never have any."""
        return next((r for r in self.related_resources if r.name == name), None)

    @property
    def group_key(self) -> str:
        """Stable FIFO group naming the resource this event concerns.

        Line items of a commitment are grouped under the commitment when Procore names it,
        so a commitment and its lines are processed in order. The key is safe to use as an
        SQS ``MessageGroupId`` (resource names are slugged: no spaces, at most 128 chars).
        """
        name, ident = self.resource_name, self.resource_id
        if name in BUDGET_RESOURCES and self.project_id is not None:
            # One budget per project: its events run in order, one at a time.
            return f"{self.company_id}:budget:{self.project_id}"
        parent_name = COMMITMENT_LINE_ITEM_PARENTS.get(name)
        if parent_name is not None:
            parent = self.related(parent_name)
            if parent is not None:
                name, ident = parent_name, parent.id
        slug = _SLUG_RE.sub("_", name.lower()).strip("_") or "resource"
        key = f"{self.company_id}:{slug}:{ident}"
        if len(key) > _GROUP_KEY_MAX:
            digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]
            key = f"{self.company_id}:{slug[:64]}~{digest}:{ident}"
        return key

    def is_from_application(self, app_id: str | None) -> bool:
        """True when our own application caused the event (skip it to avoid sync loops)."""
        return bool(app_id) and self.source_application_id == app_id


class CommitmentRef(BaseModel):
    """Which commitment an event touches.

    ``commitment_id`` is None for a line item event whose payload does not name its parent
    (v2.0, v4.0, or v3.0 with empty ``related_resources``): Procore line item ids do not
    reveal their commitment, so the caller must resolve the parent (e.g. from its own
    mapping of line items, or by listing the project's commitments) before syncing.
    """

    model_config = ConfigDict(frozen=True)

    kind: CommitmentKind
    commitment_id: int | None
    line_item_id: int | None = None
    project_id: int | None = None


# A commitment change order is a Change Order Package (procore-api.md, webhooks).
CCO_RESOURCES = frozenset({"Change Order Packages"})


def cco_target(event: WebhookEvent) -> tuple[int, int] | None:
    """(project, CCO id) of a change order package event; None for anything else."""
    if event.resource_name in CCO_RESOURCES and event.project_id is not None:
        return event.project_id, event.resource_id
    return None


# Procore names no webhook for requisitions; the reconciliation poll queues these itself.
INVOICE_RESOURCES = frozenset({"Requisitions"})


def invoice_target(event: WebhookEvent) -> tuple[int, int] | None:
    """(project, requisition id) of a subcontractor invoice event; None otherwise."""
    if event.resource_name in INVOICE_RESOURCES and event.project_id is not None:
        return event.project_id, event.resource_id
    return None


def budget_target(event: WebhookEvent) -> int | None:
    """The project whose budget a budget event touches (None: not a budget event)."""
    if event.resource_name in BUDGET_RESOURCES:
        return event.project_id
    return None


def commitment_target(event: WebhookEvent) -> CommitmentRef | None:
    """Map a commitment or commitment line item event to its commitment; else None."""
    kind = COMMITMENT_RESOURCES.get(event.resource_name)
    if kind is not None:
        return CommitmentRef(
            kind=kind, commitment_id=event.resource_id, project_id=event.project_id
        )
    parent_name = COMMITMENT_LINE_ITEM_PARENTS.get(event.resource_name)
    if parent_name is None:
        return None
    parent = event.related(parent_name)
    return CommitmentRef(
        kind=COMMITMENT_RESOURCES[parent_name],
        commitment_id=parent.id if parent is not None else None,
        line_item_id=event.resource_id,
        project_id=event.project_id,
    )


# --- per-version wire models -------------------------------------------------------------
_Digits = Annotated[str, StringConstraints(pattern=_DIGITS_PATTERN)]
_NonEmpty = Annotated[str, StringConstraints(min_length=1)]


class _Wire(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class _MetadataV2(_Wire):
    """Procore documents these as integers or null; the application id is an opaque id."""

    source_user_id: ProcoreId | None = None
    source_project_id: ProcoreId | None = None
    source_company_id: ProcoreId | None = None
    source_operation_id: Any = None
    source_application_id: Any = None

    @field_validator("source_application_id")
    @classmethod
    def _app_id_is_scalar(cls, value: object) -> object:
        """Accept a string or integer id (type unconfirmed); reject anything else."""
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        raise PydanticCustomError("string_type", "Input should be a valid string")


class _RelatedV3(_Wire):
    id: ProcoreId
    name: str


class _PayloadV2(_Wire):
    id: ProcoreId
    ulid: _NonEmpty
    timestamp: str
    company_id: ProcoreId
    project_id: ProcoreId | None = None
    user_id: ProcoreId | None = None
    event_type: _NonEmpty
    resource_name: _NonEmpty
    resource_id: ProcoreId
    metadata: _MetadataV2 | None = None

    def to_event(self, version: PayloadVersion) -> WebhookEvent:
        meta = self.metadata or _MetadataV2()
        return WebhookEvent(
            event_id=self.ulid,
            delivery_id=str(self.id),
            payload_version=version,
            company_id=self.company_id,
            project_id=self.project_id,
            user_id=self.user_id,
            action=self.event_type,
            resource_name=self.resource_name,
            resource_id=self.resource_id,
            related_resources=self._related(),
            source_application_id=meta.source_application_id,
            source_user_id=meta.source_user_id,
            timestamp=self.timestamp,
        )

    def _related(self) -> tuple[RelatedResource, ...]:
        return ()


class _PayloadV3(_PayloadV2):
    related_resources: list[_RelatedV3] | None = None

    def _related(self) -> tuple[RelatedResource, ...]:
        return tuple(RelatedResource(id=r.id, name=r.name) for r in self.related_resources or ())


class _PayloadV4(_Wire):
    id: _NonEmpty
    timestamp: str
    reason: _NonEmpty
    company_id: _Digits
    project_id: _Digits | None = None
    user_id: _Digits | None = None
    resource_type: _NonEmpty
    resource_id: _Digits

    @field_validator("project_id", "user_id", mode="before")
    @classmethod
    def _blank_is_absent(cls, value: object) -> object:
        """Company-level events may carry an empty project/user id; treat it as absent."""
        return None if value == "" else value

    def to_event(self, version: PayloadVersion) -> WebhookEvent:
        return WebhookEvent(
            event_id=self.id,
            delivery_id=None,
            payload_version=version,
            company_id=int(self.company_id),
            project_id=_opt_int(self.project_id),
            user_id=_opt_int(self.user_id),
            action=self.reason,
            resource_name=self.resource_type,
            resource_id=int(self.resource_id),
            timestamp=self.timestamp,
        )


_MODELS: dict[str, type[_PayloadV2] | type[_PayloadV4]] = {
    "v2.0": _PayloadV2,
    "v3.0": _PayloadV3,
    "v4.0": _PayloadV4,
}


# --- parsing -----------------------------------------------------------------------------
def parse_webhook(body: bytes | str) -> WebhookEvent:
    """Parse a raw webhook request body; raise ``BadRequest`` naming what is wrong."""
    data = _load_json_object(body)
    version = _detect_version(data)
    model = _MODELS[version]
    try:
        # to_event validates too: a v4.0 digit string can still overflow int64.
        return model.model_validate(data).to_event(version)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise _bad_request(exc, payload_version=version) from None


def to_message(event: WebhookEvent) -> dict[str, Any]:
    """JSON-safe dict of the event, for an SQS message body."""
    return event.model_dump(mode="json")


def from_message(message: Mapping[str, Any]) -> WebhookEvent:
    """Rebuild an event from ``to_message`` output; a damaged message gives ``BadRequest``."""
    if not isinstance(message, Mapping):
        raise BadRequest("webhook message must be a JSON object")
    try:
        return WebhookEvent.model_validate(dict(message))
    except ValidationError as exc:
        raise _bad_request(exc) from None


def _load_json_object(body: bytes | str) -> dict[str, Any]:
    """Decode the body as strict JSON (no NaN/Infinity) and require an object."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes | bytearray) else body
        data = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, TypeError, RecursionError) as exc:
        # ValueError covers JSONDecodeError, UnicodeDecodeError and huge-int limits.
        raise BadRequest("body is not valid JSON", reason=type(exc).__name__) from None
    if not isinstance(data, dict):
        raise BadRequest(
            f"body is not valid JSON for a webhook: expected an object, got {_json_kind(data)}",
        )
    return data


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return "a boolean" if isinstance(value, bool) else "a number"


def _reject_constant(name: str) -> float:
    raise ValueError(f"non-standard JSON constant {name}")


def _finite_float(text: str) -> float:
    """Reject numbers like 1e999 that overflow to infinity (not representable back)."""
    value = float(text)
    if math.isinf(value):
        raise ValueError("number out of range")
    return value


def _detect_version(data: Mapping[str, Any]) -> PayloadVersion:
    """Read ``api_version``; infer v4.0 only from its unmistakable field names."""
    raw = data.get("api_version", data.get("payload_version"))
    if raw is None:
        if "resource_type" in data and "reason" in data:
            return "v4.0"
        raise BadRequest(
            "field 'api_version' is required (payload version not recognisable)",
            field="api_version",
        )
    if not isinstance(raw, str):
        raise BadRequest("field 'api_version' must be a string", field="api_version")
    raw = VERSION_ALIASES.get(raw, raw)
    if raw not in SUPPORTED_VERSIONS:
        shown = raw if len(raw) <= 20 else raw[:20] + "..."
        raise BadRequest(
            f"unsupported payload version '{shown}' (expected one of "
            f"{', '.join(SUPPORTED_VERSIONS)}, or {', '.join(VERSION_ALIASES)})",
            field="api_version",
        )
    return raw  # type: ignore[return-value]


def _bad_request(exc: ValidationError, **details: object) -> BadRequest:
    """Turn pydantic's first error into a message naming the field path."""
    err = exc.errors(include_url=False, include_input=False)[0]
    loc = err.get("loc", ())
    path = _format_loc(loc)
    kind = err.get("type", "")
    last = loc[-1] if loc else ""
    if kind == "missing":
        problem = "is required"
    elif kind in ("greater_than_equal", "less_than_equal"):
        problem = "is out of range (0 to 2**63-1)"
    elif details.get("payload_version") == "v4.0" and last in _V4_DIGIT_FIELDS:
        problem = "must be a string of digits"
    elif kind.startswith("int_"):
        problem = "must be an integer"
    elif kind == "string_too_short":
        problem = "must not be empty"
    elif kind.startswith("string_"):
        problem = "must be a string"
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        problem = "must be an object"
    elif kind in ("list_type", "tuple_type"):
        problem = "must be a list"
    elif kind == "literal_error":
        problem = "has an unsupported value"
    else:
        problem = f"is invalid ({err.get('msg', kind)})"
    return BadRequest(f"field '{path}' {problem}", field=path, **details)


def _format_loc(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(f".{item}" if parts else str(item))
    return "".join(parts) or "body"


def _opt_int(value: str | None) -> int | None:
    return None if value is None else int(value)
