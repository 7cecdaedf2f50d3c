"""`make run`'s terminal: one short human line per connector event.

The connector logs JSON (powertools); the local stack sends those logs to files under
.devstack/logs/ and shows only what a person follows on the terminal. The lines come from
the structured fields of a small, explicit set of the connector's log records (never from
parsing their text):

    message "queued" (services/receiver.py)               -> webhook queued
    message "item transition", to_status ready_to_export  -> item ready
    message "item transition", action accept              -> accepted
    message "item transition", to_status rejected         -> rejected
    message "export synced" (services/results.py)         -> in Sage
    message "item transition", to_status failed           -> failed

Anything else gives no line. ``describe`` and ``line`` are pure; ``fields_of`` turns a
LogRecord of the connector's powertools Logger into the same fields its JSON line holds;
``ConsoleHandler`` hands the lines of in-process records to a sink.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

WIDTH = 16  # the event column: "webhook queued" and two spaces

# Sage record kinds of an origin id ("pchord:4") in plain words.
SAGE_RECORDS = {"subcon": "subcontract", "pchord": "PO", "actrec": "job", "actpay": "vendor",
                "acpinv": "invoice", "prmchg": "change order", "bdglin": "budget",
                "budget": "budget of job"}

# A LogRecord's own attributes; the rest are the keys the connector logged with it.
_RECORD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime"}


def describe(fields: Mapping[str, Any]) -> tuple[str, str] | None:
    """(event, detail) for a known connector log record's fields; None for any other."""
    message = fields.get("message")
    if message == "queued" and fields.get("resource"):
        detail = f"{fields['resource']} {fields.get('resource_id', '?')}"
        if fields.get("action"):
            detail += f" ({fields['action']})"
        if fields.get("project_id"):
            detail += f" project {fields['project_id']}"
        return "webhook queued", detail
    if message == "export synced":
        record = sage_record(fields.get("sage_key"), fields.get("sage_keys"))
        return "in Sage", f"{_item(fields)} as {record}"
    if message != "item transition":
        return None
    to_status, action = fields.get("to_status"), fields.get("action")
    if action == "accept" or to_status == "accepted":
        return "accepted", f"{_item(fields)} by {fields.get('actor') or '?'}"
    if to_status == "ready_to_export":
        return "item ready", _item(fields)
    if to_status == "rejected":
        return "rejected", _with_reason(fields)
    if to_status == "failed":
        return "failed", _with_reason(fields)
    return None


def line(fields: Mapping[str, Any], at: datetime) -> str | None:
    """The terminal line of a known record (``19:52:03  item ready     commitment-1020
    PO-7``), None for any other."""
    described = describe(fields)
    if described is None:
        return None
    event, detail = described
    return f"{at:%H:%M:%S}  {event:<{WIDTH}}{detail}"


def sage_record(origin_id: Any, keys: Any = None) -> str:
    """``pchord:4`` -> ``PO 4``; a bare origin id named by the Sage keys that hold it
    (``2668863`` with ``{"actrec": "2668863"}`` -> ``job 2668863``); else as it is."""
    text = str(origin_id or "?")
    kind, _, rest = text.partition(":")
    if kind in SAGE_RECORDS and rest:
        return f"{SAGE_RECORDS[kind]} {rest}"
    if isinstance(keys, dict):
        for key, value in keys.items():
            if key in SAGE_RECORDS and str(value) == text:
                return f"{SAGE_RECORDS[key]} {text}"
    return text


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    """What the record's JSON line would hold of it: the message and the logged keys."""
    fields = {k: v for k, v in vars(record).items() if k not in _RECORD_ATTRIBUTES}
    fields["message"] = record.getMessage()
    return fields


def _item(fields: Mapping[str, Any]) -> str:
    item = str(fields.get("item_id") or "?")
    number = str(fields.get("number") or "")
    if number.isdigit():  # a CCO's or an invoice's number in Procore: "001", "1"
        number = f"#{number}"
    return f"{item} {number}" if number else item


def _with_reason(fields: Mapping[str, Any]) -> str:
    reason = fields.get("reason")
    return f"{_item(fields)}: {reason}" if reason else _item(fields)


class ConsoleHandler(logging.Handler):
    """Attached to the connector's logger in the stack's process: each known record's line
    goes to ``sink`` (the terminal); a sink that fails never breaks the handler's caller."""

    def __init__(self, sink: Callable[[str], None],
                 clock: Callable[[], datetime] = datetime.now) -> None:
        super().__init__(logging.INFO)
        self.sink = sink
        self.clock = clock

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = line(fields_of(record), self.clock())
            if text is not None:
                self.sink(text)
        except Exception:  # noqa: BLE001 (logging must not raise into the connector's code)
            self.handleError(record)
