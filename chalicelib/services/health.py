"""GET /health (liveness) and GET /health/ready (readiness).

Liveness says only that the function answers: no stage, no checks, no versions, and no
AWS call (it answers the same while AWS is failing). Readiness probes each dependency
with a call the API function makes anyway (GetItem on the table, GetQueueAttributes on
the queues it sends to, the secrets it reads, the agent's heartbeat Query): the deployed
role may lack DescribeTable. Each check answers "ok" or one fixed reason; what AWS said
goes to the log under the request id, never into the answer.

boto3 operations: dynamodb GetItem, dynamodb Query, sqs GetQueueAttributes, and
ssm GetParameter or secretsmanager GetSecretValue (through Powertools, cached).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.errors import ConfigurationError
from chalicelib.observability import logger

OK = "ok"
UNREACHABLE = "unreachable"
ACCESS_DENIED = "access denied"
NOT_CONFIGURED = "not configured"
NEVER_SEEN = "never seen"
STALE = "stale"
_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                           "AuthorizationError", "KMS.AccessDeniedException",
                           "UnrecognizedClientException"})


def liveness() -> dict[str, str]:
    return {"status": "ok"}


def reason_for(exc: BaseException) -> str:
    """The fixed word for a failed check: the AWS error code decides, its text never shows."""
    from botocore.exceptions import ClientError

    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        if isinstance(link, ConfigurationError):
            return NOT_CONFIGURED
        if isinstance(link, ClientError):
            code = str(link.response.get("Error", {}).get("Code", ""))
            return ACCESS_DENIED if code in _DENIED_CODES else UNREACHABLE
        link = link.__cause__ or link.__context__
    return UNREACHABLE


def _probe(name: str, check: Callable[[], str]) -> str:
    try:
        return check()
    except Exception as exc:  # noqa: BLE001 - every failure is a reason, logged whole
        reason = reason_for(exc)
        logger.warning("readiness check failed", check=name, reason=reason,
                       error=f"{type(exc).__name__}: {_chain_text(exc)}")
        return reason


def _chain_text(exc: BaseException) -> str:
    """The whole chain's text (AWS's message sits on the cause): for the log only."""
    parts, link, seen = [], exc, set()
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        parts.append(str(link))
        link = link.__cause__ or link.__context__
    return " <- ".join(parts)


def readiness(*, now: str | None = None) -> dict[str, Any]:
    """Each dependency's check, overall "ok" only when every one is."""
    from chalicelib.domain.models import seconds_between, utc_now
    from chalicelib.settings import get_settings, read_secret
    from chalicelib.wiring import get_export_queue, get_inbound_queue, get_store

    settings = get_settings()
    company_id = settings.procore_company_id
    now = now or utc_now()
    agent_age: list[int] = []

    def table() -> str:
        get_store().get_company_settings(company_id)  # a GetItem the settings pages make
        return OK

    def queue(url: str, get: Callable[[], Any]) -> Callable[[], str]:
        def check() -> str:
            if not url:
                return NOT_CONFIGURED
            get().ping()
            return OK
        return check

    def webhook_token() -> str:
        read_secret(settings, "webhook_token")
        return OK

    def procore_auth() -> str:
        if not settings.procore_client_id:
            return NOT_CONFIGURED
        read_secret(settings, "procore_client_secret")
        return OK

    def relay_agent() -> str:
        beat = get_store().latest_heartbeat(company_id)
        if beat is None:
            return NEVER_SEEN
        age = max(0, int(seconds_between(beat["at"], now)))
        agent_age.append(age)
        return OK if age <= settings.export_stale_seconds else STALE

    checks = {
        "table": _probe("table", table),
        "inbound_queue": _probe("inbound_queue",
                                queue(settings.inbound_queue_url, get_inbound_queue)),
        "export_queue": _probe("export_queue",
                               queue(settings.export_queue_url, get_export_queue)),
        "webhook_token": _probe("webhook_token", webhook_token),
        "procore_auth": _probe("procore_auth", procore_auth),
        "relay_agent": _probe("relay_agent", relay_agent),
    }
    return {"status": "ok" if all(v == OK for v in checks.values()) else "degraded",
            "checks": checks, "relay_agent_age_seconds": agent_age[0] if agent_age else None}
