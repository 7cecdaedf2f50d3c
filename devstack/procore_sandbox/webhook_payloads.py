"""Webhook payloads: the payload Procore would send, per payload version.

Payloads follow Procore's documented shapes (the reference is
``procore-spec/docs/webhook_payloads.json``: the v2.0/v3.0/v4.0 examples and the v4.0 JSON
schema). v2.0/v3.0: ``id`` a 64-bit integer (Procore's are 19 digits, e.g.
5982324300946918154), ``ulid`` a 26-character ULID, integer ids, ``api_version``. v4.0:
exactly the schema's keys (no ``api_version``, no ``metadata``), ``id`` a ULID, every id a
string; a company-level event (Company Vendors) carries ``project_id: ""``: the schema
requires a string, and the empty string is the only one naming no project.

Delivery (queues, pause, backoff, discard) is ``webhook_delivery``; configuration and the
control endpoints are ``webhooks``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from devstack.procore_sandbox.state import Actor

WEB_APPLICATION_ID = "procore-web"
WEB_USER_ID = 10001
PAYLOAD_VERSIONS = ("v2.0", "v3.0", "v4.0")
#: Company-level resources: their v4.0 events carry ``project_id: ""``.
_NO_PROJECT_V4 = ""
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_INT64_MAX = 2**63 - 1
_ID_SEQUENCE_BITS = 22  # v2/v3 event ids: milliseconds << 22 | sequence, 19 digits


@dataclass(frozen=True)
class _Outgoing:
    payload: dict[str, Any]
    url: str
    authorization: str | None

    @property
    def event_id(self) -> str:
        return str(self.payload["id"])


def new_ulid(now: float | None = None) -> str:
    """A 26-character ULID (48-bit millisecond time + 80 random bits, Crockford base32)."""
    millis = int((time.time() if now is None else now) * 1000)
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def _now_iso_micro() -> str:
    return _iso(time.time())


def _iso(epoch: float) -> str:
    return (
        datetime.fromtimestamp(epoch, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    )


class WebhookPayloadsMixin:
    """The payloads of ``ProcoreSandbox``'s webhooks (part of ``WebhooksMixin``)."""

    # set by ProcoreSandbox.__init__ (through _init_webhooks and set_webhook)
    company_id: int
    events: list[dict[str, Any]]
    _last_event_id: int
    _webhook_url: str | None
    _webhook_authorization: str | None
    _payload_version: str

    # --- payloads ---------------------------------------------------------------------------
    def _event(
        self,
        action: str,
        resource_name: str,
        resource_id: int,
        project_id: int | None,
        actor: Actor,
        out: list[_Outgoing],
        related: list[dict[str, Any]] | None = None,
    ) -> None:
        """Build the payload Procore would send now; queue it for delivery after the lock.

        Called under the state lock. ``project_id`` is None for company-level resources
        (Company Vendors): ``null`` in v2.0/v3.0, ``""`` in v4.0.
        """
        now = time.time()
        timestamp = _iso(now)
        version = self._payload_version
        payload: dict[str, Any]
        if version == "v4.0":
            # Exactly the keys of Procore's v4.0 JSON schema (payload_formats_2025).
            payload = {
                "id": new_ulid(now),
                "timestamp": timestamp,
                "reason": action,
                "company_id": str(self.company_id),
                "project_id": _NO_PROJECT_V4 if project_id is None else str(project_id),
                "user_id": str(actor.user_id),
                "resource_type": resource_name,
                "resource_id": str(resource_id),
            }
        else:
            payload = {
                "id": self._next_event_id(now),
                "ulid": new_ulid(now),
                "timestamp": timestamp,
                "metadata": {
                    "source_user_id": actor.user_id,
                    "source_project_id": project_id,
                    "source_operation_id": None,
                    "source_company_id": self.company_id,
                    "source_application_id": actor.application_id,
                },
                "user_id": actor.user_id,
                "company_id": self.company_id,
                "project_id": project_id,
                "api_version": version,
                "event_type": action,
                "resource_name": resource_name,
                "resource_id": resource_id,
            }
            if version == "v3.0":
                payload["related_resources"] = list(related or [])
        self.events.append(payload)
        if self._webhook_url is not None:
            out.append(_Outgoing(payload, self._webhook_url, self._webhook_authorization))

    def _next_event_id(self, now: float) -> int:
        """A v2/v3 event id in Procore's range: 19-digit int64, increasing (under the lock)."""
        candidate = int(now * 1000) << _ID_SEQUENCE_BITS
        self._last_event_id = min(max(candidate, self._last_event_id + 1), _INT64_MAX)
        return self._last_event_id
