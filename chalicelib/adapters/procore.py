"""Procore REST client: OAuth client credentials, rate-limit pacing, bounded retries.

Standard library HTTP only (``urllib.request``): no ``requests`` import keeps the Lambda
cold start low. The HTTP call itself goes through an injectable ``transport`` so tests can
wrap or replace it; the default ``UrllibTransport`` talks real HTTP.

Split by concern: the transport, typed errors and answer parsing live in
``chalicelib.adapters.procore_http``; company setup and domain helpers in
``chalicelib.adapters.procore_resources`` (``ProcoreResources``, a base class of
``ProcoreClient``). Their public names are re-exported here. This module keeps the
OAuth token provider and the client: verbs, sync, the retry loop and pacing.

Error mapping (the one place Procore answers become domain errors):

* 2xx/3xx -> parsed JSON (``None`` for an empty body).
* 401 -> drop the cached token and retry once; a second 401 -> ``ProcoreAuthError``.
* 404 -> ``UpstreamNotFound``; 409 -> ``ProcoreConflict`` (retriable later, not here).
* 429 -> sleep until ``X-Rate-Limit-Reset`` (+ jitter), retry.
* 503 with ``Retry-After`` -> sleep that long, retry.
* other 5xx and connection errors -> exponential backoff with full jitter, retry.
* other 4xx -> ``FatalUpstreamError`` carrying Procore's (truncated) error body.

Retries are bounded by ``max_attempts``; running out raises ``RetriableUpstreamError``
(``ProcoreRateLimited`` when the last answer was a 429) so the queue can redrive later.

POST is not idempotent in Procore (a retried create makes a second commitment), so a
POST is retried only when Procore certainly did not act on it: 429, 503 with Retry-After,
or a refused connection. A POST that got a 5xx or lost its connection mid-flight raises
``RetriableUpstreamError`` at once and the caller reconciles (e.g. by ``origin_id``).

PATCH (including Procore's ``/sync`` endpoints) is retried like GET on 5xx and lost
connections. A sync sets ``origin_id``/``origin_code``/``origin_data`` to given values and
matches on ``id`` (else ``origin_id``), so sending it twice leaves the same state as once:
the second pass finds the values already there (no "has already been taken", since the
holder is the record itself, and no second webhook since nothing changes). Even a sync
that creates (unknown ``origin_id``) is safe to resend: the resend matches the record the
first attempt made by that ``origin_id``. A POST create has no such key, hence the split.

Company setup (``chalicelib.adapters.procore_resources``) follows the same split:
creates POST and are never resent after a 5xx or a lost connection; updates PATCH and
syncs are retried.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aws_lambda_powertools import Logger

from chalicelib import deadline
from chalicelib.adapters.procore_budgets import ProcoreBudgets
from chalicelib.adapters.procore_changes import ProcoreChangeOrders
from chalicelib.adapters.procore_http import (
    ProcoreAuthError,
    ProcoreConflict,
    ProcoreConnectionError,
    ProcoreRateLimited,
    Transport,
    UrllibTransport,
    _decode,
    _error_details,
    _header_int,
    _query_items,
    _request_not_sent,
    _retry_after_seconds,
    _truncate,
)
from chalicelib.adapters.procore_resources import (
    COMMITMENT_PATHS,
    TAX_ID_TYPES,
    CommitmentKind,
    ProcoreResources,
)
from chalicelib.errors import (
    FatalUpstreamError,
    RetriableUpstreamError,
    UpstreamNotFound,
)

logger = Logger(service="connector", child=True)

Clock = Callable[[], float]
Sleep = Callable[[float], None]

_RATE_LIMIT_JITTER = 0.25  # seconds added after Reset so we do not arrive exactly on it
_MAX_PAGES = 10_000  # a runaway-pagination guard, far above any real list
_CALL_MARGIN = 3.0  # seconds kept free at the invocation's end (write what was read)
SYNC_CHUNK = 1000  # Procore refuses a sync call with more updates (422, whole request)

__all__ = [
    "COMMITMENT_PATHS",
    "SYNC_CHUNK",
    "TAX_ID_TYPES",
    "Clock",
    "CommitmentKind",
    "ProcoreAuthError",
    "ProcoreClient",
    "ProcoreConflict",
    "ProcoreConnectionError",
    "ProcoreRateLimited",
    "ProcoreResources",
    "ProcoreTokenProvider",
    "RateLimit",
    "Sleep",
    "SyncOutcome",
    "Transport",
    "UrllibTransport",
]


# --- OAuth ---------------------------------------------------------------------------
class ProcoreTokenProvider:
    """Client-credentials tokens, cached until shortly before they expire.

    Expiry is measured on our own clock from just before the token request (not from
    Procore's ``created_at``), so clock skew between us and Procore cannot keep a stale
    token alive. Thread-safe: one fetch at a time, other threads wait and reuse it.
    Neither the secret nor the token is ever logged or shown in ``repr``.
    """

    def __init__(
        self,
        auth_url: str,
        client_id: str,
        client_secret: str,
        *,
        transport: Transport | None = None,
        clock: Clock = time.time,
        timeout: float = 10.0,
        refresh_margin: float = 60.0,
    ) -> None:
        self._token_url = auth_url.rstrip("/") + "/oauth/token"
        self.client_id = client_id
        self._client_secret = client_secret
        self._transport: Transport = transport or UrllibTransport()
        self._clock = clock
        self._timeout = timeout
        self._refresh_margin = refresh_margin
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0
        self.calls_made = 0

    def __repr__(self) -> str:
        return f"ProcoreTokenProvider(url={self._token_url!r}, client_id={self.client_id!r})"

    def token(self) -> str:
        """A valid access token, fetching a new one when the cached one is about to expire."""
        with self._lock:
            if self._token is not None and self._clock() < self._refresh_at:
                return self._token
            return self._fetch()

    def invalidate(self) -> None:
        """Forget the cached token (Procore answered 401: it was revoked or expired early)."""
        with self._lock:
            self._token = None
            self._refresh_at = 0.0

    def _fetch(self) -> str:
        started = self._clock()
        form = urllib.parse.urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self._client_secret,
            }
        ).encode("ascii")
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        self.calls_made += 1
        try:
            status, _, body = self._transport("POST", self._token_url, headers, form, self._timeout)
        except ProcoreConnectionError:
            raise
        except (OSError, http.client.HTTPException) as exc:
            raise ProcoreConnectionError(
                f"Could not reach the Procore token endpoint ({type(exc).__name__})",
                request_sent=not _request_not_sent(exc),
            ) from exc
        if status in (400, 401, 403):
            raise ProcoreAuthError(
                "Procore rejected the client credentials",
                status=status,
                client_id=self.client_id,
            )
        if status == 429 or status >= 500:
            raise RetriableUpstreamError("Procore token endpoint unavailable", status=status)
        if status >= 300:
            raise FatalUpstreamError("Procore token request failed", status=status)
        try:
            payload = json.loads(body)
            token = str(payload["access_token"])
            expires_in = float(payload.get("expires_in") or 0)
        except (ValueError, KeyError, TypeError) as exc:
            raise FatalUpstreamError("Procore token answer is not understood") from exc
        self._token = token
        self._refresh_at = started + expires_in - self._refresh_margin
        logger.info("procore token fetched", client_id=self.client_id, expires_in=expires_in)
        return token


# --- client ----------------------------------------------------------------------------
def json_number(value: Any) -> float:
    """A Decimal as the JSON number Procore's schemas ask for, with exactly its digits.

    Python writes a float as the shortest text that reads back as the same float, so any
    decimal of at most 15 significant digits (every Sage amount: 12 digits and 2 places)
    goes out as exactly itself. One that would not is refused rather than rounded.
    """
    if isinstance(value, Decimal):
        number = float(value)
        if Decimal(repr(number)) != value:
            raise ValueError(f"{value} cannot be sent to Procore as an exact JSON number")
        return number
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


@dataclass(frozen=True)
class SyncOutcome:
    """Procore's answer to a sync, merged over chunks.

    ``entities``: records as they are after the sync. ``errors``: one per refused update,
    the update as sent plus ``"errors": {field: [message]}``. A sync answers HTTP 200
    even when some (or all) updates were refused: check ``errors``.
    """

    entities: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class RateLimit:
    """Procore's last reported quota: whichever of the hourly/spike limits is nearer."""

    limit: int | None
    remaining: int | None
    reset: float | None


class ProcoreClient(ProcoreResources, ProcoreBudgets, ProcoreChangeOrders):
    """Procore REST v1.0 client for one company.

    Sends ``Authorization``, ``Procore-Company-Id`` and ``Accept`` on every call. Paces
    itself from the rate-limit headers: when ``X-Rate-Limit-Remaining`` drops to
    ``low_remaining_threshold`` it waits for ``X-Rate-Limit-Reset`` (at most ``max_wait``)
    before the next call instead of running into 429s. ``calls_made`` counts API calls
    sent (token requests are counted by the token provider).
    """

    def __init__(
        self,
        base_url: str,
        token_provider: ProcoreTokenProvider,
        company_id: int,
        *,
        transport: Transport | None = None,
        sleep: Sleep = time.sleep,
        clock: Clock = time.time,
        rng: Callable[[], float] = random.random,
        max_attempts: int = 5,
        low_remaining_threshold: int = 5,
        timeout: float = 10.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 20.0,
        max_wait: float = 60.0,
        time_left: Callable[[], float | None] = deadline.remaining,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._base_url = base_url.rstrip("/")
        self._tokens = token_provider
        self.company_id = int(company_id)
        self._transport: Transport = transport or UrllibTransport()
        self._sleep = sleep
        self._clock = clock
        self._rng = rng
        self._max_attempts = max_attempts
        self._low_remaining = low_remaining_threshold
        self._timeout = timeout
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._max_wait = max_wait
        self._time_left = time_left
        self._lock = threading.Lock()
        self._slow_until = 0.0
        self.rate_limit = RateLimit(None, None, None)
        self.calls_made = 0

    # --- generic verbs -----------------------------------------------------------------
    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET one resource or one page; returns parsed JSON."""
        _, _, body = self._call("GET", path, params=params)
        return _decode(body, "GET", path)

    def get_all(
        self, path: str, params: Mapping[str, Any] | None = None, per_page: int = 100
    ) -> list[Any]:
        """Every item of a v1.0 list, walking ``page``/``per_page``.

        Stops at the ``Total`` header when Procore sends it, else at the first short page.
        A server that ignores ``page`` (same first item twice) raises instead of looping.
        """
        items: list[Any] = []
        previous_first: object = None
        for page in range(1, _MAX_PAGES + 1):
            query = dict(params or {})
            query.update(page=page, per_page=per_page)
            _, headers, body = self._call("GET", path, params=query)
            chunk = _decode(body, "GET", path)
            if not isinstance(chunk, list):
                raise FatalUpstreamError(
                    f"Procore GET {path} did not answer a list", path=path, page=page
                )
            if not chunk:
                return items
            first = json.dumps(chunk[0], sort_keys=True, default=str)
            if page > 1 and first == previous_first:
                raise FatalUpstreamError(
                    f"Procore GET {path} repeated page {page - 1}; pagination ignored",
                    path=path,
                    page=page,
                )
            previous_first = first
            items.extend(chunk)
            total = _header_int(headers, "total")
            if total is not None and len(items) >= total:
                return items
            if len(chunk) < per_page:
                return items
        raise FatalUpstreamError(f"Procore GET {path} has more than {_MAX_PAGES} pages")

    def post(self, path: str, json_body: Any, params: Mapping[str, Any] | None = None) -> Any:
        """POST a JSON body; see the module docstring for when a POST is retried."""
        _, _, body = self._call("POST", path, params=params, json_body=json_body)
        return _decode(body, "POST", path)

    def patch(self, path: str, json_body: Any, params: Mapping[str, Any] | None = None) -> Any:
        """PATCH a JSON body (idempotent in Procore: safe to retry)."""
        _, _, body = self._call("PATCH", path, params=params, json_body=json_body)
        return _decode(body, "PATCH", path)

    def delete(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """DELETE a resource; ``None`` for Procore's empty answer (documented 200, no body)."""
        _, _, body = self._call("DELETE", path, params=params)
        return _decode(body, "DELETE", path)

    def sync(
        self,
        path: str,
        updates: Sequence[Mapping[str, Any]],
        *,
        scope: Mapping[str, Any],
        params: Mapping[str, Any] | None = None,
    ) -> SyncOutcome:
        """PATCH ``updates`` to a Procore ``.../sync`` endpoint, ``SYNC_CHUNK`` per call.

        ``scope`` goes into every body next to ``updates`` (``{"project_id": P}`` or
        ``{"company_id": C}``); ``params`` into every query string (Procore documents some
        scopes, e.g. ``project_id`` of a cost code sync, as query parameters). Answers are
        merged in order. Per-update refusals come back in
        ``SyncOutcome.errors``, not as exceptions; a whole-request refusal (4xx) raises
        ``FatalUpstreamError``, retries running out raise ``RetriableUpstreamError``. When a
        later chunk fails, earlier chunks stay applied: resending the whole batch is safe
        (see the module docstring). No updates means no call.
        """
        if not path.rstrip("/").endswith("/sync"):
            raise ValueError(f"not a Procore sync path: {path!r}")
        items = [dict(update) for update in updates]
        entities: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for start in range(0, len(items), SYNC_CHUNK):
            chunk = items[start : start + SYNC_CHUNK]
            answer = self.patch(path, {**scope, "updates": chunk}, params)
            if not isinstance(answer, dict) or not all(
                isinstance(answer.get(key, []), list) for key in ("entities", "errors")
            ):
                raise FatalUpstreamError(
                    f"Procore PATCH {path} answered an unexpected sync shape",
                    path=path,
                    body=_truncate(json.dumps(answer, default=str).encode()),
                )
            entities.extend(answer.get("entities") or [])
            errors.extend(answer.get("errors") or [])
        if errors:
            logger.warning(
                "procore sync refused some updates",
                path=path,
                refused=len(errors),
                applied=len(entities),
            )
        return SyncOutcome(entities, errors)

    # --- the retry loop -----------------------------------------------------------------
    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
    ) -> tuple[int, dict[str, str], bytes]:
        url = self._base_url + path
        if params:
            url += "?" + urllib.parse.urlencode(_query_items(params), doseq=True)
        body = (None if json_body is None
                else json.dumps(json_body, default=json_number).encode("utf-8"))
        post = method == "POST"
        auth_retried = False
        attempt = 0
        last_status: int | None = None
        last_problem = "no answer"
        retry_after: float | None = None
        while True:
            attempt += 1
            self._check_time(method, path, 0.0, last_problem)
            self._wait_for_quota(method, path)
            try:
                token = self._tokens.token()
            except RetriableUpstreamError as exc:
                last_problem = f"token endpoint: {exc.message}"
                delay = self._backoff(attempt)
            else:
                try:
                    status, headers, payload = self._send(method, url, token, body)
                except (ProcoreConnectionError, OSError, http.client.HTTPException) as exc:
                    reason = exc.message if isinstance(exc, ProcoreConnectionError) else exc
                    last_status, last_problem = None, f"connection error: {reason}"
                    if post and not _request_not_sent(exc):
                        last_problem += " (POST not resent: Procore may have acted on it)"
                        break
                    delay = self._backoff(attempt)
                else:
                    if status < 400:
                        return status, headers, payload
                    last_status, last_problem = status, f"HTTP {status}"
                    if status == 401 and not auth_retried:
                        auth_retried = True
                        attempt -= 1  # a stale token is our problem, not an attempt
                        self._tokens.invalidate()
                        continue
                    delay = self._retry_delay(method, path, status, headers, payload, attempt)
                    if delay is None:
                        last_problem += " (POST not resent: Procore may have acted on it)"
                        break
                    if status == 429:
                        retry_after = delay
            if attempt >= self._max_attempts:
                break
            self._check_time(method, path, delay, last_problem)
            logger.warning(
                "procore call will be retried",
                method=method,
                path=path,
                problem=last_problem,
                attempt=attempt,
                delay=round(delay, 3),
            )
            self._pause(delay)
        error_cls = ProcoreRateLimited if last_status == 429 else RetriableUpstreamError
        raise error_cls(
            f"Procore {method} {path} failed after {attempt} attempt(s); last: {last_problem}",
            method=method,
            path=path,
            status=last_status,
            attempts=attempt,
            retry_after=retry_after,
        )

    def _send(
        self, method: str, url: str, token: str, body: bytes | None
    ) -> tuple[int, dict[str, str], bytes]:
        headers = {
            "Authorization": f"Bearer {token}",
            "Procore-Company-Id": str(self.company_id),
            "Accept": "application/json",
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        with self._lock:
            self.calls_made += 1
        left = self._time_left()
        timeout = self._timeout if left is None else max(1.0, min(self._timeout,
                                                                   left - _CALL_MARGIN))
        status, raw_headers, payload = self._transport(method, url, headers, body, timeout)
        lowered = {str(k).lower(): str(v) for k, v in raw_headers.items()}
        self._observe_rate_limit(lowered, status)
        logger.debug("procore call", method=method, url=url.split("?", 1)[0], status=status)
        return status, lowered, payload

    def _retry_delay(
        self,
        method: str,
        path: str,
        status: int,
        headers: Mapping[str, str],
        payload: bytes,
        attempt: int,
    ) -> float | None:
        """Seconds to wait before retrying ``status``; None = give up now; raises if fatal."""
        if status == 429:
            reset = _header_int(headers, "x-rate-limit-reset")
            if reset is None:
                return self._backoff(attempt)
            wait = max(0.0, reset - self._clock()) + self._rng() * _RATE_LIMIT_JITTER
            return min(wait, self._max_wait)
        if status == 503:
            after = _retry_after_seconds(headers.get("retry-after"), self._clock())
            if after is not None:
                return min(after, self._max_wait)
        if status >= 500:
            return None if method == "POST" else self._backoff(attempt)
        details: dict[str, object] = {
            "method": method,
            "path": path,
            "status": status,
            "body": _truncate(payload),
        }
        errors = _error_details(payload)
        if errors is not None:
            details["errors"] = errors
        if status == 401:
            raise ProcoreAuthError(f"Procore refused our token for {method} {path}", **details)
        if status == 404:
            raise UpstreamNotFound(f"Procore has no {path}", **details)
        if status == 409:
            raise ProcoreConflict(f"Procore {method} {path} conflicted (HTTP 409)", **details)
        raise FatalUpstreamError(
            f"Procore refused {method} {path} (HTTP {status}): {_truncate(payload)[:200]}",
            **details,
        )

    def _check_time(self, method: str, path: str, wait: float, problem: str) -> None:
        """Give up (retriable) when waiting ``wait`` and one more call would outlast the
        invocation: the queue retries the message; a killed function retries nothing."""
        left = self._time_left()
        if left is None or left - wait >= _CALL_MARGIN + 1.0:
            return
        raise RetriableUpstreamError(
            f"Procore {method} {path} not tried again: the invocation has "
            f"{max(left, 0):.1f}s left; last: {problem}",
            method=method, path=path, time_left=round(max(left, 0), 1))

    # --- pacing ---------------------------------------------------------------------------
    def _observe_rate_limit(self, headers: Mapping[str, str], status: int) -> None:
        limit = _header_int(headers, "x-rate-limit-limit")
        remaining = _header_int(headers, "x-rate-limit-remaining")
        reset = _header_int(headers, "x-rate-limit-reset")
        with self._lock:
            if remaining is not None or reset is not None:
                self.rate_limit = RateLimit(limit, remaining, reset)
            # a 429 is waited out by the retry loop itself; do not wait twice
            if status != 429 and remaining is not None and reset is not None:
                if remaining <= self._low_remaining:
                    self._slow_until = float(reset)

    def _wait_for_quota(self, method: str, path: str) -> None:
        """Slow down before Procore says 429: wait for the window reset when nearly empty."""
        with self._lock:
            wait = self._slow_until - self._clock()
            self._slow_until = 0.0
        if wait > 0:
            wait = min(wait, self._max_wait)
            self._check_time(method, path, wait, "Procore's rate limit is nearly used up")
            logger.info(
                "procore quota low; waiting for reset",
                remaining=self.rate_limit.remaining,
                wait=round(wait, 3),
            )
            self._pause(wait)

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2^(n-1))]."""
        ceiling = min(self._backoff_cap, self._backoff_base * 2 ** (attempt - 1))
        return self._rng() * ceiling

    def _pause(self, seconds: float) -> None:
        if seconds > 0:
            self._sleep(seconds)
