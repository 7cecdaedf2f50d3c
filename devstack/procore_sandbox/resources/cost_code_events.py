"""Project cost codes one by one, and the ``Cost Codes`` webhook their writes fire.

``CostCodesMixin`` (``cost_codes``) lists, creates and syncs; this part shows, updates and
deletes one code and fires the webhook Procore lists for the resource
(procore-spec ``docs/webhook_resources.json``: ``Cost Codes`` create/update/delete), in
the payload version set (``webhook_payloads``):

* ``GET /rest/v1.0/cost_codes/{id}?project_id=`` and ``PATCH /rest/v1.0/cost_codes/{id}``
  ``{project_id*, cost_code*: {...}}`` (``openapi/RestV10CostCodesId{Get,Patch}.json``; the
  PATCH body is checked key by key like the POST's, refusals answer 400).
* ``DELETE /rest/v1.0/cost_codes/{id}?project_id=`` answers 200, empty (the reference's
  excerpts have no cost code DELETE; the webhook's ``delete`` event and Procore's web UI
  have one). A code with sub codes is refused (400) rather than taking them along.
* Events: POST ``create``; PATCH ``update``; a sync ``create`` per code it creates and
  ``update`` per code it changes (an unchanged update fires nothing); DELETE ``delete``.
  ``update_cost_code`` / ``delete_cost_code`` do the same as a user of the web UI.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from devstack.procore_sandbox.resources.common import ORIGIN_ID_DATA, ResourceBase, _check_body
from devstack.procore_sandbox.state import (
    Actor,
    SandboxError,
    _json_body,
    _Request,
    _Response,
    _wrapped,
)
from devstack.procore_sandbox.webhook_payloads import WEB_APPLICATION_ID, WEB_USER_ID, _Outgoing

COST_CODES_RESOURCE = "Cost Codes"


class CostCodeEventsMixin(ResourceBase):
    """One project cost code: show, update, delete; the ``Cost Codes`` webhook."""

    def _cost_code_event(
        self, action: str, record: Mapping[str, Any], actor: Actor, out: list[_Outgoing]
    ) -> None:
        self._event(
            action, COST_CODES_RESOURCE, record["id"], record["project_id"], actor, out
        )

    def _cost_code_in(self, project_id: int, raw: object) -> dict[str, Any]:
        """A cost code of ``project_id`` (the project's own or a sub job's); 404 otherwise."""
        try:
            code_id = int(str(raw))
        except ValueError:
            code_id = -1
        record = self.state.cost_codes.get(project_id, {}).get(code_id)
        if record is None:
            raise SandboxError(404, f"Cost code {raw} not found")
        return record

    def _update_cost_code(
        self, record: dict[str, Any], fields: Mapping[str, Any], actor: Actor,
        out: list[_Outgoing],
    ) -> dict[str, Any]:
        from devstack.procore_sandbox.resources.cost_codes import (
            COST_CODE_REQUEST_FIELDS,
            _refresh_full_codes,
        )

        _check_body(fields, COST_CODE_REQUEST_FIELDS)
        pid, sid = record["project_id"], record["sub_job_id"]
        self._write_record(
            fields,
            record,
            validate=self._cost_code_validator(pid, sid),
            pool=self._biller_codes(pid, sid),
            create=lambda: record,
            origin_fields=ORIGIN_ID_DATA,
        )
        _refresh_full_codes(self.state.cost_codes[pid], record)
        self._cost_code_event("update", record, actor, out)
        return record

    def _delete_cost_code(
        self, record: dict[str, Any], actor: Actor, out: list[_Outgoing]
    ) -> None:
        codes = self.state.cost_codes[record["project_id"]]
        if any(c.get("parent_id") == record["id"] for c in codes.values()):
            raise SandboxError(400, {"base": ["A cost code with sub cost codes can't be deleted"]})
        del codes[record["id"]]
        self._cost_code_event("delete", record, actor, out)

    # --- handlers ------------------------------------------------------------------------
    def _h_get_cost_code(self, req: _Request, m: re.Match[str]) -> _Response:
        record = self._cost_code_in(self._project_param(req), m["id"])
        return _Response(200, self._cost_code_answer(record))

    def _h_update_cost_code(self, req: _Request, m: re.Match[str]) -> _Response:
        from devstack.procore_sandbox.resources.cost_codes import refusals_as

        with refusals_as(400):
            body = _json_body(req)
            pid = self._body_project(req, body)
            record = self._cost_code_in(pid, m["id"])
            fields = _wrapped(body, "cost_code")
            self._update_cost_code(record, fields, self._actor(req), req.events)
            return _Response(200, self._cost_code_answer(record))

    def _h_delete_cost_code(self, req: _Request, m: re.Match[str]) -> _Response:
        record = self._cost_code_in(self._project_param(req), m["id"])
        self._delete_cost_code(record, self._actor(req), req.events)
        return _Response(200)

    # --- helpers (a user of Procore's web UI; the webhook fires) -------------------------------
    def update_cost_code(
        self, code_id: int, *, as_application: str = WEB_APPLICATION_ID,
        as_user_id: int = WEB_USER_ID, **fields: Any,
    ) -> dict[str, Any]:
        """Change ``code``, ``name``, ``parent_id``... of a project cost code."""
        actor = Actor(as_application, as_user_id)
        return dict(self._helper(
            lambda out: self._cost_code_answer(
                self._update_cost_code(self._any_cost_code(code_id), fields, actor, out))))

    def delete_cost_code(
        self, code_id: int, *, as_application: str = WEB_APPLICATION_ID,
        as_user_id: int = WEB_USER_ID,
    ) -> None:
        actor = Actor(as_application, as_user_id)
        self._helper(
            lambda out: self._delete_cost_code(self._any_cost_code(code_id), actor, out))

    def _any_cost_code(self, code_id: int) -> dict[str, Any]:
        for codes in self.state.cost_codes.values():
            if code_id in codes:
                return codes[code_id]
        raise SandboxError(404, f"Cost code {code_id} not found")
