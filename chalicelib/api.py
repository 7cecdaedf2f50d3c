"""HTTP edge helpers: the one place domain errors become HTTP answers, body parsing,
and who the caller is."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from chalice import Response

from chalicelib.errors import BadRequest, ConnectorError
from chalicelib.observability import count, logger

T = TypeVar("T")


def json_response(status: int, body: Any) -> Response:
    return Response(body=body, status_code=status,
                    headers={"Content-Type": "application/json", "Cache-Control": "no-store"})


def http_errors(view: Callable[..., Any]) -> Callable[..., Any]:
    """Map ConnectorError to its status and JSON body; anything else is our 500."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except ConnectorError as exc:
            log = logger.warning if exc.http_status < 500 else logger.error
            log("request refused", status=exc.http_status, error=exc.code, reason=exc.message)
            if view.__name__ == "procore_webhook" and exc.http_status < 500:
                count("WebhooksRejected")
            body = exc.to_body()
            if exc.http_status >= 500:  # fixed words here; the log under this id has AWS's
                body["request_id"] = logger.get_current_keys().get("request_id")
            return json_response(exc.http_status, body)
        except Exception:  # noqa: BLE001 - a bug of ours: log it whole, answer with an id
            logger.exception("unhandled error")
            return json_response(500, {"error": "internal_error",
                                       "message": "unexpected error; see the connector logs",
                                       "correlation_id": logger.get_correlation_id(),
                                       "request_id": logger.get_current_keys().get(
                                           "request_id")})

    return wrapper


def json_object(raw: bytes | None) -> dict[str, Any]:
    if not raw:
        raise BadRequest("body is empty; a JSON object is required")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    return body


def parse_model(model: type[T], data: Mapping[str, Any]) -> T:
    """Validate ``data`` as ``model``; BadRequest naming the first bad field."""
    from pydantic import ValidationError

    try:
        return model.model_validate(data)  # type: ignore[attr-defined,no-any-return]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        raise BadRequest(f"field '{field}': {first['msg']}", field=field) from exc


def query_int(params: Mapping[str, str] | None, name: str, *, default: int | None = None,
              minimum: int | None = None, maximum: int | None = None) -> int | None:
    raw = (params or {}).get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise BadRequest(f"query parameter '{name}' must be an integer", field=name) from exc
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise BadRequest(f"query parameter '{name}' must be between {minimum} and {maximum}",
                         field=name)
    return value


def project_path(value: str) -> int:
    """A ``{project_id}`` path parameter; BadRequest naming it when it is not an id."""
    if not value.isdigit() or int(value) < 1:
        raise BadRequest("path parameter 'project_id' must be a Procore project id",
                         field="project_id")
    return int(value)


def caller(request: Any) -> Any:
    """The approver making ``request``: a verified bearer token, levels from the store (no
    record: no permissions, so every action answers 403 naming what it needs)."""
    from chalicelib.domain.permissions import User
    from chalicelib.settings import get_settings
    from chalicelib.wiring import get_store, get_verifier

    principal = get_verifier().verify(request.headers.get("authorization"))
    company_id = get_settings().procore_company_id
    user = get_store().get_user(company_id, principal.subject)
    logger.append_keys(user=principal.subject)
    return user or User(subject=principal.subject, company_id=company_id)


def optional_json_object(raw: bytes | None) -> dict[str, Any]:
    """An optional JSON object body: empty means {}."""
    return json_object(raw) if raw and raw.strip() else {}
