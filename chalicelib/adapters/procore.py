"""Procore REST client: OAuth client credentials, rate-limit pacing, bounded retries.

Standard library HTTP only (``urllib.request``): no ``requests`` import keeps the Lambda
cold start low. The HTTP call itself goes through an injectable ``transport`` so tests can
wrap or replace it; the default ``UrllibTransport`` talks real HTTP.

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

Company setup (projects, directory vendors and their tax id, sub jobs, cost codes,
standard cost codes, cost types) follows the same split: ``create_*`` and
``set_vendor_tax_id`` POST (never resent after a 5xx or a lost connection: look the record
up by ``origin_id`` before creating again, with ``find_projects``, ``find_vendors`` or
``find_sub_jobs``), ``update_*`` PATCH and ``sync_*`` are retried.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from aws_lambda_powertools import Logger

from chalicelib import deadline
from chalicelib.errors import (
    FatalUpstreamError,
    RetriableUpstreamError,
    UpstreamNotFound,
)

logger = Logger(service="connector", child=True)

#: ``(method, url, headers, body, timeout) -> (status, headers, body)``
Transport = Callable[
    [str, str, Mapping[str, str], bytes | None, float], tuple[int, Mapping[str, str], bytes]
]
Clock = Callable[[], float]
Sleep = Callable[[float], None]

CommitmentKind = Literal["work_order_contract", "purchase_order_contract"]
#: commitment kind -> REST path segment
COMMITMENT_PATHS: Mapping[str, str] = {
    "work_order_contract": "work_order_contracts",
    "purchase_order_contract": "purchase_order_contracts",
}

_ERROR_BODY_LIMIT = 500
_RATE_LIMIT_JITTER = 0.25  # seconds added after Reset so we do not arrive exactly on it
_MAX_PAGES = 10_000  # a runaway-pagination guard, far above any real list
_CALL_MARGIN = 3.0  # seconds kept free at the invocation's end (write what was read)
SYNC_CHUNK = 1000  # Procore refuses a sync call with more updates (422, whole request)
TAX_ID_TYPES = ("ein", "abn")  # Procore business_register types


# --- typed errors --------------------------------------------------------------------
class ProcoreConnectionError(RetriableUpstreamError):
    """No HTTP answer (refused, reset, timeout). ``request_sent`` False = safe to resend."""

    def __init__(self, message: str, *, request_sent: bool = True, **details: object) -> None:
        super().__init__(message, **details)
        self.request_sent = request_sent


class ProcoreRateLimited(RetriableUpstreamError):
    """Still rate limited after every attempt; ``details['retry_after']`` says how long."""

    code = "upstream_rate_limited"


class ProcoreConflict(RetriableUpstreamError):
    """409: a concurrent write in Procore; trying again later usually works."""

    code = "upstream_conflict"


class ProcoreAuthError(FatalUpstreamError):
    """Procore rejected our client credentials or a fresh token: a configuration problem."""

    code = "upstream_auth_failed"


# --- transport -----------------------------------------------------------------------
class UrllibTransport:
    """Default transport. urllib raises ``HTTPError`` for 4xx/5xx: we return its status.

    ``use_env_proxies=False`` ignores ``HTTP(S)_PROXY`` (tests against loopback servers).
    """

    def __init__(self, *, use_env_proxies: bool = True) -> None:
        handlers: list[urllib.request.BaseHandler] = []
        if not use_env_proxies:
            handlers.append(urllib.request.ProxyHandler({}))
        self._opener = urllib.request.build_opener(*handlers)

    def __call__(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: float,
    ) -> tuple[int, Mapping[str, str], bytes]:
        request = urllib.request.Request(url, data=body, headers=dict(headers), method=method)
        try:
            with self._opener.open(request, timeout=timeout) as response:
                return response.status, dict(response.headers.items()), response.read()
        except urllib.error.HTTPError as exc:
            try:
                payload = exc.read() if exc.fp is not None else b""
            except (OSError, ValueError, http.client.HTTPException):
                payload = b""  # the status alone still tells us what happened
            finally:
                exc.close()
            return exc.code, dict(exc.headers.items()) if exc.headers else {}, payload
        except urllib.error.URLError as exc:
            refused = isinstance(exc.reason, ConnectionRefusedError)
            raise ProcoreConnectionError(
                f"Could not reach Procore ({type(exc.reason).__name__})",
                request_sent=not refused,
            ) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise ProcoreConnectionError(
                f"Connection to Procore failed ({type(exc).__name__})"
            ) from exc


def _request_not_sent(exc: BaseException) -> bool:
    """True when the server certainly never saw the request (safe to resend a POST)."""
    if isinstance(exc, ProcoreConnectionError):
        return not exc.request_sent
    return isinstance(exc, ConnectionRefusedError)


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


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(float(value))
    except ValueError:
        return None


def _retry_after_seconds(value: str | None, now: float) -> float | None:
    """``Retry-After`` is either delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def _truncate(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace")
    return text if len(text) <= _ERROR_BODY_LIMIT else text[:_ERROR_BODY_LIMIT] + "..."


def _error_details(body: bytes) -> object:
    """Procore's ``errors`` value when the body is JSON (422 field map), else None."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    if isinstance(parsed, dict):
        return parsed.get("errors", parsed.get("error"))
    return None


class ProcoreClient:
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

    def sync_commitment_origin(
        self,
        kind: CommitmentKind,
        project_id: int,
        commitment_id: int,
        origin_id: str | None,
        origin_code: str | None,
    ) -> SyncOutcome:
        """Link one commitment to its Sage record (``None`` clears a value), matched by id."""
        path = f"/rest/v1.0/{_commitment_segment(kind)}/sync"
        update = {
            "id": int(commitment_id),
            "origin_id": None if origin_id is None else str(origin_id),
            "origin_code": None if origin_code is None else str(origin_code),
        }
        return self.sync(path, [update], scope={"project_id": int(project_id)})

    def sync_vendors(self, updates: Sequence[Mapping[str, Any]]) -> SyncOutcome:
        return self.sync("/rest/v1.0/vendors/sync", updates, scope={"company_id": self.company_id})

    def sync_projects(self, updates: Sequence[Mapping[str, Any]]) -> SyncOutcome:
        """Projects: each update is applied whole (not only its origin fields). The sync
        schema has no ``origin_code``: a project's origin code is written by
        ``update_project`` (``PATCH /projects/{id}``) instead."""
        return self.sync("/rest/v1.0/projects/sync", updates, scope={"company_id": self.company_id})

    def sync_sub_jobs(self, project_id: int, updates: Sequence[Mapping[str, Any]]) -> SyncOutcome:
        """Sub jobs of one project: ``{id | origin_id, name, code, origin_data}`` each (no
        ``origin_code``: the sync schema has none); an unknown ``origin_id`` with a ``name``
        creates the sub job. ``project_id`` goes in the body and the query: Procore's
        schema requires both."""
        scope = {"project_id": int(project_id)}
        return self.sync("/rest/v1.0/sub_jobs/sync", updates, scope=scope, params=scope)

    def sync_cost_codes(
        self,
        project_id: int,
        updates: Sequence[Mapping[str, Any]],
        sub_job_id: int | None = None,
    ) -> SyncOutcome:
        """Cost codes of a project (or of one of its sub jobs): ``{id | origin_id, code,
        name, parent_id, origin_id}`` each; an unknown ``origin_id`` with ``code`` and
        ``name`` creates the code. ``project_id`` and ``sub_job_id`` are query parameters
        only: the documented body is ``{updates}`` alone (Procore API reference, PATCH
        /rest/v1.0/cost_codes/sync)."""
        scope: dict[str, Any] = {"project_id": int(project_id)}
        if sub_job_id is not None:
            scope["sub_job_id"] = int(sub_job_id)
        return self.sync("/rest/v1.0/cost_codes/sync", updates, scope={}, params=scope)

    def sync_standard_cost_codes(
        self, list_id: int, updates: Sequence[Mapping[str, Any]]
    ) -> SyncOutcome:
        """A company standard cost code list: ``{id | origin_id, code (one segment: the
        parent's prefix is added by Procore), name, parent_id, origin_id}`` each; unknown
        ``origin_id`` creates. The entities come in the ``extended`` view: Procore's
        default view has only ``id`` and ``standard_cost_code_list_id``."""
        scope = {"company_id": self.company_id, "standard_cost_code_list_id": int(list_id)}
        return self.sync(
            "/rest/v1.0/standard_cost_codes/sync", updates, scope=scope, params={"view": "extended"}
        )

    def sync_line_item_types(self, updates: Sequence[Mapping[str, Any]]) -> SyncOutcome:
        """Cost types: ``{id | origin_id, name, csv_import_code, base_type, origin_id}``."""
        return self.sync(
            "/rest/v1.0/line_item_types/sync", updates, scope={"company_id": self.company_id}
        )

    # --- domain helpers ------------------------------------------------------------------
    def list_projects(self) -> list[dict[str, Any]]:
        return self.get_all("/rest/v1.0/projects", {"company_id": self.company_id})

    def get_project(self, project_id: int) -> dict[str, Any]:
        return self.get(f"/rest/v1.0/projects/{int(project_id)}", {"company_id": self.company_id})

    def get_vendor(self, vendor_id: int) -> dict[str, Any]:
        return self.get(f"/rest/v1.0/vendors/{int(vendor_id)}", {"company_id": self.company_id})

    def list_vendors(self) -> list[dict[str, Any]]:
        return self.get_all("/rest/v1.0/vendors", {"company_id": self.company_id})

    def list_cost_codes(self, project_id: int) -> list[dict[str, Any]]:
        return self.get_all("/rest/v1.0/cost_codes", {"project_id": int(project_id)})

    def list_line_item_types(self) -> list[dict[str, Any]]:
        return self.get_all("/rest/v1.0/line_item_types", {"company_id": self.company_id})

    # --- company setup -------------------------------------------------------------------
    def create_project(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """POST a project (``name`` required; ``project_number``, ``origin_id``, ...).

        Not resent after a 5xx or a lost connection: ``find_projects(origin_id=...)``
        tells whether it was made before trying again.
        """
        body = {"company_id": self.company_id, "project": dict(fields)}
        return self._record(self.post("/rest/v1.0/projects", body), "POST", "/rest/v1.0/projects")

    def update_project(self, project_id: int, fields: Mapping[str, Any]) -> dict[str, Any]:
        path = f"/rest/v1.0/projects/{int(project_id)}"
        body = {"company_id": self.company_id, "project": dict(fields)}
        return self._record(self.patch(path, body), "PATCH", path)

    def find_projects(
        self, origin_id: str | None = None, project_number: str | None = None
    ) -> list[dict[str, Any]]:
        """Projects by ``origin_id`` (Procore's filter) and/or ``project_number`` (compared
        here: v1.0 has no such filter). Neither given: every project."""
        params: dict[str, Any] = {"company_id": self.company_id}
        if origin_id is not None:
            params["filters[origin_id]"] = str(origin_id)
        projects = self.get_all("/rest/v1.0/projects", params)
        if origin_id is not None:  # a server ignoring the filter must not fool us
            projects = [p for p in projects if p.get("origin_id") == str(origin_id)]
        if project_number is not None:
            wanted = str(project_number).strip()
            projects = [p for p in projects if str(p.get("project_number") or "").strip() == wanted]
        return projects

    def find_vendors(self, origin_id: str) -> list[dict[str, Any]]:
        """Company directory vendors carrying ``origin_id`` (Procore's filter, checked here
        too: a server ignoring the filter must not fool us)."""
        params = {"company_id": self.company_id, "filters[origin_id]": str(origin_id)}
        vendors = self.get_all("/rest/v1.0/vendors", params)
        return [v for v in vendors if v.get("origin_id") == str(origin_id)]

    def create_vendor(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """POST a company directory vendor (``name`` required). Not resent after a 5xx:
        ``find_vendors(origin_id=...)`` tells whether it was made."""
        body = {"company_id": self.company_id, "vendor": dict(fields)}
        return self._record(self.post("/rest/v1.0/vendors", body), "POST", "/rest/v1.0/vendors")

    def update_vendor(self, vendor_id: int, fields: Mapping[str, Any]) -> dict[str, Any]:
        """PATCH a vendor; ``{"is_active": False}`` makes it inactive."""
        path = f"/rest/v1.0/vendors/{int(vendor_id)}"
        body = {"company_id": self.company_id, "vendor": dict(fields)}
        return self._record(self.patch(path, body), "PATCH", path)

    def set_vendor_tax_id(self, vendor_id: int, type: str, identifier: str) -> dict[str, Any]:
        """The vendor's tax id (``type`` ``ein`` or ``abn``); answers the register
        ``{id, type, identifier, verified_at, verification_status}``.

        POST creates the register; when the vendor has one Procore answers 409 ("A Business
        Register is already associated with the Vendor.") and PATCH changes it (PATCH alone
        would 404 on a vendor without one). Procore API reference: POST and PATCH
        /rest/v1.0/vendors/{id}/business_register.

        ``license_number`` is the licence, not the tax id: Procore keeps the tax id in the
        vendor's ``business_register``.
        """
        kind = str(type).strip().lower()
        if kind not in TAX_ID_TYPES:
            raise ValueError(f"tax id type must be one of {TAX_ID_TYPES}, got {type!r}")
        path = f"/rest/v1.0/vendors/{int(vendor_id)}/business_register"
        body = {"business_register": {"type": kind, "identifier": str(identifier)}}
        params = {"company_id": self.company_id}
        try:
            answer = self.post(path, body, params)
        except ProcoreConflict:
            # 409: the vendor has a register already; Procore changes one only by PATCH.
            return self._record(self.patch(path, body, params), "PATCH", path)
        return self._record(answer, "POST", path)

    def list_sub_jobs(self, project_id: int) -> list[dict[str, Any]]:
        return self.get_all("/rest/v1.0/sub_jobs", {"project_id": int(project_id)})

    def find_sub_jobs(self, project_id: int, origin_id: str) -> list[dict[str, Any]]:
        """The project's sub jobs carrying ``origin_id``. v1.0 documents no filter on this
        list: ``filters[origin_id]`` is sent all the same and the answer compared here."""
        params = {"project_id": int(project_id), "filters[origin_id]": str(origin_id)}
        sub_jobs = self.get_all("/rest/v1.0/sub_jobs", params)
        return [s for s in sub_jobs if s.get("origin_id") == str(origin_id)]

    def create_sub_job(self, project_id: int, fields: Mapping[str, Any]) -> dict[str, Any]:
        """POST a sub job (``name`` required; ``code``, ``origin_id``). Not resent after 5xx:
        ``find_sub_jobs(project_id, origin_id=...)`` tells whether it was made."""
        body = {"project_id": int(project_id), "sub_job": dict(fields)}
        return self._record(self.post("/rest/v1.0/sub_jobs", body), "POST", "/rest/v1.0/sub_jobs")

    def create_cost_code(
        self, project_id: int, fields: Mapping[str, Any], sub_job_id: int | None = None
    ) -> dict[str, Any]:
        """POST a cost code (``code`` = one segment, ``name``; ``parent_id``, ``origin_id``)
        on the project, or on one of its sub jobs. Not resent after a 5xx."""
        body: dict[str, Any] = {"project_id": int(project_id), "cost_code": dict(fields)}
        if sub_job_id is not None:
            body["sub_job_id"] = int(sub_job_id)
        return self._record(
            self.post("/rest/v1.0/cost_codes", body), "POST", "/rest/v1.0/cost_codes"
        )

    def list_standard_cost_code_lists(self) -> list[dict[str, Any]]:
        """``[{id, name, is_erp_list}]``: the company's standard cost code lists."""
        return self.get_all("/rest/v1.0/standard_cost_code_lists", {"company_id": self.company_id})

    def list_standard_cost_codes(self, list_id: int) -> list[dict[str, Any]]:
        """The list's codes, whole (``view=extended``: Procore's default view answers only
        ``id`` and ``standard_cost_code_list_id``; Procore API reference, GET
        /rest/v1.0/standard_cost_codes)."""
        params = {
            "company_id": self.company_id,
            "standard_cost_code_list_id": int(list_id),
            "view": "extended",
        }
        return self.get_all("/rest/v1.0/standard_cost_codes", params)

    @staticmethod
    def _record(answer: Any, method: str, path: str) -> dict[str, Any]:
        if not isinstance(answer, dict):
            raise FatalUpstreamError(
                f"Procore {method} {path} did not answer a record",
                body=_truncate(json.dumps(answer, default=str).encode()),
            )
        return answer

    def get_commitment(
        self, kind: CommitmentKind, project_id: int, commitment_id: int
    ) -> dict[str, Any]:
        """A subcontract (``work_order_contract``) or purchase order."""
        path = f"/rest/v1.0/{_commitment_segment(kind)}/{int(commitment_id)}"
        return self.get(path, {"project_id": int(project_id)})

    def list_commitment_line_items(
        self, kind: CommitmentKind, project_id: int, commitment_id: int
    ) -> list[dict[str, Any]]:
        """The commitment's schedule of values."""
        path = f"/rest/v1.0/{_commitment_segment(kind)}/{int(commitment_id)}/line_items"
        return self.get_all(path, {"project_id": int(project_id)})

    def list_commitments_updated(
        self,
        kind: CommitmentKind,
        project_id: int,
        since: datetime,
        until: datetime,
        *,
        include_deleted: bool = True,
    ) -> list[dict[str, Any]]:
        """The project's commitments whose ``updated_at`` is in ``[since, until]``.

        Procore's ``filters[updated_at]`` is an inclusive ISO 8601 range to the second
        (fractions are dropped from both ends; a naive datetime is UTC). Deleted ones come
        along (``filters[include_deleted]=with``; they carry ``deleted_at``). Records
        outside the range are dropped here too, so a server ignoring the filter cannot
        fool us; a record without a readable ``updated_at`` is kept.
        """

        def second(moment: datetime) -> datetime:
            moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
            return moment.astimezone(UTC).replace(microsecond=0)

        def within(value: object) -> bool:
            try:
                moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            except ValueError:
                return True
            return low <= second(moment) <= high

        low, high = second(since), second(until)
        params: dict[str, Any] = {
            "project_id": int(project_id),
            "filters[updated_at]": f"{low:%Y-%m-%dT%H:%M:%SZ}...{high:%Y-%m-%dT%H:%M:%SZ}",
        }
        if include_deleted:
            params["filters[include_deleted]"] = "with"
        records = self.get_all(f"/rest/v1.0/{_commitment_segment(kind)}", params)
        return [r for r in records if within(r.get("updated_at"))]

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
        body = None if json_body is None else json.dumps(json_body).encode("utf-8")
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


def _commitment_segment(kind: str) -> str:
    try:
        return COMMITMENT_PATHS[kind]
    except KeyError:
        raise ValueError(
            f"unknown commitment kind {kind!r}; expected one of {sorted(COMMITMENT_PATHS)}"
        ) from None


def _query_items(params: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Flatten params for urlencode: lists repeat the key, None values are dropped."""
    items: list[tuple[str, Any]] = []
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, list | tuple | set | frozenset):
            items.extend((key, v) for v in value)
        elif isinstance(value, bool):
            items.append((key, "true" if value else "false"))
        else:
            items.append((key, value))
    return items


def _decode(body: bytes, method: str, path: str) -> Any:
    if not body or not body.strip():
        return None
    try:
        return json.loads(body)
    except ValueError as exc:
        raise FatalUpstreamError(
            f"Procore {method} {path} answered something that is not JSON",
            body=_truncate(body),
        ) from exc
