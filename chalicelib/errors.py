"""Domain exception tree.

Adapters translate library errors (botocore ClientError, HTTP failures) into these with
``raise ... from``; app.py maps them to HTTP answers in exactly one place
(``http_status_for``). Every error carries a message meant for the person who sees it.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of every error the connector raises on purpose."""

    http_status = 500
    code = "internal_error"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_body(self) -> dict[str, object]:
        body: dict[str, object] = {"error": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


# --- client mistakes (4xx) -------------------------------------------------------------
class BadRequest(ConnectorError):
    """Malformed JSON or a body of the wrong shape; the message names the field."""

    http_status = 400
    code = "bad_request"


class Unauthorized(ConnectorError):
    """Missing or wrong credentials (webhook token, bearer JWT)."""

    http_status = 401
    code = "unauthorized"


class Forbidden(ConnectorError):
    """The caller is known but the permission matrix denies the action."""

    http_status = 403
    code = "forbidden"


class NotFound(ConnectorError):
    http_status = 404
    code = "not_found"


class Conflict(ConnectorError):
    """A transition not allowed from the current status, or a lost race."""

    http_status = 409
    code = "conflict"


# --- our own or downstream trouble (5xx) -----------------------------------------------
class ServiceUnavailable(ConnectorError):
    """A dependency (queue, table) is unavailable; nothing was half-written."""

    http_status = 503
    code = "service_unavailable"


class ConfigurationError(ConnectorError):
    """The deployment is misconfigured (missing setting or secret)."""

    http_status = 500
    code = "configuration_error"


class UpstreamError(ConnectorError):
    """A remote API (Procore) failed. ``retriable`` says whether trying again may help."""

    http_status = 502
    code = "upstream_error"
    retriable = False


class RetriableUpstreamError(UpstreamError):
    code = "upstream_unavailable"
    retriable = True


class FatalUpstreamError(UpstreamError):
    code = "upstream_refused"
    retriable = False


class UpstreamNotFound(FatalUpstreamError):
    """The remote resource does not exist (deleted, or never visible to us)."""

    code = "upstream_not_found"
