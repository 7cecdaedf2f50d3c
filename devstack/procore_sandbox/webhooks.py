"""Webhooks: the payload Procore would send, per payload version, and its delivery.

A write builds its payloads under the state lock (``_event``) and they are POSTed after the
lock is released (``_deliver``): in the calling thread (``sync``) or by one delivery thread
(``async``). Each event is POSTed once, to a loopback URL only; the outcome is recorded in
``deliveries``. ``/_sandbox/deliveries``, ``/_sandbox/events`` and ``/_sandbox/webhook``
show and change this over HTTP.
"""

from __future__ import annotations

import contextlib
import copy
import http.client
import json
import logging
import os
import queue
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

from devstack.procore_sandbox.state import (
    LOOPBACK_HOSTS,
    Actor,
    Route,
    SandboxError,
    SandboxState,
    _json_body,
    _Request,
    _Response,
)

logger = logging.getLogger(__package__)  # one logger for the whole sandbox

WEB_APPLICATION_ID = "procore-web"
WEB_USER_ID = 10001
PAYLOAD_VERSIONS = ("v2.0", "v3.0", "v4.0")
DELIVERY_MODES = ("sync", "async")
WEBHOOK_TIMEOUT = 5.0  # Procore gives a receiver 5 s
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@dataclass(frozen=True)
class _Outgoing:
    payload: dict[str, Any]
    url: str
    authorization: str | None


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
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _check_loopback_url(url: str) -> str:
    """Webhooks may only go to loopback: the sandbox must never reach beyond the machine."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.hostname not in LOOPBACK_HOSTS:
        raise ValueError(f"webhook URL must be http(s) on a loopback host, got {url!r}")
    return url


class WebhooksMixin:
    """Webhook configuration, payloads and delivery of ``ProcoreSandbox``."""

    CONTROL_ROUTES: ClassVar[tuple[Route, ...]] = (
        ("GET", r"/_sandbox/deliveries", "_c_deliveries", False),
        ("GET", r"/_sandbox/events", "_c_events", False),
        ("POST", r"/_sandbox/webhook", "_c_webhook", False),
    )

    # set by ProcoreSandbox.__init__
    state: SandboxState
    company_id: int
    events: list[dict[str, Any]]
    deliveries: list[dict[str, Any]]
    _deliveries_cond: threading.Condition
    _event_ids: Iterator[int]
    _webhook_url: str | None
    _webhook_authorization: str | None
    _payload_version: str
    _delivery_mode: str
    _queue: queue.Queue[_Outgoing | None]
    _worker: threading.Thread | None
    _opener: urllib.request.OpenerDirector

    def set_webhook(
        self,
        url: str | None,
        authorization: str | None = None,
        payload_version: str | None = None,
        delivery: str | None = None,
    ) -> None:
        """Point webhooks somewhere (loopback only) or turn them off with ``url=None``."""
        if url is not None:
            _check_loopback_url(url)
        if payload_version is not None and payload_version not in PAYLOAD_VERSIONS:
            raise ValueError(f"payload_version must be one of {PAYLOAD_VERSIONS}")
        if delivery is not None and delivery not in DELIVERY_MODES:
            raise ValueError(f"webhook_delivery must be one of {DELIVERY_MODES}")
        with self.state.lock:
            self._webhook_url = url
            self._webhook_authorization = authorization
            if payload_version is not None:
                self._payload_version = payload_version
            if delivery is not None:
                self._delivery_mode = delivery

    def wait_for_deliveries(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Block until ``count`` deliveries are recorded (async mode); returns a copy."""
        deadline = time.monotonic() + timeout
        with self._deliveries_cond:
            while len(self.deliveries) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"{len(self.deliveries)} of {count} webhook deliveries after {timeout}s"
                    )
                self._deliveries_cond.wait(left)
            return list(self.deliveries)

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

        ``project_id`` is None for company-level resources (Company Vendors).
        """
        now = time.time()
        timestamp = _now_iso_micro()
        version = self._payload_version
        payload: dict[str, Any]
        if version == "v4.0":
            payload = {
                "id": new_ulid(now),
                "timestamp": timestamp,
                "reason": action,
                "company_id": str(self.company_id),
                "project_id": None if project_id is None else str(project_id),
                "user_id": str(actor.user_id),
                "resource_type": resource_name,
                "resource_id": str(resource_id),
                "api_version": "v4.0",
            }
        else:
            payload = {
                "id": next(self._event_ids),
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

    def _deliver(self, events: list[_Outgoing]) -> None:
        if not events:
            return
        if self._delivery_mode == "sync":
            for event in events:
                self._post_webhook(event)
            return
        with self.state.lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(
                    target=self._delivery_loop, name="procore-sandbox-webhooks", daemon=True
                )
                self._worker.start()
        for event in events:
            self._queue.put(event)

    def _delivery_loop(self) -> None:
        while True:
            event = self._queue.get()
            if event is None:
                return
            self._post_webhook(event)

    def _post_webhook(self, event: _Outgoing) -> None:
        """POST one payload; any failure is recorded, never raised (the server keeps going)."""
        headers = {"Content-Type": "application/json", "User-Agent": "ProcoreSandbox-Webhooks"}
        if event.authorization is not None:
            headers["Authorization"] = event.authorization
        request = urllib.request.Request(
            event.url, data=json.dumps(event.payload).encode(), headers=headers, method="POST"
        )
        record: dict[str, Any] = {
            "url": event.url,
            "payload": event.payload,
            "status": None,
            "error": None,
            "authorization_sent": event.authorization is not None,
            "delivered_at": _now_iso_micro(),
        }
        started = time.monotonic()
        try:
            with self._opener.open(request, timeout=WEBHOOK_TIMEOUT) as response:
                record["status"] = response.status
        except urllib.error.HTTPError as exc:
            record["status"] = exc.code
            record["error"] = f"HTTP {exc.code}"
            with contextlib.suppress(Exception):
                exc.close()
        except (OSError, http.client.HTTPException) as exc:
            record["error"] = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # a delivery must never kill the server
            logger.exception("webhook delivery crashed")
            record["error"] = f"{type(exc).__name__}: {exc}"
        record["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
        if record["error"]:
            logger.warning("webhook delivery to %s failed: %s", event.url, record["error"])
        with self._deliveries_cond:
            self.deliveries.append(record)
            self._deliveries_cond.notify_all()

    # --- control endpoints ----------------------------------------------------------------
    def _c_deliveries(self, req: _Request, _: re.Match[str]) -> _Response:
        with self._deliveries_cond:
            return _Response(200, copy.deepcopy(self.deliveries))

    def _c_events(self, req: _Request, _: re.Match[str]) -> _Response:
        return _Response(200, copy.deepcopy(self.events))

    def _c_webhook(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        try:
            self.set_webhook(
                body.get("url"),
                body.get("authorization"),
                body.get("payload_version"),
                body.get("delivery"),
            )
        except ValueError as exc:
            raise SandboxError(422, {"webhook": [str(exc)]}) from None
        return _Response(
            200,
            {
                "url": self._webhook_url,
                "payload_version": self._payload_version,
                "delivery": self._delivery_mode,
            },
        )
