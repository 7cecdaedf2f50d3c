"""The approvers' web inbox, served by the connector's own API (no other server to run):
the page's static files, its sign-in configuration, who the caller is and the status
above the list. The page uses only the public API besides these.

Sign-in: in AWS, Cognito's hosted UI (authorization code with PKCE, done in the page);
in the local stack (stages local/test, with a locally held signing key) a picker of the
seeded users, whose tokens ``POST /auth/local-token`` signs. Tokens never travel in URLs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from chalice import Blueprint, Response

from chalicelib.api import caller, http_errors, json_object, json_response

web_routes = Blueprint(__name__)

WEB_DIR = Path(__file__).with_name("web")
_ASSET = re.compile(r"[a-z][a-z0-9_-]{0,40}\.(html|js|css|svg)")
_TYPES = {"html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8",
          "css": "text/css; charset=utf-8", "svg": "image/svg+xml"}
LOCAL_TOKEN_TTL_SECONDS = 8 * 3600


def _csp() -> str:
    from chalicelib.settings import get_settings

    cognito = get_settings().cognito_domain.rstrip("/")
    connect = "'self'" + (f" {cognito}" if cognito else "")
    return ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: "
            f"blob:; connect-src {connect}; frame-ancestors 'none'; base-uri 'none'; "
            "form-action 'self'")


def _file(name: str) -> Response:
    from chalicelib.errors import NotFound

    path = WEB_DIR / name
    if not _ASSET.fullmatch(name) or not path.is_file():
        raise NotFound(f"no inbox file {name!r}")
    return Response(body=path.read_text(encoding="utf-8"), status_code=200, headers={
        "Content-Type": _TYPES[name.rsplit(".", 1)[1]], "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
        "Content-Security-Policy": _csp()})


@web_routes.route("/inbox", methods=["GET"])
@http_errors
def inbox_page() -> Any:
    return _file("index.html")


@web_routes.route("/inbox/{asset}", methods=["GET"])
@http_errors
def inbox_asset(asset: str) -> Any:
    return _file(asset)


def _local_signing_key() -> str | None:
    """The local stack's private key, only where plain secrets are allowed."""
    from chalicelib.settings import PLAIN_SECRET_STAGES, get_settings

    settings = get_settings()
    key = settings.jwt_private_key_pem
    if key is None or settings.stage not in PLAIN_SECRET_STAGES:
        return None
    return key.get_secret_value()


@web_routes.route("/auth/config", methods=["GET"])
@http_errors
def auth_config() -> Any:
    """How the page signs people in (no token needed to ask)."""
    from chalicelib.settings import get_settings
    from chalicelib.wiring import get_store

    settings = get_settings()
    if _local_signing_key() is not None:
        users = get_store().list_users(settings.procore_company_id)
        return json_response(200, {"mode": "local", "users": [
            {"subject": u.subject, "name": u.name or u.subject} for u in users]})
    if settings.cognito_domain and settings.jwt_audience:
        domain = settings.cognito_domain.rstrip("/")
        return json_response(200, {"mode": "cognito", "client_id": settings.jwt_audience,
                                   "authorize_url": f"{domain}/oauth2/authorize",
                                   "token_url": f"{domain}/oauth2/token",
                                   "scope": "openid email profile"})
    return json_response(200, {"mode": "none", "message": (
        "sign-in is not configured: set COGNITO_DOMAIN and JWT_AUDIENCE")})


@web_routes.route("/auth/local-token", methods=["POST"])
@http_errors
def local_token() -> Any:
    """A token for one of the seeded users (local stack only; 404 anywhere else)."""
    from chalicelib.auth import mint_local_token
    from chalicelib.errors import BadRequest, NotFound
    from chalicelib.settings import get_settings
    from chalicelib.wiring import get_store

    key = _local_signing_key()
    if key is None:
        raise NotFound("local sign-in is not available here")
    body = json_object(web_routes.current_request.raw_body)
    subject = body.get("subject")
    if not isinstance(subject, str) or not subject:
        raise BadRequest("field 'subject' must name a user", field="subject")
    settings = get_settings()
    if get_store().get_user(settings.procore_company_id, subject) is None:
        raise NotFound(f"no user {subject!r} in this connector")
    token = mint_local_token(key, issuer=settings.jwt_issuer,
                             audience=settings.jwt_audience or None, subject=subject,
                             username=subject, ttl_seconds=LOCAL_TOKEN_TTL_SECONDS)
    return json_response(200, {"token": token, "expires_in": LOCAL_TOKEN_TTL_SECONDS})


@web_routes.route("/me", methods=["GET"])
@http_errors
def me() -> Any:
    """The caller, their levels and what the page may offer them."""
    from chalicelib.domain.permissions import Permission, can
    from chalicelib.services.users import public

    user = caller(web_routes.current_request)
    return json_response(200, {**public(user), "can": {
        "read_inbox": can(user, Permission.READ_INBOX),
        "accept_or_reject": can(user, Permission.ACCEPT_OR_REJECT),
        "view_accountant_report": can(user, Permission.VIEW_ACCOUNTANT_REPORT),
        "view_job_costs_report": can(user, Permission.VIEW_JOB_COSTS_REPORT_COMPANY),
        "view_unsyncable_report": can(user, Permission.VIEW_UNSYNCABLE_DIRECT_COSTS),
        "view_reconciliation_report": can(user, Permission.VIEW_RECONCILIATION_REPORT),
        "manage_users": can(user, Permission.MANAGE_USERS),
        "link_projects": can(user, Permission.ADD_PROJECT_TO_ERP),
        "link_companies": can(user, Permission.LINK_COMPANIES),
        "unlink": can(user, Permission.UNLINK)}})


@web_routes.route("/status", methods=["GET"])
@http_errors
def inbox_status() -> Any:
    from chalicelib.wiring import get_inbox_status

    return json_response(200, get_inbox_status().status(caller(web_routes.current_request)))
