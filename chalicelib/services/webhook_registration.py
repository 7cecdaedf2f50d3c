"""Register the connector's Procore webhook: one hook per company, exactly the triggers the
connector consumes. Idempotent: a second run finds nothing to change and writes nothing.

The triggers are derived, never listed by hand: every resource Procore offers (its
``GET /webhooks/resources``) that the receiver would queue for intake (``routed``: the
same target functions ``services.receiver.route`` asks), with every event Procore offers
for it (intake handles create, update and delete alike). tests/integration/
test_webhook_registration.py checks ``routed`` against ``receiver.route`` over every
resource name Procore publishes, so the two cannot drift apart.

The hook is ours by its namespace (``namespace_for(stage)``): hooks of other namespaces
are never read further, changed or deleted. Extra hooks of our namespace (a hand-made
duplicate would deliver every event twice) are deleted, and so are extra triggers of our
hook. Plan first (pure: ``make_plan``), then apply (``apply_plan``): triggers are added
before extra ones are removed, so the wanted events are never unheard in between.

The Authorization value (the stage's webhook token) is never logged or shown: Procore
shows only its last 5 characters, and the plan compares those.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.procore_hooks import MASK_KEEP, Hook, Trigger
from chalicelib.domain.owner_invoices import owner_invoice_target
from chalicelib.domain.webhooks import (
    WebhookEvent,
    budget_target,
    cco_target,
    commitment_target,
    invoice_target,
)
from chalicelib.errors import ConfigurationError, FatalUpstreamError
from chalicelib.observability import logger
from chalicelib.services.setup_export_intake import setup_export_target

if TYPE_CHECKING:
    from chalicelib.adapters.procore_hooks import ProcoreHooks

#: the payload version asked for: the value of Procore's documented hook body example
#: (docs/webhook_payloads.json hooks_api_examples); the receiver reads it as v2.0
HOOK_API_VERSION = "v2"
NAMESPACE_PREFIX = "procore-sage-connector"

#: the receiver's routing: an event is queued for intake when one of these names a target
#: (services/receiver.py ``route``; a test compares the two over every Procore resource)
TARGETS: tuple[Callable[[WebhookEvent], object], ...] = (
    commitment_target, budget_target, cco_target, invoice_target, owner_invoice_target,
    setup_export_target)


def namespace_for(stage: str) -> str:
    """One namespace per stage: a dev deployment never takes over prod's hook."""
    return f"{NAMESPACE_PREFIX}-{stage}"


def routed(resource_name: str, company_id: int = 1) -> bool:
    """Would the receiver queue an event of ``resource_name`` (in some project)?"""
    probe = WebhookEvent(event_id="probe", payload_version="v2.0", company_id=company_id,
                         project_id=1, action="update", resource_name=resource_name,
                         resource_id=1, timestamp=datetime.now(UTC).isoformat())
    return any(target(probe) is not None for target in TARGETS)


def desired_triggers(offered: Mapping[str, Collection[str]]) -> frozenset[tuple[str, str]]:
    """(resource, event) for every offered resource the connector consumes."""
    return frozenset((name, event) for name, events in offered.items() if routed(name)
                     for event in events)


@dataclass(frozen=True)
class DesiredHook:
    namespace: str
    destination_url: str
    api_version: str
    authorization: str = field(repr=False)  # the webhook token: never in a repr or a log

    @property
    def authorization_tail(self) -> str:
        return self.authorization[-MASK_KEEP:]


@dataclass(frozen=True)
class Plan:
    """What a run changes. Empty (``up_to_date``) when Procore already has it all."""

    company_id: int
    namespace: str
    hook_id: int | None  # None: the hook is to be created
    hook_changes: tuple[str, ...] = ()  # fields of our hook that differ
    delete_hooks: tuple[int, ...] = ()  # extra hooks of our namespace
    add: tuple[tuple[str, str], ...] = ()
    remove: tuple[Trigger, ...] = ()
    keep: int = 0  # triggers already right

    @property
    def up_to_date(self) -> bool:
        return (self.hook_id is not None and not self.hook_changes and not self.delete_hooks
                and not self.add and not self.remove)

    def lines(self) -> list[str]:
        """The plan for a person; no secret in it (a changed token is 'Authorization')."""
        where = f"company {self.company_id}, namespace {self.namespace}"
        if self.up_to_date:
            return [f"up to date: hook {self.hook_id} ({where}) with {self.keep} triggers"]
        out = [f"create hook ({where})" if self.hook_id is None
               else f"hook {self.hook_id} ({where})"]
        if self.hook_changes:
            out.append(f"  update hook: {', '.join(self.hook_changes)}")
        out += [f"  delete duplicate hook {hook_id}" for hook_id in self.delete_hooks]
        out += [f"  add trigger {name} / {event}" for name, event in self.add]
        out += [f"  delete trigger {t.id} {t.resource_name} / {t.event_type}"
                for t in self.remove]
        out.append(f"  keep {self.keep} triggers")
        return out


def make_plan(company_id: int, desired: DesiredHook, hooks: Iterable[Hook],
              triggers_of: Callable[[int], list[Trigger]],
              wanted: Collection[tuple[str, str]]) -> Plan:
    """Compare what Procore has with what is wanted; ``triggers_of`` is read only for the
    hook kept (the one already pointing at our URL, else the oldest of our namespace)."""
    ours = sorted((h for h in hooks if h.namespace == desired.namespace), key=lambda h: h.id)
    kept = next((h for h in ours if h.destination_url == desired.destination_url),
                ours[0] if ours else None)
    if kept is None:
        return Plan(company_id, desired.namespace, None,
                    add=tuple(sorted(wanted)))
    changes = []
    if kept.destination_url != desired.destination_url:
        changes.append("destination_url")
    if kept.api_version != desired.api_version:
        changes.append("api_version")
    hint = kept.authorization_hint or ""
    if not hint or not hint.endswith(desired.authorization_tail):
        changes.append("Authorization")
    have: dict[tuple[str, str], Trigger] = {}
    remove: list[Trigger] = []
    for trigger in sorted(triggers_of(kept.id), key=lambda t: t.id):
        if trigger.key in wanted and trigger.resource_id is None and trigger.key not in have:
            have[trigger.key] = trigger
        else:  # not wanted, about one record only, or a repeat
            remove.append(trigger)
    return Plan(company_id, desired.namespace, kept.id, tuple(changes),
                tuple(h.id for h in ours if h.id != kept.id),
                tuple(sorted(set(wanted) - set(have))), tuple(remove), len(have))


@dataclass(frozen=True)
class Registration:
    plan: Plan
    applied: bool
    hook_id: int | None


def register(hooks: ProcoreHooks, desired: DesiredHook, *, dry_run: bool = False
             ) -> Registration:
    """Read, plan and (unless ``dry_run`` or up to date) apply. Procore errors propagate."""
    if not desired.authorization or not desired.destination_url:
        raise ConfigurationError("the webhook URL and token are both needed")
    offered = hooks.list_resources()
    wanted = desired_triggers(offered)
    if not wanted:  # never strip our hook bare on a resource list that names nothing of ours
        raise FatalUpstreamError(f"Procore offers company {hooks.company_id} none of the "
                                 f"webhook resources the connector consumes "
                                 f"({len(offered)} offered); nothing was changed")
    plan = make_plan(hooks.company_id, desired, hooks.list_hooks(desired.namespace),
                     hooks.list_triggers, wanted)
    if dry_run or plan.up_to_date:
        logger.info("webhook registration planned", **_log_keys(plan, applied=False))
        return Registration(plan, False, plan.hook_id)
    hook_id = apply_plan(hooks, desired, plan)
    logger.info("webhook registration applied", **_log_keys(plan, applied=True),
                hook_id=hook_id)
    return Registration(plan, True, hook_id)


def apply_plan(hooks: ProcoreHooks, desired: DesiredHook, plan: Plan) -> int:
    """Carry out ``plan``; returns our hook's id. Each step is safe to redo: a run cut
    short is finished by the next one (it plans from what Procore then has)."""
    args = (desired.namespace, desired.destination_url, desired.api_version,
            desired.authorization)
    if plan.hook_id is None:
        hook_id = hooks.create_hook(*args).id
    else:
        hook_id = plan.hook_id
        if plan.hook_changes:
            hooks.update_hook(hook_id, *args)
    if plan.add:
        hooks.add_triggers(hook_id, desired.api_version, plan.add)
    for trigger in plan.remove:
        hooks.delete_trigger(hook_id, trigger.id)
    for duplicate in plan.delete_hooks:
        hooks.delete_hook(duplicate)
    return hook_id


def _log_keys(plan: Plan, *, applied: bool) -> dict[str, Any]:
    return {"company_id": plan.company_id, "namespace": plan.namespace,
            "up_to_date": plan.up_to_date, "applied": applied, "added": len(plan.add),
            "removed": len(plan.remove), "hook_changes": list(plan.hook_changes)}


def webhook_url_from_stack(cloudformation: Any, stack_name: str) -> str:
    """The ``WebhookUrl`` output of the deployed stack (``cloudformation``: a boto3 client)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except (BotoCoreError, ClientError) as exc:
        raise ConfigurationError(f"cannot read stack {stack_name!r}; pass --url instead",
                                 reason=type(exc).__name__) from exc
    for output in (stacks[0].get("Outputs") or []) if stacks else []:
        if output.get("OutputKey") == "WebhookUrl" and output.get("OutputValue"):
            return str(output["OutputValue"])
    raise ConfigurationError(f"stack {stack_name!r} has no WebhookUrl output; pass --url")
