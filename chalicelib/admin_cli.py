"""Bootstrap and inspect connector users from a shell (the first ERP admin of a new
deployment has no one to grant them rights through the API).

    python -m chalicelib.admin_cli put-user SUBJECT --erp admin --push \\
        [--tool commitments=admin] [--name "Ada Admin"] [--company 4264]
    python -m chalicelib.admin_cli list-users [--company 4264]
    python -m chalicelib.admin_cli backfill-job-costs PROJECT_ID --as SUBJECT [--enable]
        [--timeout SECONDS]    (the first job cost sync of a large job, with a progress
                               bar; interrupted, the run goes on: run it again to follow)
    python -m chalicelib.admin_cli register-webhooks [--company 4264]
        (--url URL | --stack STACK) [--dry-run]   (Procore's hook and triggers; docs/webhooks.md)

Uses TABLE_NAME (and PROCORE_COMPANY_ID unless --company) and the usual AWS credentials.
"""

from __future__ import annotations

import argparse
import json
import sys

from chalicelib.domain.models import utc_now
from chalicelib.requests import UserBody
from chalicelib.services.users import public, user_from_body


def main(argv: list[str] | None = None) -> int:
    from chalicelib.api import parse_model
    from chalicelib.errors import BadRequest
    from chalicelib.settings import get_settings
    from chalicelib.wiring import get_store

    parser = argparse.ArgumentParser(prog="python -m chalicelib.admin_cli")
    commands = parser.add_subparsers(dest="command", required=True)
    put = commands.add_parser("put-user", help="create or replace a user's levels")
    put.add_argument("subject", help="the user's token subject (Cognito 'sub')")
    put.add_argument("--erp", required=True, choices=["none", "read_only", "standard", "admin"])
    put.add_argument("--push", action="store_true", help="grant Can Push to Accounting")
    put.add_argument("--tool", action="append", default=[], metavar="TOOL=LEVEL")
    put.add_argument("--name")
    listing = commands.add_parser("list-users")
    backfill = commands.add_parser("backfill-job-costs",
                                   help="sync a project's job costs now, with progress")
    backfill.add_argument("project_id", type=int)
    backfill.add_argument("--as", dest="subject", required=True,
                          help="the ERP admin (token subject) the run is started as")
    backfill.add_argument("--enable", action="store_true",
                          help="enable the project's job cost sync first")
    backfill.add_argument("--timeout", type=float, default=6 * 3600)
    hooks = commands.add_parser("register-webhooks",
                                help="create or correct Procore's webhook hook and triggers")
    hooks.add_argument("--url", help="the deployment's WebhookUrl (.../webhooks/procore)")
    hooks.add_argument("--stack", help="read the URL from this stack's WebhookUrl output")
    hooks.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    for sub in (put, listing, backfill, hooks):
        sub.add_argument("--company", type=int, default=None)
    args = parser.parse_args(argv)
    company = args.company or get_settings().procore_company_id
    if not company:
        parser.error("no company: pass --company or set PROCORE_COMPANY_ID")
    if args.command == "register-webhooks":
        return _register_webhooks(company, args)
    store = get_store()
    if args.command == "backfill-job-costs":
        return _backfill(store, company, args)
    if args.command == "list-users":
        users = [public(u) for u in store.list_users(company)]
        sys.stdout.write(json.dumps(users, indent=2) + "\n")
        return 0
    try:
        tools = dict(pair.split("=", 1) for pair in args.tool)
        body = parse_model(UserBody, {"name": args.name, "erp_level": args.erp,
                                      "can_push_to_accounting": args.push,
                                      "tool_levels": tools})
    except (ValueError, BadRequest) as exc:
        parser.error(str(exc))
    user = user_from_body(company, args.subject, body)
    store.put_user(user, updated_by="admin_cli", updated_at=utc_now())
    sys.stdout.write(json.dumps(public(user), indent=2) + "\n")
    return 0


def _backfill(store: object, company: int, args: argparse.Namespace) -> int:
    from tqdm import tqdm  # the admin's tool only (requirements-dev.txt)

    from chalicelib.errors import ConnectorError
    from chalicelib.services.job_cost_backfill import BackfillTimeout, backfill
    from chalicelib.wiring import get_job_cost_sync

    user = store.get_user(company, args.subject)  # type: ignore[attr-defined]
    if user is None:
        sys.stderr.write(f"no connector user {args.subject!r} in company {company}\n")
        return 2
    bar = tqdm(desc=f"project {args.project_id} job costs", unit=" rows")
    try:
        summary = backfill(get_job_cost_sync(), store, user, args.project_id,  # type: ignore[arg-type]
                           enable=args.enable, progress=bar, timeout_seconds=args.timeout)
    except ConnectorError as exc:
        sys.stderr.write(f"{exc.message}\n")
        return 1
    except BackfillTimeout as exc:
        sys.stderr.write(f"{exc}; it goes on in AWS: run the command again to follow it\n")
        return 3
    sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    return 0 if summary.get("status") == "ok" else 1


def _register_webhooks(company: int, args: argparse.Namespace) -> int:
    """Plan, then (unless --dry-run) apply; the token is read, never printed."""
    from chalicelib import aws
    from chalicelib.adapters.procore_hooks import ProcoreHooks
    from chalicelib.errors import ConfigurationError, ConnectorError
    from chalicelib.services import webhook_registration as registration
    from chalicelib.settings import get_settings, read_secret
    from chalicelib.wiring import get_procore

    settings = get_settings()
    try:
        url = args.url or ""
        if not url and args.stack:
            url = registration.webhook_url_from_stack(aws.client("cloudformation"), args.stack)
        if not url:
            raise ConfigurationError("no webhook URL: pass --url (the stack's WebhookUrl "
                                     "output) or --stack STACK")
        desired = registration.DesiredHook(
            registration.namespace_for(settings.stage), url, registration.HOOK_API_VERSION,
            read_secret(settings, "webhook_token"))
        outcome = registration.register(ProcoreHooks(get_procore(company)), desired,
                                        dry_run=args.dry_run)
    except ConnectorError as exc:
        sys.stderr.write(f"register-webhooks: {exc.message}\n")
        return 1
    lines = outcome.plan.lines()
    if args.dry_run and not outcome.plan.up_to_date:
        lines.append("dry run: nothing changed")
    elif outcome.applied:
        lines.append(f"applied: hook {outcome.hook_id}")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
