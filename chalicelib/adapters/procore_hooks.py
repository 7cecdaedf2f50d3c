"""Procore's webhooks API for one company: hooks, their triggers, the resources on offer.

Company scope, REST v1.0 (procore-spec ``openapi/RestV10WebhooksHooks*.json``,
``RestV10WebhooksResourcesGet.json``; request bodies from ``sdk/`` of the same names): every
call names ``company_id``, in the query (GET, DELETE) or the body (POST, PATCH). Answers
become typed records here; the registration logic (``services/webhook_registration``) never
sees Procore's JSON.

Errors: the ``ProcoreClient`` mapping, plus one translation: a 401 or 403 on these paths
means the app may not manage the company's webhooks, so ``WebhooksPermissionError`` names
the permission Procore wants (Admin on the company's Webhooks tool). A bulk answer of 207
(some triggers refused, the others made) raises ``FatalUpstreamError`` naming each refusal:
running the registration again picks up from what was made.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.procore_http import ProcoreAuthError
from chalicelib.errors import FatalUpstreamError

if TYPE_CHECKING:
    from chalicelib.adapters.procore import ProcoreClient

HOOKS = "/rest/v1.0/webhooks/hooks"
RESOURCES = "/rest/v1.0/webhooks/resources"
BULK_LIMIT = 500  # "Max 500 triggers" per bulk call
MASK_KEEP = 5  # Procore shows "only the last 5 characters" of the Authorization header
EVENT_TYPES = ("create", "update", "delete")
PERMISSION = "Admin on the company's Webhooks tool (Company Admin > Webhooks)"


class WebhooksPermissionError(FatalUpstreamError):
    """Procore answered 401/403 on its webhooks API: the app lacks the permission."""

    code = "upstream_forbidden"


@dataclass(frozen=True)
class Hook:
    """A hook as Procore shows it; ``authorization_hint`` is its masked Authorization header
    (Procore shows only the last 5 characters)."""

    id: int
    namespace: str | None
    destination_url: str | None
    api_version: str | None
    authorization_hint: str | None


@dataclass(frozen=True)
class Trigger:
    id: int
    resource_name: str
    event_type: str  # lower case: Procore answers the enum (CREATE...), payloads say create
    resource_id: int | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.resource_name, self.event_type


class ProcoreHooks:
    """The hooks of company ``client.company_id``; ``client`` is a ``ProcoreClient``."""

    def __init__(self, client: ProcoreClient) -> None:
        self._client = client
        self.company_id = client.company_id

    # --- reads ---------------------------------------------------------------------------
    def list_hooks(self, namespace: str) -> list[Hook]:
        """The company's hooks of ``namespace`` (Procore filters; so do we, to be sure)."""
        answer = self._call(self._client.get, HOOKS,
                            {"company_id": self.company_id, "namespace": namespace})
        hooks = [_hook(item) for item in _list(answer, "hooks")]
        return [h for h in hooks if h.namespace == namespace]

    def list_triggers(self, hook_id: int) -> list[Trigger]:
        answer = self._call(self._client.get, f"{HOOKS}/{int(hook_id)}/triggers",
                            {"company_id": self.company_id})
        return [_trigger(item) for item in _list(answer, "triggers")]

    def list_resources(self) -> dict[str, frozenset[str]]:
        """Resource name -> the events a company trigger may name for it."""
        answer = self._call(self._client.get, RESOURCES, {"company_id": self.company_id})
        offered: dict[str, frozenset[str]] = {}
        for item in _list(answer, "webhook resources"):
            name = item.get("resource_name") or item.get("name")
            if not isinstance(name, str) or not name:
                raise FatalUpstreamError("Procore's webhook resources name no resource: the "
                                         "triggers to register cannot be worked out")
            excluded = {str(e).lower() for e in item.get("except") or ()}
            offered[name] = frozenset(e for e in EVENT_TYPES
                                      if item.get(e) and e not in excluded)
        return offered

    # --- writes --------------------------------------------------------------------------
    def create_hook(self, namespace: str, destination_url: str, api_version: str,
                    authorization: str) -> Hook:
        body = {"company_id": self.company_id,
                "hook": _hook_body(namespace, destination_url, api_version, authorization)}
        return _hook(self._call(self._client.post, HOOKS, body))

    def update_hook(self, hook_id: int, namespace: str, destination_url: str,
                    api_version: str, authorization: str) -> Hook:
        body = {"company_id": self.company_id,
                "hook": _hook_body(namespace, destination_url, api_version, authorization)}
        return _hook(self._call(self._client.patch, f"{HOOKS}/{int(hook_id)}", body))

    def delete_hook(self, hook_id: int) -> None:
        self._call(self._client.delete, f"{HOOKS}/{int(hook_id)}",
                   {"company_id": self.company_id})

    def add_triggers(self, hook_id: int, api_version: str,
                     keys: Iterable[tuple[str, str]]) -> list[Trigger]:
        """Bulk create, ``BULK_LIMIT`` per call; a partial refusal (207) raises."""
        wanted = [{"resource_name": name, "event_type": event} for name, event in keys]
        made: list[Trigger] = []
        path = f"{HOOKS}/{int(hook_id)}/triggers/bulk"
        for start in range(0, len(wanted), BULK_LIMIT):
            chunk = wanted[start:start + BULK_LIMIT]
            answer = self._call(self._client.post, path, {
                "company_id": self.company_id, "api_version": api_version,
                "triggers": chunk})
            if not isinstance(answer, dict) or not isinstance(answer.get("success"), list):
                raise FatalUpstreamError(f"Procore POST {path} answered an unexpected shape")
            made += [_trigger(item) for item in answer["success"]]
            refused = answer.get("errors") or []
            if refused:
                raise FatalUpstreamError(
                    f"Procore refused {len(refused)} of {len(chunk)} triggers: "
                    + "; ".join(_refusal(item) for item in refused[:10]),
                    refused=refused[:10])
        return made

    def delete_trigger(self, hook_id: int, trigger_id: int) -> None:
        self._call(self._client.delete, f"{HOOKS}/{int(hook_id)}/triggers/{int(trigger_id)}",
                   {"company_id": self.company_id})

    # --- errors --------------------------------------------------------------------------
    def _call(self, verb: Any, path: str, *args: Any) -> Any:
        try:
            return verb(path, *args)
        except ProcoreAuthError as exc:
            if "path" not in exc.details:  # the token request itself: our credentials
                raise
            raise self._forbidden(401, path) from exc
        except FatalUpstreamError as exc:
            if exc.details.get("status") == 403:
                raise self._forbidden(403, path) from exc
            raise

    def _forbidden(self, status: int, path: str) -> WebhooksPermissionError:
        return WebhooksPermissionError(
            f"Procore refused {path} (HTTP {status}): the connector's Procore app needs "
            f"{PERMISSION} in company {self.company_id}, and the app installed there",
            status=status, path=path, company_id=self.company_id)


def _hook_body(namespace: str, destination_url: str, api_version: str,
               authorization: str) -> dict[str, Any]:
    return {"api_version": api_version, "namespace": namespace,
            "destination_url": destination_url,
            "destination_headers": {"Authorization": authorization}}


def _list(answer: Any, what: str) -> list[Mapping[str, Any]]:
    if not isinstance(answer, list) or not all(isinstance(i, dict) for i in answer):
        raise FatalUpstreamError(f"Procore's {what} are not a list of objects")
    return answer


def _hook(item: Any) -> Hook:
    if not isinstance(item, dict) or item.get("id") is None:
        raise FatalUpstreamError("Procore did not answer a webhooks hook")
    headers = item.get("destination_headers") or {}
    hint = headers.get("Authorization", headers.get("authorization"))
    return Hook(id=int(item["id"]), namespace=item.get("namespace"),
                destination_url=item.get("destination_url"),
                api_version=item.get("api_version"),
                authorization_hint=hint if isinstance(hint, str) else None)


def _trigger(item: Any) -> Trigger:
    if not isinstance(item, dict) or item.get("id") is None:
        raise FatalUpstreamError("Procore did not answer a webhooks trigger")
    resource_id = item.get("resource_id")
    return Trigger(id=int(item["id"]), resource_name=str(item.get("resource_name")),
                   event_type=str(item.get("event_type") or "").lower(),
                   resource_id=None if resource_id is None else int(resource_id))


def _refusal(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)[:100]
    trigger = item.get("trigger")
    what = (f"{trigger.get('resource_name')}/{trigger.get('event_type')}"
            if isinstance(trigger, dict) else str(trigger))
    return f"{what}: {item.get('errors')}"[:200]
