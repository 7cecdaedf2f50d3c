"""Procore HTTP plumbing: the transport, typed errors and answer parsing.

Standard library HTTP only (``urllib.request``): no ``requests`` import keeps the Lambda
cold start low. The HTTP call itself goes through an injectable ``Transport`` so tests can
wrap or replace it; the default ``UrllibTransport`` talks real HTTP and turns a failed
connection into ``ProcoreConnectionError`` (``request_sent`` False when Procore certainly
never saw the request, so even a POST may be resent).

The typed errors are raised by ``ProcoreClient`` (``chalicelib.adapters.procore``, whose
docstring maps Procore answers to them); the helpers read rate-limit and ``Retry-After``
headers, truncate error bodies, flatten query parameters and decode JSON answers.
Everything public here is re-exported by ``chalicelib.adapters.procore``.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.errors import FatalUpstreamError, RetriableUpstreamError

#: ``(method, url, headers, body, timeout) -> (status, headers, body)``
Transport = Callable[
    [str, str, Mapping[str, str], bytes | None, float], tuple[int, Mapping[str, str], bytes]
]

_ERROR_BODY_LIMIT = 500


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


# --- answer parsing -------------------------------------------------------------------
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
