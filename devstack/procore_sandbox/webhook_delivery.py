"""Webhook delivery: Procore's delivery policy, the per-endpoint queues and the delivery thread.

Delivery, per endpoint (one queue per webhook URL, like Procore's per hook):

* Events are queued in the order they happen and POSTed one at a time, in order.
* A failed attempt (a non-2xx answer, 3xx included; no answer within ``delivery_timeout``;
  a connection refused or reset) pauses **every** delivery to that endpoint. The failed
  event stays at the head and is retried after ``retry_base * 2**(n-1)`` seconds (``n`` =
  failed attempts in a row), capped at ``retry_cap``; no jitter. New events queue behind.
* A successful attempt resets the counters; the queued events follow at once, in order.
* When an endpoint has been failing for ``discard_after`` seconds (since the first failure
  of the streak), its queue is flushed: every queued event is recorded in ``discarded``
  (the payload, why, attempts) and the counters reset, so the next event is tried at once.
* ``resume_deliveries()`` (``POST /_sandbox/webhook/resume``) retries every paused
  endpoint now; only a success resets the counters and the horizon.
* ``delivery_state()`` (``GET /_sandbox/webhook``) shows, per endpoint: paused, failures
  in a row, next attempt, discard horizon, queued events and their attempts.

Modes. ``async``: the request (or helper) only queues; one delivery thread POSTs. ``sync``
(the default, for deterministic tests): the calling thread POSTs its events before it
returns (before the HTTP answer is sent), as long as the endpoint is not paused; the first
failure leaves that event and the ones after it queued, the endpoint paused, and the call
returns. The delivery thread then retries on the backoff schedule and drains the queue,
exactly as in ``async``; a later write to a paused endpoint only queues (order is kept),
unless the retry is already due, in which case the writing thread makes it. So in ``sync``
mode, while the receiver answers 2xx, a write's webhooks have arrived when the write
returns; once it fails, use ``wait_until_idle``/``wait_for_deliveries`` or
``resume_deliveries`` (which, in ``sync`` mode, makes the retries in the calling thread).

Every attempt is recorded in ``deliveries`` (``attempt``, ``ok``, ``status``, ``error``).
``stop()`` ends the delivery thread: it finishes the attempt in flight, POSTs what is
queued for endpoints that are not paused (for at most ``delivery_timeout``), makes no
retries, and is joined; ``reset()`` drops every queue and the delivery state.

Payloads are built in ``webhook_payloads``; configuration, inspection and the control
endpoints are ``webhooks``.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from devstack.procore_sandbox.webhook_payloads import _iso, _now_iso_micro, _Outgoing

logger = logging.getLogger(__package__)  # one logger for the whole sandbox

DELIVERY_MODES = ("sync", "async")
#: Procore's documented delivery policy (webhooks_current, "Retry/backoff").
WEBHOOK_TIMEOUT = 5.0  # a receiver has 5 s to answer
RETRY_BASE = 1.0  # the first retry waits 1 s, then 2, 4, ...
RETRY_CAP = 3600.0  # ... up to 1 h
DISCARD_AFTER = 12 * 3600.0  # after 12 h of retries the queue is flushed


@dataclass(frozen=True)
class DeliveryPolicy:
    """The knobs of Procore's delivery policy; the defaults are Procore's."""

    delivery_timeout: float = WEBHOOK_TIMEOUT
    retry_base: float = RETRY_BASE
    retry_cap: float = RETRY_CAP
    discard_after: float = DISCARD_AFTER

    def __post_init__(self) -> None:
        for name in ("delivery_timeout", "retry_base", "retry_cap", "discard_after"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"{name} must be a number of seconds above 0, got {value!r}")
        if self.retry_cap < self.retry_base:
            raise ValueError("retry_cap must be at least retry_base")

    def backoff(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th failed attempt in a row (1-based)."""
        exponent = min(max(failures, 1) - 1, 62)  # 2**62 s is past any cap
        return float(min(self.retry_base * 2**exponent, self.retry_cap))


@dataclass(eq=False)
class _Pending:
    """One event waiting in an endpoint's queue."""

    event: _Outgoing
    queued_at: float  # time.monotonic()
    queued_wall: str
    attempts: int = 0
    done: bool = False  # delivered, discarded or dropped by reset


@dataclass(eq=False)
class _Hook:
    """One endpoint's queue and its failure streak.

    Timeline of a streak (``b`` = retry_base, ``H`` = discard_after)::

        fail      retry      retry          retry ...            flush (all queued)
        --x---b----x----2b-----x-----4b-------x-- ... -----------|
          |<- failing_since                          failing_since + H ->|
    """

    url: str
    queue: deque[_Pending] = field(default_factory=deque)
    failures: int = 0  # failed attempts in a row
    failing_since: float | None = None  # monotonic time of the streak's first failure
    next_attempt_at: float | None = None  # None: not paused
    last_error: str | None = None
    sending: bool = False  # a thread is POSTing the head right now

    @property
    def paused(self) -> bool:
        return self.next_attempt_at is not None

    def horizon(self, policy: DeliveryPolicy) -> float | None:
        return None if self.failing_since is None else self.failing_since + policy.discard_after

    def sendable(self, now: float, policy: DeliveryPolicy) -> bool:
        """The head may be POSTed now: not paused, or the retry is due (before the horizon)."""
        if self.sending or not self.queue:
            return False
        if self.next_attempt_at is None:
            return True
        horizon = self.horizon(policy)
        return self.next_attempt_at <= now and (horizon is None or now < horizon)

    def reset_streak(self) -> None:
        self.failures = 0
        self.failing_since = None
        self.next_attempt_at = None
        self.last_error = None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A 3xx answer is a failed delivery (Procore: anything but 2xx), never followed."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def webhook_opener() -> urllib.request.OpenerDirector:
    """urllib without proxies (loopback only) and without following redirects."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


class WebhookDeliveryMixin:
    """The delivery of ``ProcoreSandbox``'s webhooks (part of ``WebhooksMixin``)."""

    # set by ProcoreSandbox.__init__ (through _init_webhooks and set_webhook)
    deliveries: list[dict[str, Any]]
    discarded: list[dict[str, Any]]
    _deliveries_cond: threading.Condition
    _delivery_mode: str
    _policy: DeliveryPolicy
    _hooks: dict[str, _Hook]
    _worker: threading.Thread | None
    _stopping: bool
    _stop_deadline: float
    _opener: urllib.request.OpenerDirector

    # --- delivery ---------------------------------------------------------------------------
    def _deliver(self, events: list[_Outgoing]) -> None:
        """Queue events (built under the state lock, which must be released now) and, in
        ``sync`` mode, POST them in this thread unless their endpoint is paused."""
        if not events:
            return
        now, wall = time.monotonic(), _now_iso_micro()
        with self._deliveries_cond:
            mine: list[tuple[_Hook, _Pending]] = []
            for event in events:
                hook = self._hooks.get(event.url)
                if hook is None:
                    hook = self._hooks[event.url] = _Hook(event.url)
                pending = _Pending(event, now, wall)
                hook.queue.append(pending)
                mine.append((hook, pending))
            self._deliveries_cond.notify_all()
            sync = self._delivery_mode == "sync"
        if not sync:
            self._ensure_worker()
            return
        for hook in dict.fromkeys(h for h, _ in mine):
            own = [p for h, p in mine if h is hook]
            self._drain(hook, until=lambda _h, own=own: all(p.done for p in own))

    def _drain(self, hook: _Hook, until: Callable[[_Hook], bool]) -> None:
        """POST the hook's head, one at a time, in this thread, until ``until(hook)`` or the
        hook cannot send (paused and not due, or past its horizon). Waits while another
        thread is sending to the same hook, so events never overtake each other."""
        while True:
            with self._deliveries_cond:
                while True:
                    if self._hooks.get(hook.url) is not hook or until(hook):
                        return
                    if hook.sending:
                        self._deliveries_cond.wait(0.25)
                        continue
                    if not hook.sendable(time.monotonic(), self._policy):
                        return
                    break
                pending = self._claim(hook)
            self._attempt(hook, pending)

    def _claim(self, hook: _Hook) -> _Pending:
        """Mark the hook busy and count an attempt on its head (under the condition)."""
        hook.sending = True
        pending = hook.queue[0]
        pending.attempts += 1
        return pending

    def _attempt(self, hook: _Hook, pending: _Pending) -> None:
        """POST one claimed event and apply the outcome to its hook."""
        record = self._post(pending)
        delay: float | None = None
        with self._deliveries_cond:
            hook.sending = False
            self.deliveries.append(record)
            if self._hooks.get(hook.url) is hook and hook.queue and hook.queue[0] is pending:
                now = time.monotonic()
                if record["ok"]:
                    hook.queue.popleft()
                    pending.done = True
                    hook.reset_streak()
                else:
                    hook.failures += 1
                    if hook.failing_since is None:
                        hook.failing_since = now
                    hook.last_error = record["error"]
                    delay = self._policy.backoff(hook.failures)
                    hook.next_attempt_at = now + delay
            self._deliveries_cond.notify_all()
        if delay is not None:
            logger.warning(
                "webhook delivery to %s failed (%s); deliveries paused, retry in %.3gs",
                hook.url,
                record["error"],
                delay,
            )
            self._ensure_worker()

    def _post(self, pending: _Pending) -> dict[str, Any]:
        """POST one payload; every outcome is recorded, never raised (the server keeps going)."""
        event = pending.event
        headers = {"Content-Type": "application/json", "User-Agent": "ProcoreSandbox-Webhooks"}
        if event.authorization is not None:
            headers["Authorization"] = event.authorization
        request = urllib.request.Request(
            event.url, data=json.dumps(event.payload).encode(), headers=headers, method="POST"
        )
        record: dict[str, Any] = {
            "url": event.url,
            "event_id": event.event_id,
            "attempt": pending.attempts,
            "payload": event.payload,
            "ok": False,
            "status": None,
            "error": None,
            "authorization_sent": event.authorization is not None,
            "delivered_at": _now_iso_micro(),
        }
        started = time.monotonic()
        try:
            with self._opener.open(request, timeout=self._policy.delivery_timeout) as response:
                record["status"] = response.status
                record["ok"] = 200 <= response.status < 300
                if not record["ok"]:
                    record["error"] = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            record["status"] = exc.code
            record["error"] = f"HTTP {exc.code}"
            with contextlib.suppress(Exception):
                exc.close()
        except (OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", None)  # URLError wraps the socket error
            cause = reason if isinstance(reason, BaseException) else exc
            record["error"] = f"{type(cause).__name__}: {cause}"
        except Exception as exc:  # a delivery must never kill the server
            logger.exception("webhook delivery crashed")
            record["error"] = f"{type(exc).__name__}: {exc}"
        record["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
        return record

    def _flush(self, hook: _Hook) -> None:
        """Discard every queued event of a hook past its horizon (under the condition)."""
        now = time.time()
        since = hook.failing_since
        waited = 0.0 if since is None else time.monotonic() - since
        reason = (
            f"not delivered: {hook.url} failing for {waited:.3f}s "
            f"(discard_after {self._policy.discard_after:g}s); last error: {hook.last_error}"
        )
        for pending in hook.queue:
            pending.done = True
            self.discarded.append(
                {
                    "event_id": pending.event.event_id,
                    "url": hook.url,
                    "payload": pending.event.payload,
                    "reason": reason,
                    "attempts": pending.attempts,
                    "queued_at": pending.queued_wall,
                    "discarded_at": _iso(now),
                }
            )
        logger.warning("webhook queue of %s flushed: %d discarded", hook.url, len(hook.queue))
        hook.queue.clear()
        hook.reset_streak()
        self._deliveries_cond.notify_all()

    # --- the delivery thread --------------------------------------------------------------
    def _ensure_worker(self) -> None:
        with self._deliveries_cond:
            if self._stopping:
                return  # stopped: nothing is posted in the background any more
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(
                    target=self._delivery_loop, name="procore-sandbox-webhooks", daemon=True
                )
                self._worker.start()

    def _delivery_loop(self) -> None:
        """Retry paused endpoints when due, drain healthy ones, flush those past the horizon."""
        while True:
            with self._deliveries_cond:
                while True:
                    job, wake = self._next_job(time.monotonic())
                    if job is not None:
                        break
                    if self._stopping:
                        return
                    self._deliveries_cond.wait(None if wake is None else max(wake, 0.001))
                hook = job
                pending = self._claim(hook)
            self._attempt(hook, pending)

    def _next_job(self, now: float) -> tuple[_Hook | None, float | None]:
        """The hook whose head to POST now, or None and how long to sleep (under the
        condition). Flushes hooks past their horizon on the way."""
        policy = self._policy
        wake: float | None = None
        for hook in list(self._hooks.values()):
            if hook.sending or not hook.queue:
                continue
            horizon = hook.horizon(policy)
            if horizon is not None and now >= horizon:
                self._flush(hook)
                continue
            if self._stopping and (hook.paused or now >= self._stop_deadline):
                continue  # stopping: no retries, and no more than the grace period
            if hook.sendable(now, policy):
                return hook, None
            if hook.next_attempt_at is not None:
                due = min(hook.next_attempt_at, horizon if horizon is not None else float("inf"))
                wake = due - now if wake is None else min(wake, due - now)
        return None, wake

    def _start_deliveries(self) -> None:
        """Allow the delivery thread again (``start()`` after a ``stop()``)."""
        with self._deliveries_cond:
            self._stopping = False
            waiting = any(h.queue for h in self._hooks.values())
        if waiting:
            self._ensure_worker()

    def _stop_deliveries(self) -> None:
        """End the delivery thread: no retries; at most ``delivery_timeout`` of queued POSTs
        to healthy endpoints; then join it."""
        with self._deliveries_cond:
            self._stopping = True
            self._stop_deadline = time.monotonic() + self._policy.delivery_timeout
            worker, self._worker = self._worker, None
            self._deliveries_cond.notify_all()
        if worker is not None:
            worker.join(timeout=2 * self._policy.delivery_timeout + 1)
            if worker.is_alive():
                logger.warning("webhook delivery thread did not stop in time")

    def _reset_deliveries(self) -> None:
        """Forget deliveries, discards and every queue (``reset()``)."""
        with self._deliveries_cond:
            for hook in self._hooks.values():
                for pending in hook.queue:
                    pending.done = True
            self._hooks.clear()
            self.deliveries.clear()
            self.discarded.clear()
            self._deliveries_cond.notify_all()
