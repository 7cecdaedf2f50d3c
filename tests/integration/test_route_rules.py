"""Every route has a permission rule, and the app enforces the rule the catalog declares.

The catalog (chalicelib/route_catalog.py) and ``app.routes`` must list the same routes and
methods. For a route whose rule is a Permission, every persona the matrix denies it
(tests/helpers.PERSONAS and the matrix walk's extra ones) gets 403 naming that action; a
call without a token gets 401 from every route that is not public; a signed-in route lets
any verified caller in.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from chalicelib.domain.models import parse_item_id
from chalicelib.domain.permissions import Permission, User, can
from chalicelib.route_catalog import OPERATIONS, PUBLIC, SIGNED_IN, Operation, by_route
from tests.helpers import COMPANY_ID, PERSONAS, seed_personas
from tests.integration.test_matrix_walk import EXTRA_PERSONAS

# Values of the required query parameters, so a call reaches the permission check.
REQUIRED_QUERY = {"project_id": "11", "kind": "vendors"}
LINK_KIND = {"projects": "project", "vendors": "vendor", "sub-jobs": "sub_job"}


def _label(op: Operation) -> str:
    return f"{op.method} {op.path}"


def url_of(op: Operation) -> str:
    path = op.path
    for name, value in op.example.items():
        path = path.replace("{" + name + "}", str(value))
    assert "{" not in path, f"{_label(op)}: the catalog gives no example for {path}"
    query = "&".join(f"{q.name}={REQUIRED_QUERY[q.name]}" for q in op.query if q.required)
    return f"{path}?{query}" if query else path


def kind_of(op: Operation) -> str | None:
    """The item kind a kind-dependent rule is checked for on this example call."""
    if "item_id" in op.example:
        return parse_item_id(op.example["item_id"])[0]
    if op.path.startswith("/links/{kind}"):
        return LINK_KIND[op.example["kind"]]
    return (op.body or {}).get("kind")


def test_every_route_and_method_has_a_rule_and_every_rule_a_route() -> None:
    from app import app

    routed = {(method, path) for path, methods in app.routes.items() for method in methods}
    declared = set(by_route())
    assert len(declared) == len(OPERATIONS), "a route is declared twice in the catalog"
    assert not routed - declared, f"routes with no permission rule: {sorted(routed - declared)}"
    assert not declared - routed, f"catalog entries with no route: {sorted(declared - routed)}"


def test_every_rule_is_a_permission_or_public_or_signed_in() -> None:
    for op in OPERATIONS:
        assert isinstance(op.rule, Permission) or op.rule in (PUBLIC, SIGNED_IN), _label(op)


@pytest.fixture
def call(aws: Any, chalice_client: Any, mint: Any) -> Any:
    seed_personas()
    from chalicelib.wiring import get_store

    for name, levels in EXTRA_PERSONAS.items():
        get_store().put_user(User(subject=name, company_id=COMPANY_ID, name=name, **levels))
    tokens: dict[str, str] = {}

    def _call(op: Operation, who: str | None, authorization: str | None = None
              ) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if who is not None:
            if who not in tokens:  # minting parses the PEM key: ~0.1 s
                tokens[who] = mint(who)
            headers["Authorization"] = tokens[who]
        elif authorization is not None:
            headers["Authorization"] = authorization
        body = json.dumps(op.body).encode() if op.body is not None else b""
        response = chalice_client.http.request(op.method, url_of(op), headers=headers,
                                               body=body)
        try:
            answer = json.loads(response.body) if response.body else None
        except ValueError:
            answer = response.body[:200]
        return response.status_code, answer

    return _call


PERMISSION_ROUTES = [op for op in OPERATIONS if isinstance(op.rule, Permission)]


def test_a_persona_lacking_the_permission_gets_403_naming_it(call: Any) -> None:
    """One test over every route (a fresh moto per route would cost a minute)."""
    from chalicelib.wiring import get_store

    wrong = []
    for op in PERMISSION_ROUTES:
        assert isinstance(op.rule, Permission)
        denied = []
        for who in [*PERSONAS, *EXTRA_PERSONAS]:
            user = (get_store().get_user(COMPANY_ID, who)
                    or User(subject=who, company_id=COMPANY_ID))
            if can(user, op.rule, kind_of(op)):
                continue
            denied.append(who)
            status, answer = call(op, who)
            if (status != 403 or op.rule.value not in answer["message"]
                    or answer["details"]["action"] != op.rule.name.lower()):
                wrong.append(f"{_label(op)} as {who}: {status} {answer}")
        if "nobody" not in denied:  # a token with no record is refused everything
            wrong.append(f"{_label(op)}: 'nobody' may {op.rule.value}")
    assert not wrong, "\n".join(wrong)


def test_without_a_token_every_non_public_route_answers_401(call: Any) -> None:
    wrong = []
    for op in OPERATIONS:
        if op.rule == PUBLIC:
            continue
        for token in (None, "Bearer not-a-jwt"):
            status, answer = call(op, None, authorization=token)
            if status != 401 or answer.get("error") != "unauthorized":
                wrong.append(f"{_label(op)} with {token}: {status} {answer}")
    assert not wrong, "\n".join(wrong)


def test_a_caller_without_a_token_learns_nothing_from_bad_path_values(
        aws: Any, chalice_client: Any) -> None:
    """Authentication comes first: an unknown link kind or a garbled id answers 401 too,
    never a 400/404 that describes the route's values to someone not signed in."""
    wrong = []
    for op in OPERATIONS:
        if op.rule == PUBLIC or "{" not in op.path:
            continue
        path = re.sub(r"\{[^}]+\}", "zz-not-a-value", op.path)
        response = chalice_client.http.request(op.method, path, headers={}, body=b"")
        if response.status_code != 401:
            wrong.append(f"{_label(op)}: {response.status_code} {response.body[:200]!r}")
    assert not wrong, "\n".join(wrong)


def test_signed_in_routes_let_any_verified_caller_in(call: Any) -> None:
    signed_in = [op for op in OPERATIONS if op.rule == SIGNED_IN]
    assert signed_in
    for op in signed_in:
        status, answer = call(op, "nobody")
        assert status not in (401, 403), f"{_label(op)}: {status} {answer}"
