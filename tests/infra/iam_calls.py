"""Which AWS calls each Lambda function's code can make, and on which adapter's client.

In the bodies iam_reach finds: ``<x>.client.<op>(``, ``_call("<op>", ...)``,
``get_paginator("<op>")``, TransactWriteItems parts (``{"Put": {"TableName": ...}}``) and
``read_secret(settings, "<name>")`` (Powertools parameters). An adapter class gets its
service from the ``aws.client("<service>")`` it is built with (in a reached getter of
chalicelib/wiring.py) and its resource from the settings read beside it
(``get_settings().inbound_queue_url`` -> env var INBOUND_QUEUE_URL -> the packaged
template's value, resolved in iam_policy). An adapter built from another's client
(``X(store.table_name, store.client)``) shares that one's binding. A client made anywhere
else is reported: its calls could not be followed.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache

from tests.infra.iam_reach import Def, body_nodes, class_bases, const, entry_points, modules, reach

TRANSACT_PARTS = {"Put": "put_item", "Update": "update_item", "Delete": "delete_item",
                  "ConditionCheck": "condition_check_item"}
CLIENT_ATTRS = {"client", "_client"}


@dataclass(frozen=True)
class Site:
    """One AWS call a reached body makes: ``kind`` is method, secret or client (one
    made there)."""

    kind: str
    name: str  # the boto3 method (get_item) or the secret's name (webhook_token)
    where: Def
    index_names: tuple[str, ...] = ()  # IndexName constants beside a query
    at: tuple[int, int] = (0, 0)  # line and column (client sites)


@dataclass(frozen=True)
class Binding:
    """Adapter class ``cls`` is built with a ``service`` client for ``settings`` (attrs)."""

    cls: str
    service: str
    settings: tuple[str, ...]
    getter: str
    client_at: tuple[str, int, int] = ("", 0, 0)  # where its client is made



def _index_names(nodes: list[ast.AST]) -> tuple[str, ...]:
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Dict):
            found |= {v for k, v in zip(node.keys, map(const, node.values), strict=True)
                      if const(k) == "IndexName" and v}
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Subscript):
            if const(node.targets[0].slice) == "IndexName" and const(node.value):
                found.add(str(const(node.value)))
        elif isinstance(node, ast.keyword) and node.arg == "IndexName" and const(node.value):
            found.add(str(const(node.value)))
    return tuple(sorted(found))


def sites(item: Def) -> list[Site]:
    nodes = body_nodes(item)
    out: list[Site] = []
    for node in nodes:
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                part = TRANSACT_PARTS.get(const(key) or "")
                if part and isinstance(value, ast.Dict) and any(
                        const(k) == "TableName" for k in value.keys):
                    out.append(Site("method", part, item))
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        first = const(node.args[0]) if node.args else None
        if name in ("_call", "get_paginator") and first:
            out.append(Site("method", first, item))
        elif (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Attribute)
                and func.value.attr in CLIENT_ATTRS):
            out.append(Site("method", name, item))
        elif name == "read_secret" and len(node.args) > 1 and const(node.args[1]):
            out.append(Site("secret", str(const(node.args[1])), item))
        elif name in ("client", "resource") and first:  # aws.client("sqs"), boto3.client
            out.append(Site("client", first, item, at=(node.lineno, node.col_offset)))
    indexes = _index_names(nodes)
    return [Site(s.kind, s.name, s.where, indexes if s.name in ("query", "scan") else (),
                 s.at) for s in out]


# ---- which client and resource each adapter class has ---------------------------------------
def _settings_attrs(node: ast.AST, fields: set[str]) -> set[str]:
    return {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute) and n.attr in fields}


def _aws_client(node: ast.AST) -> ast.Call | None:
    """``node`` itself when it makes a client (``aws.client("sqs")``): an argument of the
    constructor, not one nested in another constructor's arguments."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "client" and const(node.args[0] if node.args else None)):
        return node
    return None


def _self_attrs(cls: str) -> set[str]:
    """Attributes ``cls`` (or a base) sets on self in ``__init__``."""
    wanted = class_bases().get(cls, {cls})
    attrs: set[str] = set()
    for module in modules().values():
        for item in module.defs:
            if item.cls in wanted and item.name == "__init__":
                attrs |= {n.attr for n in ast.walk(item.node) if isinstance(n, ast.Attribute)
                          and isinstance(n.value, ast.Name) and n.value.id == "self"}
    return attrs


def bindings(reached: set[Def], settings_fields: set[str]) -> list[Binding]:
    classes = class_bases()
    direct: list[Binding] = []
    shared: list[tuple[str, set[str], str]] = []  # X(store.table_name, store.client)
    for item in reached:
        for node in body_nodes(item):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in classes):
                continue
            args = [*node.args, *(k.value for k in node.keywords)]
            made = next((c for c in map(_aws_client, args) if c), None)
            if made:
                attrs = set().union(*(_settings_attrs(a, settings_fields) for a in args))
                direct.append(Binding(node.func.id, str(const(made.args[0])),
                                      tuple(sorted(attrs)), item.label,
                                      (item.module, made.lineno, made.col_offset)))
            elif any(isinstance(a, ast.Attribute) and a.attr in CLIENT_ATTRS for a in args):
                peers = {a.attr for a in args if isinstance(a, ast.Attribute)} - CLIENT_ATTRS
                shared.append((node.func.id, peers, item.label))
    out = list(direct)
    for cls, peers, where in shared:
        out += [Binding(cls, b.service, b.settings, f"{where} (client of {b.cls})")
                for b in direct if peers <= _self_attrs(b.cls)]
    return out


@cache
def calls_of(handler: str, settings_fields: frozenset[str]
             ) -> tuple[dict[Def, Def | None], tuple[Site, ...], tuple[Binding, ...]]:
    """For one packaged handler: what it reaches, the AWS calls in those bodies, and the
    adapters built (cached: the code does not change during a test run)."""
    reached = reach(entry_points(handler))
    found = tuple(s for item in sorted(reached, key=lambda d: d.label) for s in sites(item))
    return reached, found, tuple(bindings(set(reached), set(settings_fields)))


