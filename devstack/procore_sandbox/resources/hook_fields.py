"""The pieces of the sandbox's webhooks API that need no state: the resources on offer
(``RESOURCE_EVENTS``), the answers' views, and the checks of a hook or trigger body.

``hooks`` (the ``HooksMixin``) serves them; its docstring says what Procore documents and
where the sandbox is stricter.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from devstack.procore_sandbox.resources.common import NOT_PERMITTED
from devstack.procore_sandbox.state import LOOPBACK_HOSTS, SandboxError, _Response

#: what ``api_version`` of a hook or trigger may say: the docs' body example writes "v2";
#: the payload versions the sandbox delivers (v2.0, v3.0, v4.0)
HOOK_API_VERSIONS = ("v2", "v3", "v2.0", "v3.0", "v4.0")
EVENT_TYPES = ("create", "update", "delete")
#: a hook's api_version -> the payload version delivered
PAYLOAD_OF = {"v2": "v2.0", "v3": "v3.0", "v2.0": "v2.0", "v3.0": "v3.0", "v4.0": "v4.0"}
BULK_LIMIT = 500  # RestV10WebhooksHooksHookIdTriggersBulk{Post,Delete}: "Max 500 triggers."
MASK_KEEP = 5  # "masked to only show the last 5 characters"
HOOK_KEYS = ("id", "api_version", "destination_headers", "destination_url",
             "owned_by_company_id", "owned_by_project_id", "owned_by_user_id", "namespace")
TRIGGER_KEYS = ("id", "webhook_hook_id", "resource_name", "resource_id", "event_type",
                "company_id", "project_id", "user_id")
HOOK_FIELDS = ("api_version", "namespace", "destination_url", "destination_headers")

_C, _CU, _CUD = ("create",), ("create", "update"), EVENT_TYPES
#: scope -> resource name -> events (docs/webhook_resources.json ``events_by_scope``, a
#: capture of this endpoint on Procore's sandbox; only its transcribed subset is served)
RESOURCE_EVENTS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "company": {
        "Projects": _CU, "Company Vendors": _CU, "Company Users": _CU,
        "Line Item Types": _CUD, "Standard Cost Codes": _CUD,
        "Standard Cost Code Lists": _C, "ERP Requests": _CUD,
    },
    "project": {
        **{name: _CUD for name in (
            "Budget Line Items", "Budget Changes", "Budget Change Adjustments",
            "Budget Change Adjustment Line Items", "Budget Modifications", "Change Events",
            "Change Event Line Items", "Change Order Packages", "Change Order Requests",
            "Potential Change Orders", "Potential Change Order Line Items",
            "Payment Applications", "Contract Payments", "Cost Codes", "Direct Costs",
            "Direct Cost Line Items", "Draw Requests", "Prime Contracts",
            "Prime Contract Line Items", "Project Vendors", "Project Users",
            "Purchase Order Contracts", "Purchase Order Contract Line Items", "Sub Jobs",
            "Work Order Contracts", "Work Order Contract Line Items")},
        "Budget View Snapshots": _C,
    },
}


def mask(value: str | None) -> str | None:
    """The last 5 characters behind a fixed run of stars: neither the secret nor its length."""
    if value is None:
        return None
    return "*" * 8 + value[-MASK_KEEP:] if len(value) > MASK_KEEP else "*" * 8


def hook_view(record: Mapping[str, Any]) -> dict[str, Any]:
    view = {key: copy.deepcopy(record.get(key)) for key in HOOK_KEYS}
    view["destination_headers"] = {"Authorization": mask(record.get("authorization"))}
    return view


def trigger_view(record: Mapping[str, Any]) -> dict[str, Any]:
    view = {key: record.get(key) for key in TRIGGER_KEYS}
    view["event_type"] = str(record["event_type"]).upper()
    return view


def destination_problem(url: object) -> str | None:
    if not isinstance(url, str) or not url.strip():
        return "can't be blank"
    parts = urlsplit(url.strip())
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return None  # the sandbox's own allowance: receivers on this machine in tests
    return "must be an absolute https URL"



def owner(record: Mapping[str, Any]) -> tuple[str, int]:
    if record.get("owned_by_company_id") is not None:
        return "company", int(record["owned_by_company_id"])
    return "project", int(record["owned_by_project_id"])


def offered(scope: str) -> dict[str, tuple[str, ...]]:
    """A company hook hears every project of the company: it may name project resources."""
    if scope == "company":
        return {**RESOURCE_EVENTS["project"], **RESOURCE_EVENTS["company"]}
    return dict(RESOURCE_EVENTS["project"])


def resource_view(name: str, events: tuple[str, ...]) -> dict[str, Any]:
    """The schema's keys, plus ``resource_name``: the schema names none, and a list of
    resources without their names could not be used (docs/decisions.md). ``tools`` is
    null: the reference gives no tool per resource."""
    category = "Company" if name in RESOURCE_EVENTS["company"] else "Project"
    return {
        "resource_name": name, "api_version": "v1.0", "product_category": category,
        "tools": None, "except": [e for e in EVENT_TYPES if e not in events],
        **{e: (e if e in events else None) for e in EVENT_TYPES},
    }


def check_keys(body: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    extra = {key: [NOT_PERMITTED] for key in body if key not in allowed}
    if extra:
        raise SandboxError(422, extra)


def check_api_version(body: Mapping[str, Any]) -> None:
    version = body.get("api_version")
    if version is None or version == "":
        raise SandboxError(422, {"api_version": ["can't be blank"]})
    if version not in HOOK_API_VERSIONS:
        raise SandboxError(422, {"api_version": ["is not included in the list"]})


def hook_changes(body: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    """The fields a create or update of a hook writes; every problem at once, 422."""
    check_keys(body, ("company_id", "project_id", "hook"))
    hook = body.get("hook")
    if not isinstance(hook, dict):
        raise SandboxError(422, {"hook": ["can't be blank"]})
    errors: dict[str, list[str]] = {key: [NOT_PERMITTED] for key in hook
                                    if key not in HOOK_FIELDS}
    changes: dict[str, Any] = {}
    if "api_version" in hook or creating:
        try:
            check_api_version(hook)
            changes["api_version"] = hook["api_version"]
        except SandboxError as exc:
            errors.update(exc.errors)  # type: ignore[arg-type]
    if "destination_url" in hook or creating:
        problem = destination_problem(hook.get("destination_url"))
        if problem:
            errors["destination_url"] = [problem]
        else:
            changes["destination_url"] = str(hook["destination_url"]).strip()
    if "namespace" in hook:
        namespace = hook["namespace"]
        if namespace is not None and not isinstance(namespace, str):
            errors["namespace"] = ["is invalid"]
        else:
            changes["namespace"] = (namespace or "").strip() or None
    if "destination_headers" in hook:
        headers = hook["destination_headers"]
        if headers is None:
            changes["authorization"] = None
        elif not isinstance(headers, dict):
            errors["destination_headers"] = ["is invalid"]
        else:
            for key in headers:
                if key != "Authorization":
                    errors[f"destination_headers.{key}"] = [NOT_PERMITTED]
            value = headers.get("Authorization")
            if value is not None and not isinstance(value, str):
                errors["destination_headers.Authorization"] = ["is invalid"]
            else:
                changes["authorization"] = value or None
    if errors:
        raise SandboxError(422, errors)
    return changes


def bulk_list(body: Mapping[str, Any]) -> list[Any]:
    items = body.get("triggers")
    if not isinstance(items, list) or not items:
        raise SandboxError(422, {"triggers": ["can't be blank"]})
    if len(items) > BULK_LIMIT:
        raise SandboxError(413, {"triggers": [f"at most {BULK_LIMIT} per request, got "
                                              f"{len(items)}"]})
    return items


def bulk_answer(done: list[Any], refused: list[dict[str, Any]]) -> _Response:
    """200 ``{"success"}`` when every item went through; 207 with ``errors`` otherwise."""
    if refused:
        return _Response(207, {"success": done, "errors": refused})
    return _Response(200, {"success": done})
