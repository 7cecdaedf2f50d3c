"""Webhooks of ``ProcoreSandbox``: configuration, inspection and the control endpoints.

``WebhooksMixin`` joins the two halves: ``webhook_payloads`` (the payload Procore would
send, per payload version) and ``webhook_delivery`` (Procore's delivery policy: a queue per
endpoint, pause, backoff, discard, the delivery thread). This module re-exports their
public names, so ``from devstack.procore_sandbox.webhooks import ...`` works as it did
when they were one module.
"""

from __future__ import annotations

import copy
import re
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, replace
from typing import Any, ClassVar
from urllib.parse import urlsplit

from devstack.procore_sandbox.state import (
    LOOPBACK_HOSTS,
    Route,
    SandboxError,
    SandboxState,
    _json_body,
    _Request,
    _Response,
)
from devstack.procore_sandbox.webhook_delivery import (
    DELIVERY_MODES,
    DISCARD_AFTER,
    RETRY_BASE,
    RETRY_CAP,
    WEBHOOK_TIMEOUT,
    DeliveryPolicy,
    WebhookDeliveryMixin,
    _Hook,
    webhook_opener,
)
from devstack.procore_sandbox.webhook_payloads import (
    PAYLOAD_VERSIONS,
    WEB_APPLICATION_ID,
    WEB_USER_ID,
    WebhookPayloadsMixin,
    _iso,
    new_ulid,
)

__all__ = [
    "DELIVERY_MODES",
    "DISCARD_AFTER",
    "PAYLOAD_VERSIONS",
    "RETRY_BASE",
    "RETRY_CAP",
    "WEBHOOK_TIMEOUT",
    "WEB_APPLICATION_ID",
    "WEB_USER_ID",
    "DeliveryPolicy",
    "WebhooksMixin",
    "new_ulid",
    "webhook_opener",
]


def _check_loopback_url(url: str) -> str:
    """Webhooks may only go to loopback: the sandbox must never reach beyond the machine."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.hostname not in LOOPBACK_HOSTS:
        raise ValueError(f"webhook URL must be http(s) on a loopback host, got {url!r}")
    return url


class WebhooksMixin(WebhookPayloadsMixin, WebhookDeliveryMixin):
    """Webhook configuration, payloads and delivery of ``ProcoreSandbox``."""

    CONTROL_ROUTES: ClassVar[tuple[Route, ...]] = (
        ("GET", r"/_sandbox/deliveries", "_c_deliveries", False),
        ("GET", r"/_sandbox/events", "_c_events", False),
        ("GET", r"/_sandbox/discarded", "_c_discarded", False),
        ("GET", r"/_sandbox/webhook", "_c_webhook_state", False),
        ("POST", r"/_sandbox/webhook", "_c_webhook", False),
        ("POST", r"/_sandbox/webhook/resume", "_c_webhook_resume", False),
    )

    # set by ProcoreSandbox.__init__ (through _init_webhooks and set_webhook)
    state: SandboxState
    company_id: int
    events: list[dict[str, Any]]
    deliveries: list[dict[str, Any]]
    discarded: list[dict[str, Any]]
    _deliveries_cond: threading.Condition
    _last_event_id: int
    _webhook_url: str | None
    _webhook_authorization: str | None
    _payload_version: str
    _delivery_mode: str
    _policy: DeliveryPolicy
    _hooks: dict[str, _Hook]
    _worker: threading.Thread | None
    _stopping: bool
    _stop_deadline: float
    _opener: urllib.request.OpenerDirector

    def _init_webhooks(self, policy: DeliveryPolicy) -> None:
        """Delivery state of a new sandbox (called once, from ``ProcoreSandbox.__init__``)."""
        self.events = []
        self.deliveries = []
        self.discarded = []
        self._deliveries_cond = threading.Condition()  # guards deliveries, discarded, hooks
        self._last_event_id = 0
        self._webhook_url = None
        self._webhook_authorization = None
        self._payload_version = "v2.0"
        self._delivery_mode = "sync"
        self._policy = policy
        self._hooks = {}
        self._worker = None
        self._stopping = False
        self._stop_deadline = 0.0
        self._opener = webhook_opener()

    # --- configuration --------------------------------------------------------------------
    def set_webhook(
        self,
        url: str | None,
        authorization: str | None = None,
        payload_version: str | None = None,
        delivery: str | None = None,
    ) -> None:
        """Point webhooks somewhere (loopback only) or turn them off with ``url=None``.

        Events already queued for another URL keep their endpoint (and its retries).
        """
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
        with self._deliveries_cond:
            self._deliveries_cond.notify_all()

    def set_delivery_policy(
        self,
        *,
        delivery_timeout: float | None = None,
        retry_base: float | None = None,
        retry_cap: float | None = None,
        discard_after: float | None = None,
    ) -> DeliveryPolicy:
        """Change the policy's knobs (seconds); ``None`` keeps one. Returns the new policy.

        The timeout and backoff apply from the next attempt; a shorter ``discard_after``
        applies at once to endpoints already failing (their horizon is recomputed).
        """
        changes = {
            name: float(value)
            for name, value in (
                ("delivery_timeout", delivery_timeout),
                ("retry_base", retry_base),
                ("retry_cap", retry_cap),
                ("discard_after", discard_after),
            )
            if value is not None
        }
        with self._deliveries_cond:
            self._policy = replace(self._policy, **changes)
            self._deliveries_cond.notify_all()
            return self._policy

    @property
    def delivery_policy(self) -> DeliveryPolicy:
        return self._policy

    # --- inspection and control -----------------------------------------------------------
    def delivery_state(self) -> dict[str, Any]:
        """Per endpoint: paused?, failures in a row, next attempt, horizon, queue, attempts."""
        with self._deliveries_cond:
            now, wall = time.monotonic(), time.time()

            def at(moment: float | None) -> str | None:
                return None if moment is None else _iso(wall + moment - now)

            hooks = []
            for hook in self._hooks.values():
                hooks.append(
                    {
                        "url": hook.url,
                        "paused": hook.paused,
                        "failures": hook.failures,
                        "last_error": hook.last_error,
                        "failing_since": at(hook.failing_since),
                        "next_attempt_at": at(hook.next_attempt_at),
                        "next_attempt_in": None
                        if hook.next_attempt_at is None
                        else round(max(0.0, hook.next_attempt_at - now), 3),
                        "discard_at": at(hook.horizon(self._policy)),
                        "sending": hook.sending,
                        "queued": len(hook.queue),
                        "queue": [
                            {
                                "event_id": p.event.event_id,
                                "resource": _resource_of(p.event.payload),
                                "queued_at": p.queued_wall,
                                "waiting": round(now - p.queued_at, 3),
                                "attempts": p.attempts,
                            }
                            for p in hook.queue
                        ],
                    }
                )
            attempts: dict[str, int] = {}
            for record in self.deliveries:
                attempts[record["event_id"]] = max(
                    attempts.get(record["event_id"], 0), record["attempt"]
                )
            return {
                "url": self._webhook_url,
                "payload_version": self._payload_version,
                "delivery": self._delivery_mode,
                "policy": asdict(self._policy),
                "paused": any(h.paused for h in self._hooks.values()),
                "queued": sum(len(h.queue) for h in self._hooks.values()),
                "discarded": len(self.discarded),
                "hooks": hooks,
                "attempts": attempts,
            }

    def resume_deliveries(self) -> dict[str, Any]:
        """Retry every paused endpoint now (the counters reset only if the retry succeeds).

        ``sync`` mode: the retries and the queue behind them are POSTed in the calling
        thread before this returns; ``async``: the delivery thread is woken. Returns
        ``delivery_state()``.
        """
        with self._deliveries_cond:
            now = time.monotonic()
            resumed = [h for h in self._hooks.values() if h.paused and h.queue]
            for hook in resumed:
                hook.next_attempt_at = now
            self._deliveries_cond.notify_all()
            sync = self._delivery_mode == "sync"
        if sync:
            for hook in resumed:
                self._drain(hook, until=lambda h: not h.queue)
        else:
            self._ensure_worker()
        return self.delivery_state()

    def wait_for_deliveries(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Block until ``count`` attempts are recorded; returns a copy of ``deliveries``."""
        self._wait_for(
            lambda: len(self.deliveries) >= count,
            timeout,
            lambda: f"{len(self.deliveries)} of {count} webhook deliveries",
        )
        with self._deliveries_cond:
            return list(self.deliveries)

    def wait_for_discarded(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Block until ``count`` events are discarded; returns a copy of ``discarded``."""
        self._wait_for(
            lambda: len(self.discarded) >= count,
            timeout,
            lambda: f"{len(self.discarded)} of {count} discarded webhooks",
        )
        with self._deliveries_cond:
            return list(self.discarded)

    def wait_until_idle(self, timeout: float = 5.0) -> None:
        """Block until no event is queued or in flight (delivered or discarded)."""
        self._wait_for(
            lambda: not any(h.queue or h.sending for h in self._hooks.values()),
            timeout,
            lambda: f"webhooks still queued: {sum(len(h.queue) for h in self._hooks.values())}",
        )

    def _wait_for(
        self, done: Callable[[], bool], timeout: float, progress: Callable[[], str]
    ) -> None:
        deadline = time.monotonic() + timeout
        with self._deliveries_cond:
            while not done():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{progress()} after {timeout}s")
                self._deliveries_cond.wait(min(left, 0.25))

    # --- control endpoints ----------------------------------------------------------------
    def _c_deliveries(self, req: _Request, _: re.Match[str]) -> _Response:
        with self._deliveries_cond:
            return _Response(200, copy.deepcopy(self.deliveries))

    def _c_events(self, req: _Request, _: re.Match[str]) -> _Response:
        return _Response(200, copy.deepcopy(self.events))

    def _c_discarded(self, req: _Request, _: re.Match[str]) -> _Response:
        with self._deliveries_cond:
            return _Response(200, copy.deepcopy(self.discarded))

    def _c_webhook_state(self, req: _Request, _: re.Match[str]) -> _Response:
        return _Response(200, self.delivery_state())

    def _c_webhook_resume(self, req: _Request, _: re.Match[str]) -> _Response:
        # Under the state lock (every control handler is): in sync mode the retries would
        # POST while holding it, so they are left to the delivery thread here.
        with self._deliveries_cond:
            now = time.monotonic()
            for hook in self._hooks.values():
                if hook.paused and hook.queue:
                    hook.next_attempt_at = now
            self._deliveries_cond.notify_all()
        self._ensure_worker()
        return _Response(202, self.delivery_state())

    def _c_webhook(self, req: _Request, _: re.Match[str]) -> _Response:
        """``{"url", "authorization", "payload_version", "delivery"}`` and the policy's knobs
        (``delivery_timeout``, ``retry_base``, ``retry_cap``, ``discard_after``), each
        optional. With ``url`` (``null`` turns webhooks off) the authorization is replaced
        too; without it, the URL and authorization stay as they are."""
        body = _json_body(req)
        try:
            url, authorization = self._webhook_url, self._webhook_authorization
            if "url" in body:
                url, authorization = body["url"], body.get("authorization")
            self.set_webhook(url, authorization, body.get("payload_version"), body.get("delivery"))
            self.set_delivery_policy(
                **{k: body[k] for k in asdict(self._policy) if body.get(k) is not None}
            )
        except (TypeError, ValueError) as exc:
            raise SandboxError(422, {"webhook": [str(exc)]}) from None
        return _Response(
            200,
            {
                "url": self._webhook_url,
                "payload_version": self._payload_version,
                "delivery": self._delivery_mode,
                "policy": asdict(self._policy),
            },
        )


def _resource_of(payload: dict[str, Any]) -> str:
    name = payload.get("resource_name", payload.get("resource_type"))
    return f"{name} {payload.get('resource_id')} {payload.get('event_type', payload.get('reason'))}"
