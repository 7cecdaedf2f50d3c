"""Procore's webhooks API: hooks, their triggers, and the resources a trigger may name.

Field for field as Procore documents it (procore-spec ``openapi/RestV10WebhooksHooks*.json``
and ``RestV10WebhooksResourcesGet.json``; request bodies from ``sdk/`` of the same names,
whose OpenAPI text is empty; the bodies of ``docs/webhook_payloads.json``
``hooks_api_examples``):

* Scope: every call names a company (``company_id``) or a project (``project_id``), in the
  query (GET, DELETE) or the body (POST, PATCH; the query is read too). Neither: 400.
  Another company: 403; an unknown project: 404. A hook belongs to the scope it was made
  in; asked for from another scope it does not exist (404), nor do its triggers.
* Hooks: ``{api_version, namespace, destination_url, destination_headers: {Authorization}}``
  under ``hook``. ``api_version`` and ``destination_url`` are required on create (the SDK's
  ``required``). Answers: ``HOOK_KEYS``; ``destination_headers.Authorization`` shows only
  its last 5 characters (the schema's description). ``GET ...hooks`` filters on
  ``namespace`` and ``api_version``. DELETE answers 200, empty, and takes the triggers.
* Triggers: ``{api_version, trigger: {resource_name, event_type}}``; bulk
  ``{api_version, triggers: [...]}`` (at most 500: 413) answers ``{"success": [...]}``, or
  207 with ``"errors"`` too when some were refused (the others are made). Bulk DELETE
  ``{triggers: [ids]}`` likewise. ``event_type`` is answered as the schema's enum
  (``CREATE``/``UPDATE``/``DELETE``); the request takes either case (the docs' body example
  writes ``update``).
* ``GET /rest/v1.0/webhooks/resources``: the resources of the scope with their events
  (``RESOURCE_EVENTS``, transcribed from ``docs/webhook_resources.json``; a company scope
  also offers every project resource: a company hook hears all its projects).
* Delivery: an event whose resource and event a hook's trigger names (a company hook: any
  project of the company; a project hook: its project) is delivered to the hook's
  ``destination_url`` with its Authorization, in its ``api_version`` ("v2": v2.0), through
  the same queues and policy as the constructor's ``webhook_url`` (which keeps working).
  Only loopback destinations are POSTed to: the sandbox never reaches beyond the machine.

Where the reference is silent the sandbox is strict (docs/decisions.md, "The sandbox serves
Procore's webhooks API"): an undocumented key is refused, ``destination_url`` must be an
absolute https URL (http only on a loopback host), a trigger must name a resource and event
of the scope's list and may not repeat one of its hook. Hook writes fire no webhook.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from devstack.procore_sandbox.resources.common import NOT_PERMITTED, ResourceBase, _sync_id
from devstack.procore_sandbox.resources.hook_fields import (
    EVENT_TYPES,
    PAYLOAD_OF,
    RESOURCE_EVENTS,
    bulk_answer,
    bulk_list,
    check_api_version,
    check_keys,
    hook_changes,
    hook_view,
    offered,
    owner,
    resource_view,
    trigger_view,
)
from devstack.procore_sandbox.state import (
    LOOPBACK_HOSTS,
    Actor,
    Route,
    SandboxError,
    _json_body,
    _now_iso,
    _Request,
    _Response,
)
from devstack.procore_sandbox.webhook_payloads import _Outgoing

__all__ = ["RESOURCE_EVENTS", "HooksMixin"]


class HooksMixin(ResourceBase):
    """``/rest/v1.0/webhooks/hooks`` (+ triggers) and ``/rest/v1.0/webhooks/resources``."""

    # the constructor's webhook (WebhooksMixin): a hook's delivery borrows these slots
    events: list[dict[str, Any]]
    _webhook_url: str | None
    _webhook_authorization: str | None
    _payload_version: str

    ROUTES: ClassVar[tuple[Route, ...]] = (
        ("GET", r"/rest/v1\.0/webhooks/resources", "_h_list_webhook_resources", True),
        ("GET", r"/rest/v1\.0/webhooks/hooks", "_h_list_hooks", True),
        ("POST", r"/rest/v1\.0/webhooks/hooks", "_h_create_hook", True),
        ("PATCH", r"/rest/v1\.0/webhooks/hooks/(?P<id>\d+)", "_h_update_hook", True),
        ("DELETE", r"/rest/v1\.0/webhooks/hooks/(?P<id>\d+)", "_h_delete_hook", True),
        ("GET", r"/rest/v1\.0/webhooks/hooks/(?P<hook>\d+)/triggers", "_h_list_triggers", True),
        ("POST", r"/rest/v1\.0/webhooks/hooks/(?P<hook>\d+)/triggers", "_h_create_trigger",
         True),
        ("POST", r"/rest/v1\.0/webhooks/hooks/(?P<hook>\d+)/triggers/bulk",
         "_h_bulk_create_triggers", True),
        ("DELETE", r"/rest/v1\.0/webhooks/hooks/(?P<hook>\d+)/triggers/bulk",
         "_h_bulk_delete_triggers", True),
        ("DELETE", r"/rest/v1\.0/webhooks/hooks/(?P<hook>\d+)/triggers/(?P<id>\d+)",
         "_h_delete_trigger", True),
    )

    if TYPE_CHECKING:  # ProjectsMixin's

        def _project(self, project_id: int | str) -> dict[str, Any]: ...

    # --- delivery to registered hooks ------------------------------------------------------
    def _event(self, action: str, resource_name: str, resource_id: int,
               project_id: int | None, actor: Actor, out: list[_Outgoing],
               related: list[dict[str, Any]] | None = None) -> None:
        """The constructor's webhook as before, then one payload per matching hook.

        Each hook's payload is built by the same builder in the hook's version (its URL,
        Authorization and version stand in for the constructor's while it runs, under the
        state lock); only the first build is recorded in ``events``."""
        super()._event(action, resource_name, resource_id, project_id,  # type: ignore[misc]
                       actor, out, related)
        for hook in self._hooks_hearing(resource_name, action, project_id):
            saved = (self._webhook_url, self._webhook_authorization, self._payload_version)
            recorded = len(self.events)
            try:
                self._webhook_url = hook["destination_url"]
                self._webhook_authorization = hook["authorization"]
                self._payload_version = PAYLOAD_OF[hook["api_version"]]
                super()._event(action, resource_name, resource_id,  # type: ignore[misc]
                               project_id, actor, out, related)
            finally:
                self._webhook_url, self._webhook_authorization, self._payload_version = saved
                del self.events[recorded:]

    def _hooks_hearing(self, resource_name: str, action: str,
                       project_id: int | None) -> list[dict[str, Any]]:
        found = []
        for hook_id, hook in sorted(self.state.hooks.items()):
            url = urlsplit(hook.get("destination_url") or "")
            if url.hostname not in LOOPBACK_HOSTS:
                continue
            own_project = hook["owned_by_project_id"]
            if own_project is not None and own_project != project_id:
                continue
            if any((t["resource_name"], t["event_type"]) == (resource_name, action)
                   for t in self.state.hook_triggers.get(hook_id, {}).values()):
                found.append(hook)
        return found

    # --- scope ------------------------------------------------------------------------------
    def _hook_scope(self, req: _Request, body: Mapping[str, Any]) -> tuple[str, int]:
        """``("company", id)`` or ``("project", id)`` from the body, else the query."""
        for name in ("company_id", "project_id"):
            raw = body.get(name)
            if raw is None or raw == "":
                raw = req.param(name)
            if raw is None or raw == "":
                continue
            scope_id = _sync_id(raw)
            if scope_id is None:
                raise SandboxError(400, f"{name} must be an integer")
            if name == "company_id":
                if scope_id != self.company_id:
                    raise SandboxError(403, f"No access to company {raw}")
                return "company", scope_id
            self._project(scope_id)
            return "project", scope_id
        raise SandboxError(400, "param is missing or the value is empty: company_id or "
                                "project_id (supply either)")

    def _hook_in(self, scope: tuple[str, int], raw: object) -> dict[str, Any]:
        hook_id = _sync_id(raw)
        record = self.state.hooks.get(hook_id) if hook_id is not None else None
        if record is None or owner(record) != scope:
            raise SandboxError(404, f"Webhooks Hook {raw} not found")
        return record

    # --- hooks -------------------------------------------------------------------------------
    def _h_list_hooks(self, req: _Request, _: re.Match[str]) -> _Response:
        scope = self._hook_scope(req, {})
        namespace, version = req.param("namespace"), req.param("api_version")
        hooks = [
            hook_view(h) for _, h in sorted(self.state.hooks.items())
            if owner(h) == scope
            and (namespace is None or h.get("namespace") == namespace)
            and (version is None or h.get("api_version") == version)
        ]
        return _Response(200, hooks)

    def _h_create_hook(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        scope = self._hook_scope(req, body)
        changes = hook_changes(body, creating=True)
        hook_id = self.state.next_id()
        record: dict[str, Any] = {
            "id": hook_id, "api_version": None, "namespace": None, "destination_url": None,
            "authorization": None,
            "owned_by_company_id": scope[1] if scope[0] == "company" else None,
            "owned_by_project_id": scope[1] if scope[0] == "project" else None,
            "owned_by_user_id": self._actor(req).user_id, "created_at": _now_iso(),
        }
        record.update(changes)
        record["updated_at"] = record["created_at"]
        self.state.hooks[hook_id] = record
        self.state.hook_triggers[hook_id] = {}
        return _Response(201, hook_view(record))

    def _h_update_hook(self, req: _Request, m: re.Match[str]) -> _Response:
        body = _json_body(req)
        record = self._hook_in(self._hook_scope(req, body), m["id"])
        record.update(hook_changes(body, creating=False))
        record["updated_at"] = _now_iso()
        return _Response(200, hook_view(record))

    def _h_delete_hook(self, req: _Request, m: re.Match[str]) -> _Response:
        record = self._hook_in(self._hook_scope(req, {}), m["id"])
        del self.state.hooks[record["id"]]
        self.state.hook_triggers.pop(record["id"], None)
        return _Response(200)

    # --- triggers ----------------------------------------------------------------------------
    def _h_list_triggers(self, req: _Request, m: re.Match[str]) -> _Response:
        hook = self._hook_in(self._hook_scope(req, {}), m["hook"])
        triggers = self.state.hook_triggers[hook["id"]]
        return _Response(200, [trigger_view(t) for _, t in sorted(triggers.items())])

    def _h_create_trigger(self, req: _Request, m: re.Match[str]) -> _Response:
        body = _json_body(req)
        hook = self._hook_in(self._hook_scope(req, body), m["hook"])
        check_keys(body, ("company_id", "project_id", "api_version", "trigger"))
        check_api_version(body)
        record = self._add_trigger(req, hook, body.get("trigger"))
        return _Response(201, trigger_view(record))

    def _h_bulk_create_triggers(self, req: _Request, m: re.Match[str]) -> _Response:
        body = _json_body(req)
        hook = self._hook_in(self._hook_scope(req, body), m["hook"])
        check_keys(body, ("company_id", "project_id", "api_version", "triggers"))
        items = bulk_list(body)
        check_api_version(body)
        made: list[dict[str, Any]] = []
        refused: list[dict[str, Any]] = []
        for item in items:
            try:
                made.append(trigger_view(self._add_trigger(req, hook, item)))
            except SandboxError as exc:
                refused.append({"trigger": item, "errors": exc.errors})
        return bulk_answer(made, refused)

    def _h_bulk_delete_triggers(self, req: _Request, m: re.Match[str]) -> _Response:
        body = _json_body(req)
        hook = self._hook_in(self._hook_scope(req, body), m["hook"])
        check_keys(body, ("company_id", "project_id", "triggers"))
        triggers = self.state.hook_triggers[hook["id"]]
        done: list[int] = []
        refused: list[dict[str, Any]] = []
        for raw in bulk_list(body):
            trigger_id = _sync_id(raw) if not isinstance(raw, bool) else None
            if trigger_id is None or trigger_id not in triggers:
                refused.append({"trigger": raw, "errors": {"id": ["not found"]}})
                continue
            del triggers[trigger_id]
            done.append(trigger_id)
        return bulk_answer(done, refused)

    def _h_delete_trigger(self, req: _Request, m: re.Match[str]) -> _Response:
        hook = self._hook_in(self._hook_scope(req, {}), m["hook"])
        triggers = self.state.hook_triggers[hook["id"]]
        if int(m["id"]) not in triggers:
            raise SandboxError(404, f"Webhooks Trigger {m['id']} not found")
        del triggers[int(m["id"])]
        return _Response(200)

    def _add_trigger(self, req: _Request, hook: dict[str, Any], item: object) -> dict[str, Any]:
        if not isinstance(item, dict):
            raise SandboxError(422, {"trigger": ["can't be blank"]})
        errors = {key: [NOT_PERMITTED] for key in item
                  if key not in ("resource_name", "event_type")}
        name, event = item.get("resource_name"), item.get("event_type")
        scope = "company" if hook["owned_by_company_id"] is not None else "project"
        on_offer = offered(scope)
        if not isinstance(name, str) or not name.strip():
            errors["resource_name"] = ["can't be blank"]
        elif name not in on_offer:
            errors["resource_name"] = [f"is not a webhook resource of the {scope} scope"]
        event_name = event.lower() if isinstance(event, str) else None
        if event_name is None or not event_name:
            errors["event_type"] = ["can't be blank"]
        elif event_name not in EVENT_TYPES:
            errors["event_type"] = ["is not included in the list"]
        elif "resource_name" not in errors and event_name not in on_offer[str(name)]:
            errors["event_type"] = [f"{event_name} is not offered for {name}"]
        triggers = self.state.hook_triggers[hook["id"]]
        if not errors and any((t["resource_name"], t["event_type"]) == (name, event_name)
                              for t in triggers.values()):
            errors["resource_name"] = ["has already been taken (same event on this hook)"]
        if errors:
            raise SandboxError(422, errors)
        trigger_id = self.state.next_id()
        record = {
            "id": trigger_id, "webhook_hook_id": hook["id"], "resource_name": name,
            "resource_id": None, "event_type": event_name,
            "company_id": hook["owned_by_company_id"],
            "project_id": hook["owned_by_project_id"], "user_id": self._actor(req).user_id,
        }
        triggers[trigger_id] = record
        return record

    # --- resources ---------------------------------------------------------------------------
    def _h_list_webhook_resources(self, req: _Request, _: re.Match[str]) -> _Response:
        scope, _scope_id = self._hook_scope(req, {})
        return _Response(200, [resource_view(name, events)
                               for name, events in sorted(offered(scope).items())])
