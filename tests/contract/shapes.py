"""Shape checks shared by the sandbox contract tests: documented value kinds, the answer and
request-body checkers, and a transport that records what the connector sends.

The expected shapes themselves stay in each test file, next to the Procore reference
excerpts they are copied from.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import pytest

from chalicelib.adapters.procore import ProcoreClient, ProcoreTokenProvider, UrllibTransport
from devstack.procore_sandbox import ProcoreSandbox
from tests.fixtures_sandbox import (
    CLIENT_ID,
    CLIENT_SECRET,
    COMPANY_ID,
    HttpAnswer,
    fetch_token,
    http_call,
)


# --- value kinds -----------------------------------------------------------------------------
class Kind:
    """A documented scalar: ``name`` as the reference writes it, ``check`` on the value."""

    def __init__(self, name: str, check: Callable[[Any], bool]) -> None:
        self.name, self.check = name, check

    def __repr__(self) -> str:
        return self.name


def _date(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) is not None


def _datetime(value: Any) -> bool:
    if not isinstance(value, str) or "T" not in value:
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _decimal_text(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return Decimal(value).is_finite()
    except InvalidOperation:
        return False


def _sync_error(value: Any) -> bool:
    """An ``errors[]`` item: an object with ``errors: {field: [message, ...]}``
    (procore-spec/docs/conventions.json, sync: "the attributes supplied by the caller are
    present in the errors list, along with an additional errors attribute"; the SDK's cost
    code errors: the record plus ``errors.field_name: [string]``; the sandbox echoes the
    update sent instead of the record, docs/decisions.md)."""
    problems = value.get("errors") if isinstance(value, dict) else None
    return isinstance(problems, dict) and all(
        isinstance(messages, list) and all(isinstance(m, str) for m in messages)
        for messages in problems.values()
    )


INT = Kind("integer", lambda v: isinstance(v, int) and not isinstance(v, bool))
STR = Kind("string", lambda v: isinstance(v, str))
BOOL = Kind("boolean", lambda v: isinstance(v, bool))
NUM = Kind("number", lambda v: isinstance(v, int | float) and not isinstance(v, bool))
DATE = Kind("string/date", _date)
DATETIME = Kind("string/date-time", _datetime)
# "type": "string", "format": "float" in the OpenAPI files (the SDK says number): text
DECIMAL = Kind("string/float", _decimal_text)
OBJECT = Kind("object (properties not documented)", lambda v: isinstance(v, dict))
SYNC_ERROR = Kind("object with errors{field: [string]}", _sync_error)

Shape = Any  # Kind | dict[str, Shape] | list[Shape] (one item shape)


def sync_answer(entity: Shape) -> dict[str, Shape]:
    """``{entities: [...], errors: [...]}`` (procore-spec/docs/conventions.json, sync)."""
    return {"entities": [entity], "errors": [SYNC_ERROR]}


# --- checkers --------------------------------------------------------------------------------
def shape_problems(
    value: Any, shape: Shape, path: str = "$", *, never_null: frozenset[str] = frozenset()
) -> list[str]:
    """Where ``value`` departs from ``shape``: keys missing or extra, wrong types. Null
    passes, except under a key in ``never_null``."""
    if value is None:
        key = path.rsplit(".", 1)[-1]
        return [f"{path}: null"] if key in never_null else []
    if isinstance(shape, Kind):
        return [] if shape.check(value) else [f"{path}: {value!r} is not {shape!r}"]
    if isinstance(shape, list):
        if not isinstance(value, list):
            return [f"{path}: {type(value).__name__} is not an array"]
        return [
            p
            for i, item in enumerate(value)
            for p in shape_problems(item, shape[0], f"{path}[{i}]", never_null=never_null)
        ]
    if not isinstance(value, dict):
        return [f"{path}: {type(value).__name__} is not an object"]
    problems = [f"{path}: undocumented key {k!r}" for k in sorted(set(value) - set(shape))]
    problems += [f"{path}: missing key {k!r}" for k in sorted(set(shape) - set(value))]
    for key in sorted(set(shape) & set(value)):
        problems += shape_problems(value[key], shape[key], f"{path}.{key}", never_null=never_null)
    return problems


def assert_shape(
    value: Any, shape: Shape, what: str, *, never_null: frozenset[str] = frozenset()
) -> None:
    problems = shape_problems(value, shape, never_null=never_null)
    assert not problems, f"{what}:\n" + "\n".join(problems)


def request_problems(
    value: Any,
    shape: Shape,
    required: Mapping[str, Any] | None = None,
    path: str = "$",
    *,
    null_scalars: bool = False,
) -> list[str]:
    """A request body against its schema: documented keys only (a subset), their types,
    and ``required`` (key -> the required map of its value, or None) present, not null.
    A null where a scalar is documented (an array item) passes only with ``null_scalars``."""
    if isinstance(shape, Kind):
        if value is None and null_scalars:
            return []
        return [] if shape.check(value) else [f"{path}: {value!r} is not {shape!r}"]
    if isinstance(shape, list):
        if not isinstance(value, list):
            return [f"{path}: {type(value).__name__} is not an array"]
        return [
            p
            for i, item in enumerate(value)
            for p in request_problems(
                item, shape[0], required, f"{path}[{i}]", null_scalars=null_scalars
            )
        ]
    if not isinstance(value, dict):
        return [f"{path}: {type(value).__name__} is not an object"]
    required = required or {}
    problems = [f"{path}: undocumented key {k!r}" for k in sorted(set(value) - set(shape))]
    problems += [f"{path}: required key {k!r} missing" for k in required if value.get(k) is None]
    for key in sorted(set(shape) & set(value)):
        if value[key] is not None:  # null clears an optional value
            problems += request_problems(
                value[key], shape[key], required.get(key), f"{path}.{key}",
                null_scalars=null_scalars,
            )
    return problems


# --- the sandbox and the connector -----------------------------------------------------------
@pytest.fixture(name="token")
def token_fixture(sandbox: ProcoreSandbox) -> str:
    return fetch_token(sandbox.url)


def call(box: ProcoreSandbox, token: str, method: str, path: str, body: Any = None) -> HttpAnswer:
    return http_call(box.url, method, path, token=token, json_body=body)


def _query(params: dict[str, list[str]]) -> dict[str, Any]:
    """Query values as numbers where they are digits (the schema's integers)."""
    return {k: int(v[0]) if v[0].isdigit() else v[0] for k, v in params.items()}


class Recorder:
    """A transport that remembers every request the connector sends, and its status."""

    def __init__(self) -> None:
        self.inner = UrllibTransport(use_env_proxies=False)
        self.sent: list[tuple[str, str, dict[str, Any], Any, int]] = []

    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> tuple[int, Mapping[str, str], bytes]:
        status, answer_headers, payload = self.inner(method, url, headers, body, timeout)
        parts = urllib.parse.urlsplit(url)
        query = _query(urllib.parse.parse_qs(parts.query))
        try:
            sent = json.loads(body) if body else None
        except ValueError:  # the token request is a form
            sent = body
        self.sent.append((method, parts.path, query, sent, status))
        return status, answer_headers, payload

    def only(self, method: str, path: str) -> list[tuple[dict[str, Any], Any]]:
        return [(q, b) for m, p, q, b, _ in self.sent if (m, p) == (method, path)]

    def calls(self, path: str) -> list[tuple[str, int]]:
        return [(m, status) for m, p, _, _, status in self.sent if p == path]


def client_for(box: ProcoreSandbox, recorder: Recorder) -> ProcoreClient:
    tokens = ProcoreTokenProvider(
        box.url, CLIENT_ID, CLIENT_SECRET, transport=UrllibTransport(use_env_proxies=False)
    )
    return ProcoreClient(box.url, tokens, COMPANY_ID, transport=recorder, sleep=lambda _: None)
