"""Manage the embedded Sage company database:
``python -m relay.sage init|seed|show TABLE|periods|post-job-cost|void-job-cost RECNUM``.

``periods`` shows the company's posting periods, or changes them: ``--lock 3`` /
``--unlock 3`` one period, ``--year``/``--current`` the posting year and current period,
``--lock-date``/``--no-lock-date``, ``--reset`` back to the defaults (this year, this month).

``post-job-cost`` posts one job cost row (jobcst) from its flags, as Sage's 6-3 Job Cost
entry would (``--job``, ``--cost-code``, ``--cost-type``, ``--amount`` and ``--journal``,
a source name or number, are required); ``void-job-cost RECNUM`` voids one.

The database path comes from ``--db``, else $RELAY_SAGE_DB, else .devstack/sage.db, so the
local stack, the agent and an operator at a terminal all look at the same file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date
from decimal import Decimal
from typing import Any

from relay.sage.embedded import EmbeddedSage
from relay.sage.embedded.posting import PostingPeriods
from relay.sage.port import SageError

DEFAULT_DB = ".devstack/sage.db"


def _out(text: str = "", *, err: bool = False) -> None:
    (sys.stderr if err else sys.stdout).write(text + "\n")


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _table_text(columns: list[str], rows: list[dict[str, Any]]) -> str:
    """Rows as aligned columns; numbers right-aligned like a ledger."""
    cells = [[_cell(row[name]) for name in columns] for row in rows]
    widths = [max([len(name)] + [len(line[i]) for line in cells]) for i, name in
              enumerate(columns)]
    numeric = [all(isinstance(row[name], int | Decimal) or row[name] is None for row in rows)
               for name in columns]

    def fmt(values: list[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric,
                                                                          strict=True)]
        return "  ".join(parts).rstrip()

    lines = [fmt(columns), "  ".join("-" * w for w in widths)]
    lines += [fmt(line) for line in cells]
    lines.append(f"({len(rows)} row{'' if len(rows) == 1 else 's'})")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", default=argparse.SUPPRESS,
                        help=f"database file (default: $RELAY_SAGE_DB or {DEFAULT_DB})")
    parser = argparse.ArgumentParser(prog="python -m relay.sage", parents=[common],
                                     description="The embedded Sage 100 Contractor database.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("init", parents=[common], help="create the schema if missing")
    commands.add_parser("seed", parents=[common],
                        help="create the schema and the demo company (skips existing rows)")
    show = commands.add_parser("show", parents=[common], help="print one table")
    show.add_argument("table", help="Sage table name, e.g. subcon, sbcnln, actrec")
    show.add_argument("--json", action="store_true", help="JSON array instead of columns")
    periods = commands.add_parser("periods", parents=[common],
                                  help="show or set the company's posting periods")
    periods.add_argument("--year", type=int, help="the posting year")
    periods.add_argument("--current", type=int, help="the current period, 1-12")
    periods.add_argument("--lock", type=int, action="append", default=[], metavar="PERIOD",
                         help="lock a period of the posting year (repeatable)")
    periods.add_argument("--unlock", type=int, action="append", default=[],
                         metavar="PERIOD", help="unlock a period (repeatable)")
    periods.add_argument("--lock-date", type=date.fromisoformat, metavar="YYYY-MM-DD",
                         help="nothing dated before it posts")
    periods.add_argument("--no-lock-date", action="store_true", help="remove the lock date")
    periods.add_argument("--reset", action="store_true",
                         help="forget the settings: this year, this month, nothing locked")
    post = commands.add_parser("post-job-cost", parents=[common],
                               help="post one job cost row (jobcst) in a journal")
    post.add_argument("--job", type=int, required=True)
    post.add_argument("--phase", type=int)
    post.add_argument("--cost-code", required=True, help="e.g. 3300.000")
    post.add_argument("--cost-type", type=int, required=True, help="1-9")
    post.add_argument("--amount", required=True, help="e.g. 1250.00")
    post.add_argument("--hours")
    post.add_argument("--date", type=date.fromisoformat, metavar="YYYY-MM-DD")
    post.add_argument("--description", default="")
    post.add_argument("--transaction", default="", help="transaction number (trnnum)")
    post.add_argument("--journal", required=True,
                      help="source journal name (e.g. Payroll) or number")
    post.add_argument("--vendor", type=int)
    post.add_argument("--employee", type=int)
    post.add_argument("--equipment", type=int)
    void = commands.add_parser("void-job-cost", parents=[common],
                               help="void one job cost row (jobcst.status 2)")
    void.add_argument("recnum", type=int, help="jobcst.recnum")
    return parser


def _job_cost_row(args: argparse.Namespace) -> dict[str, Any]:
    journal: str | int = int(args.journal) if args.journal.isdigit() else args.journal
    row: dict[str, Any] = {
        "job": args.job, "phase": args.phase, "cost_code": args.cost_code,
        "cost_type": args.cost_type, "amount": args.amount, "hours": args.hours,
        "date": args.date, "description": args.description,
        "transaction": args.transaction, "journal": journal, "vendor": args.vendor,
        "employee": args.employee, "equipment": args.equipment}
    return row


def _periods_text(periods: PostingPeriods) -> str:
    locked = ", ".join(str(p) for p in sorted(periods.locked)) or "none"
    return (f"Posting year {periods.year}, current period {periods.current}, "
            f"locked periods: {locked}, lock date: {periods.lock_date or 'none'}")


def _set_periods(sage: EmbeddedSage, args: argparse.Namespace) -> PostingPeriods:
    if args.reset:
        return sage.reset_posting_periods()
    now = sage.posting_periods()
    changes = (args.year, args.current, args.lock_date)
    if all(value is None for value in changes) and not (
            args.lock or args.unlock or args.no_lock_date):
        return now
    lock_date = None if args.no_lock_date else (args.lock_date or now.lock_date)
    return sage.set_posting_periods(
        args.year or now.year, args.current or now.current,
        locked=(now.locked | set(args.lock)) - set(args.unlock), lock_date=lock_date)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    path = getattr(args, "db", None) or os.environ.get("RELAY_SAGE_DB") or DEFAULT_DB
    sage = EmbeddedSage(path)
    try:
        if args.command == "init":
            sage.init()
            _out(f"Initialized {path} ({len(sage.tables())} tables)")
        elif args.command == "seed":
            sage.init()
            added = sage.seed_demo()
            _out(f"Seeded {path}: {added} rows added")
        elif args.command in ("post-job-cost", "void-job-cost"):
            if not os.path.exists(path):
                _out(f"No database at {path}; run `python -m relay.sage init` first", err=True)
                return 1
            if args.command == "post-job-cost":
                [recnum] = sage.post_job_costs([_job_cost_row(args)])
                _out(f"Posted job cost {recnum}")
            else:
                sage.void_job_cost(args.recnum)
                _out(f"Voided job cost {args.recnum}")
        elif args.command == "periods":
            if not os.path.exists(path):
                _out(f"No database at {path}; run `python -m relay.sage init` first", err=True)
                return 1
            try:
                _out(_periods_text(_set_periods(sage, args)))
            except ValueError as exc:
                _out(str(exc), err=True)
                return 2
        else:
            if not os.path.exists(path):
                _out(f"No database at {path}; run `python -m relay.sage init` first", err=True)
                return 1
            try:
                columns = sage.columns(args.table)
            except KeyError as exc:
                _out(str(exc.args[0]), err=True)
                return 2
            rows = sage.rows(args.table)
            if args.json:
                _out(json.dumps(rows, default=str, indent=2))
            else:
                _out(_table_text(columns, rows))
    except SageError as exc:
        _out(str(exc), err=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
