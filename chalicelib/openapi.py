"""The OpenAPI 3.1 document of the connector's HTTP API, generated from the route catalog
(chalicelib/route_catalog.py), the request models (chalicelib/requests.py) and the answer
models (chalicelib/responses.py). Served at GET /openapi.json.

Pydantic writes each model's JSON Schema (2020-12, which OpenAPI 3.1 uses as it is) with
references into ``#/components/schemas``; nested models it puts under ``$defs`` are lifted
there too. Paths come from ``app.routes``, so a route the catalog lacks still appears
(``x-permission: undeclared``) and the route-rule test names it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from chalicelib import responses
from chalicelib.domain.permissions import Permission
from chalicelib.route_catalog import PUBLIC, Operation, by_route, rule_value

REF = "#/components/schemas/{model}"
TITLE = "Procore <-> Sage 100 Contractor connector"
VERSION = "1.0.0"
ERROR_TEXT = {
    400: "The request does not fit: the message (and details.field) names what",
    401: "No valid bearer token (or, for the webhook, not its token)",
    403: "The caller's levels do not allow the action: the message names it and what it "
         "needs (details.action, details.required)",
    404: "No such record (or one not visible to this company)",
    409: "Not possible in the record's current state, or a newer version was saved",
    502: "Procore refused or failed; nothing was half-written",
    503: "A dependency (table, queue) does not answer",
}
SUCCESS_TEXT = {200: "OK", 201: "Created", 202: "Accepted: the work goes on asynchronously",
                503: "Degraded: a dependency does not answer"}
# Path parameters: their JSON Schema, by name.
PATH_SCHEMAS: dict[str, dict[str, Any]] = {
    "item_id": {"type": "string", "pattern": "^[a-z_]+-[0-9]+$",
                "description": "<kind>-<Procore id>, e.g. commitment-501"},
    "project_id": {"type": "integer", "minimum": 1},
    "procore_id": {"type": "integer", "minimum": 1},
    "job": {"type": "integer", "minimum": 1, "description": "a Sage job number"},
    "vendor": {"type": "integer", "minimum": 1, "description": "a Sage vendor number"},
    "code": {"type": "string", "minLength": 1, "description": "a Sage cost code, e.g. 3300.000"},
    "list_name": {"type": "string", "enum": ["jobs", "vendors", "cost_codes", "cost_types",
                                             "phases", "budgets", "payments", "receipts",
                                             "commitments", "receivables"]},
    "kind": {"type": "string", "enum": ["projects", "vendors", "sub-jobs"]},
    "subject": {"type": "string", "minLength": 1, "maxLength": 200,
                "description": "the user's token subject"},
    "entry_id": {"type": "string", "minLength": 1},
    "asset": {"type": "string", "minLength": 1, "description": "e.g. app.js, app.css"},
}
_PARAM = re.compile(r"\{([^}]+)\}")
_BUILT: dict[str, dict[str, Any]] = {}  # the same for every request: built once per process


def document(routes: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The document for ``routes`` (``app.routes``), built once per process."""
    if "document" not in _BUILT:
        _BUILT["document"] = build(routes)
    return _BUILT["document"]


def build(routes: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    catalog = by_route()
    paths: dict[str, dict[str, Any]] = {}
    for path in sorted(routes):
        for method in sorted(routes[path]):
            operation = catalog.get((method, path))
            entry = (_operation(operation, schemas) if operation is not None
                     else _undeclared(method, path, schemas))
            paths.setdefault(path, {})[method.lower()] = entry
    _schema(responses.Error, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": VERSION, "description": (
            "Accounting acceptance of Procore records for Sage 100 Contractor, the Sage lists, "
            "links, settings and reports. Each operation's x-permission is the permission "
            "it needs (chalicelib/domain/permissions.py), 'signed-in' (any verified caller) "
            "or 'public'.")},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": dict(sorted(schemas.items())), "securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                           "description": "An ID or access token of the connector's user pool"},
            "webhookToken": {"type": "apiKey", "in": "header", "name": "Authorization",
                             "description": "The token registered with Procore's webhook"},
        }},
    }


def _schema(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    """Put ``model`` (and the models it nests) in components; answer a reference to it."""
    if model.__name__ not in schemas:
        schema = model.model_json_schema(ref_template=REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return {"$ref": REF.format(model=model.__name__)}


def _parameters(op: Operation) -> list[dict[str, Any]]:
    params = []
    for name in _PARAM.findall(op.path):
        schema = dict(PATH_SCHEMAS.get(name, {"type": "string"}))
        param = {"name": name, "in": "path", "required": True, "schema": schema}
        if name in op.example:
            param["example"] = op.example[name]
        params.append(param)
    params += [{"name": q.name, "in": "query", "required": q.required, "schema": q.schema,
                "description": q.description} for q in op.query]
    return params


def _request_body(op: Operation, schemas: dict[str, Any]) -> dict[str, Any] | None:
    if op.request is None and op.request_schema is None:
        return None
    schema = _schema(op.request, schemas) if op.request is not None else op.request_schema
    media: dict[str, Any] = {"schema": schema}
    if op.body is not None:
        media["example"] = op.body
    return {"required": not op.body_optional, "content": {"application/json": media}}


def _success(op: Operation, status: int, schemas: dict[str, Any]) -> dict[str, Any]:
    if op.response is None:
        content: dict[str, Any] = {op.content: {"schema": {"type": "string"}}}
    else:
        content = {"application/json": {"schema": _schema(op.response, schemas)}}
        if op.csv:
            content["text/csv"] = {"schema": {"type": "string"}}
    return {"description": SUCCESS_TEXT.get(status, "OK"), "content": content}


def _errors(op: Operation) -> list[int]:
    codes = set(op.errors)
    if op.rule != PUBLIC:
        codes.add(401)
    if isinstance(op.rule, Permission):
        codes.add(403)
    if op.request is not None:  # parse_model names the field that does not fit
        codes.add(400)
    return sorted(codes - set(op.success))


def _operation(op: Operation, schemas: dict[str, Any]) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for status in op.success:
        answers[str(status)] = _success(op, status, schemas)
    for status in _errors(op):
        answers[str(status)] = {"description": ERROR_TEXT.get(status, "Refused"), "content": {
            "application/json": {"schema": _schema(responses.Error, schemas)}}}
    entry: dict[str, Any] = {
        "operationId": _operation_id(op.method, op.path), "summary": op.summary,
        "tags": [op.tag], "x-permission": rule_value(op.rule), "parameters": _parameters(op),
        "responses": answers,
    }
    if op.rule_note:
        entry["x-permission-note"] = op.rule_note
    body = _request_body(op, schemas)
    if body is not None:
        entry["requestBody"] = body
    if op.path == "/webhooks/procore":
        entry["security"] = [{"webhookToken": []}]
    elif op.rule == PUBLIC:
        entry["security"] = []
    else:
        entry["security"] = [{"bearerAuth": []}]
    return entry


def _undeclared(method: str, path: str, schemas: dict[str, Any]) -> dict[str, Any]:
    """A route the catalog does not know: present, marked, and refused by the tests."""
    return {"operationId": _operation_id(method, path), "summary": "(not in the catalog)",
            "x-permission": "undeclared", "security": [{"bearerAuth": []}],
            "parameters": [{"name": n, "in": "path", "required": True,
                            "schema": {"type": "string"}} for n in _PARAM.findall(path)],
            "responses": {"default": {"description": "undeclared", "content": {
                "application/json": {"schema": _schema(responses.Answer, schemas)}}}}}


def _operation_id(method: str, path: str) -> str:
    words = re.sub(r"[^a-zA-Z0-9]+", "_", path.replace("{", "by_")).strip("_")
    return f"{method.lower()}_{words or 'root'}"
