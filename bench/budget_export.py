"""Budget export figures, measured in one run (``python -m bench.budget_export``):

A project budget of 1,000 line items (500 cost codes x 2 cost types, Material and Labor)
in the Procore sandbox, locked, sent to the connector (``services.send``, what
``POST /items/send {"kind": "budget", "project_id": P}`` runs), accepted and exported
through the whole export path (exporter, relay command queue, the agent as its own
process, the embedded Sage, results, origin write-back to the sandbox over HTTP), on a
moto server on 127.0.0.1. Then a project manager (another OAuth application, over the
sandbox's HTTP API) approves a budget change adjusting 10 of those lines; it is sent,
accepted and exported as a change set.

Counted, not asserted: Procore API requests per send and per accept -> synced (by method
and path), DynamoDB write calls, the command's payload (JSON bytes, and how it travelled:
inline or zlib + base64), and Sage bdglin rows inserted / updated (the job's bdglin rows
compared column by column before and after each export).
"""

from __future__ import annotations

import json
import sqlite3
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.export_path import print_table, quiet
from bench.world import COMPANY, JOB, World, bench_world

TIMEOUT_SECONDS = 300.0


class BenchFailure(RuntimeError):
    """A step of the budget path did not get where it should; the message says where."""


def _bdglin(path: Path, job: int) -> dict[tuple[int, str], dict[str, Any]]:
    """The job's bdglin rows by (phase, cost code): every column."""
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT * FROM bdglin WHERE recnum = ?", (job,)).fetchall()
    return {(int(r["phsnum"] or 0), str(r["cstcde"])): dict(r) for r in rows}


def _row_changes(before: dict[tuple[int, str], dict[str, Any]],
                 after: dict[tuple[int, str], dict[str, Any]]) -> tuple[int, int]:
    """(rows inserted, rows whose columns changed)."""
    inserted = sum(1 for key in after if key not in before)
    updated = sum(1 for key, row in after.items() if key in before and before[key] != row)
    return inserted, updated


class _Http:
    """A Procore user's application (the project manager's web UI): plain urllib."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url, self.token = base_url, token
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def call(self, method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            self.base_url + path, method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json",
                     "Content-Type": "application/json",
                     "Procore-Company-Id": str(COMPANY)})
        try:
            with self.opener.open(request, timeout=30) as answer:
                payload = answer.read()
        except urllib.error.HTTPError as exc:
            raise BenchFailure(f"sandbox {method} {path}: HTTP {exc.code} "
                               f"{exc.read()[:500]!r}") from exc
        return json.loads(payload) if payload else None


def _token(base_url: str, client_id: str, secret: str) -> str:
    data = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": client_id,
                                   "client_secret": secret}).encode()
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(urllib.request.Request(base_url + "/oauth/token", data=data,
                                            method="POST"), timeout=10) as answer:
        return str(json.loads(answer.read())["access_token"])


def _short(path: str) -> str:
    """A request path with its ids as {id}: what the figures group calls by."""
    return "/".join("{id}" if part.isdigit() else part for part in path.split("/"))


def measure(codes: int = 500, changed: int = 10) -> dict[str, Any]:
    """One run; the figures, or, for a step that failed, ``error`` saying which and why
    (with the figures measured before it)."""
    figures: dict[str, Any] = {"codes": codes, "changed": changed}
    restore: list[Any] = []
    try:
        with bench_world("benchbudget") as world:
            try:
                _measure(world, figures, restore, codes, changed)
            finally:
                for undo in restore:
                    undo()
    except Exception as exc:  # noqa: BLE001 (the table reports it)
        figures["error"] = f"{type(exc).__name__}: {exc}"[:1000]
        figures["traceback"] = traceback.format_exc()
    return figures


def _measure(world: World, figures: dict[str, Any], restore: list[Any], codes: int,
             changed: int) -> None:
    from chalicelib.domain.permissions import Level, User
    from chalicelib.relay_protocol import Command
    from chalicelib.requests import SendBody
    from chalicelib.services.send import send

    store, sandbox, sage, project = world.store, world.sandbox, world.sage, world.project
    types = world.demo["line_item_type_ids"]
    sage_db = world.sage_db
    # 500 cost codes in both systems ("40-100" in Procore is 40100.000 in Sage), and
    # the budget: one Material and one Labor line per code, locked.
    full_codes = [f"{40 + n // 100:02d}-{100 + n % 100:03d}" for n in range(codes)]
    code_ids = [sandbox.add_cost_code(project, full, f"Bench code {full}")["id"]
                for full in full_codes]
    with sage.batch():
        for full in full_codes:
            sage.add_cost_code(full.replace("-", ""), f"Bench code {full}")
    lines = [(code_id, types[t], Decimal(1000 + n * 10 + (5 if t == "L" else 0)))
             for n, code_id in enumerate(code_ids) for t in ("M", "L")]
    sandbox.seed_budget(project, lines, locked=True)
    figures["lines"] = len(lines)
    world.start_agent()
    world.start_pumps()

    # Counters: Procore requests (method, path) of the connector's client, DynamoDB
    # write calls, and every command the exporter packs.
    intake, items = world.wiring.get_intake(), world.wiring.get_item_service()
    procore = world.wiring.get_procore(COMPANY)
    requests: list[tuple[str, str]] = []
    syncs: list[tuple[int, float]] = []  # (updates in the body, seconds) per sync PATCH
    original_call = procore._call

    def counted_call(method: str, path: str, **kwargs: Any) -> Any:
        requests.append((method, _short(path)))
        started = time.perf_counter()
        answer = original_call(method, path, **kwargs)
        if path.endswith("/sync"):
            body = kwargs.get("json_body") or {}
            syncs.append((len(body.get("updates") or []), time.perf_counter() - started))
        return answer

    procore._call = counted_call  # type: ignore[method-assign]
    writes = world.count_dynamodb_writes()
    packed_commands: list[dict[str, Any]] = []
    original_packed = Command.__dict__["packed"]

    def packed(cls: Any, *, payload: dict[str, Any], **fields: Any) -> Any:
        command = original_packed.__func__(cls, payload=payload, **fields)
        raw = json.dumps(payload, separators=(",", ":"), default=str).encode()
        packed_commands.append({
            "type": str(fields.get("type")), "lines": len(payload.get("lines") or []),
            "json_bytes": len(raw),
            "zlib_b64_bytes": len(command.payload_zlib) if command.payload_zlib else None,
            "message_bytes": len(command.model_dump_json().encode())})
        return command

    Command.packed = classmethod(packed)  # type: ignore[method-assign,assignment]
    restore.append(lambda: setattr(Command, "packed", original_packed))

    approver = User("bench", COMPANY, Level.ADMIN, True)
    budget_admin = User("bench-pm", COMPANY, tool_levels={"budget": Level.ADMIN})
    item_id = f"budget-{project}"

    def send_budget(step: str) -> None:
        before_calls, before_requests = procore.calls_made, len(requests)
        before_writes = writes["count"]
        item = send(budget_admin, SendBody(kind="budget", project_id=project), intake, items)
        figures[f"{step}_send_calls"] = procore.calls_made - before_calls
        figures[f"{step}_send_requests"] = Counter(requests[before_requests:])
        figures[f"{step}_send_writes"] = writes["count"] - before_writes
        if item.status.value != "ready_to_export":
            raise BenchFailure(f"{step}: the sent budget is {item.status.value}, not "
                               f"ready_to_export: {'; '.join(item.reasons or [])[:500]}")

    def export(step: str) -> None:
        before_rows = _bdglin(sage_db, JOB)
        before_calls, before_requests = procore.calls_made, len(requests)
        before_writes, before_packed = writes["count"], len(packed_commands)
        before_syncs = len(syncs)
        started = time.perf_counter()
        items.accept(approver, item_id)
        figures[f"{step}_accept_call_ms"] = (time.perf_counter() - started) * 1000
        seen: dict[str, float] = {}
        while True:  # each read of the 1,000-line item takes moto ~0.1 s: poll gently
            item = store.get_item(COMPANY, "budget", project)
            seen.setdefault(item.status.value, (time.perf_counter() - started) * 1000)
            if item.status.value in ("synced", "failed"):
                break
            if time.perf_counter() - started > TIMEOUT_SECONDS:
                raise BenchFailure(f"{step}: budget stuck in {item.status.value} after "
                                   f"{TIMEOUT_SECONDS:.0f} s; pump errors: "
                                   f"{world.pump_errors[-3:]}")
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        if item.status.value != "synced":
            raise BenchFailure(f"{step}: export failed: {item.status_reason} "
                               f"{item.last_error}"[:800])
        figures[f"{step}_ms"] = elapsed * 1000
        figures[f"{step}_calls"] = procore.calls_made - before_calls
        figures[f"{step}_requests"] = Counter(requests[before_requests:])
        figures[f"{step}_writes"] = writes["count"] - before_writes
        figures[f"{step}_commands"] = packed_commands[before_packed:]
        figures[f"{step}_rows"] = _row_changes(before_rows, _bdglin(sage_db, JOB))
        figures[f"{step}_syncs"] = syncs[before_syncs:]
        figures[f"{step}_statuses_ms"] = seen
        figures[f"{step}_warning"] = item.status_reason if item.status_reason else None
        with sandbox.state.lock:
            figures[f"{step}_origins"] = sum(
                1 for line in sandbox.state.budget_line_items.values()
                if str(line.get("origin_id") or "").startswith(f"bdglin:{JOB}:"))

    send_budget("first")
    export("first")

    # A budget change, approved, adjusting `changed` lines (Material of the first
    # codes, alternately -250 and +250), by a project manager over HTTP.
    sandbox.set_budget_changes(project, True)
    sandbox.add_client("pm-bench", "pm-secret", 91001)
    pm = _Http(sandbox.url, _token(sandbox.url, "pm-bench", "pm-secret"))
    pm.call("POST", f"/rest/v1.0/projects/{project}/budget_changes", {
        "status": "approved", "title": "Bench value engineering",
        "adjustment_line_items": [
            {"wbs_code_id": sandbox.budget_wbs_code_id(project, code_ids[n], types["M"]),
             "type": "budget_change", "amount": -250 if n % 2 == 0 else 250}
            for n in range(changed)]})
    send_budget("change")
    export("change")
    figures["sage_rows_total"] = len(_bdglin(sage_db, JOB))
    figures["transitions"] = len(store.audit_trail(COMPANY, "budget", project))


def _requests_text(counts: Counter[tuple[str, str]]) -> str:
    return ", ".join(f"{method} {path}" + (f" x{n}" if n > 1 else "")
                     for (method, path), n in sorted(counts.items(), key=lambda kv: -kv[1]))


def _payload_text(commands: list[dict[str, Any]]) -> str:
    parts = []
    for c in commands:
        travel = (f"{c['zlib_b64_bytes']:,} B zlib + base64" if c["zlib_b64_bytes"]
                  else "inline")
        parts.append(f"{c['type']} of {c['lines']} bdglin lines: {c['json_bytes']:,} B of "
                     f"JSON, sent {travel} (message {c['message_bytes']:,} B)")
    return "; ".join(parts) or "no command packed"


def _syncs_text(syncs: list[tuple[int, float]]) -> str:
    return (" + ".join(f"{n:,} origin ids ({seconds * 1000:.0f} ms)" for n, seconds in syncs)
            or "no sync call")


def _timeline(f: dict[str, Any], step: str) -> str:
    seen = f.get(f"{step}_statuses_ms") or {}
    return (f"the accept call {f[f'{step}_accept_call_ms']:.0f} ms; exporting seen at "
            f"{seen.get('exporting', float('nan')):.0f} ms")


def rows(codes: int = 500, changed: int = 10) -> list[tuple[str, str]]:
    f = measure(codes, changed)
    lines = f.get("lines", codes * 2)
    label = f"budget of {lines:,} lines"
    out: list[tuple[str, str]] = []

    def add(name: str, key: str, value: Any) -> None:
        if key in f:
            out.append((name, value()))

    add(f"{label} ({codes} cost codes x 2 cost types): Procore calls per send (reads)",
        "first_send_calls",
        lambda: f"{f['first_send_calls']} ({_requests_text(f['first_send_requests'])}); "
        f"change set: {f['change_send_calls']}" if "change_send_calls" in f
        else f"{f['first_send_calls']} ({_requests_text(f['first_send_requests'])})")
    add(f"{label}: Procore calls per export, accept -> synced (origin write-back): first "
        f"export / change set of {changed} lines", "change_calls",
        lambda: f"{f['first_calls']} / {f['change_calls']} "
        f"({_requests_text(f['first_requests'])}: {_syncs_text(f['first_syncs'])} / "
        f"{_syncs_text(f['change_syncs'])}; {f['change_origins']:,} line items carry a "
        "bdglin origin id)")
    add(f"Sage bdglin rows written: first export / change set of {changed} lines "
        "(inserted + updated, rows compared before and after)", "change_rows",
        lambda: f"{f['first_rows'][0]} + {f['first_rows'][1]} / "
        f"{f['change_rows'][0]} + {f['change_rows'][1]} (of {f['sage_rows_total']} rows: "
        "one per cost code, a column per cost type)")
    add(f"accept -> synced, first export ({lines:,} lines)", "first_ms",
        lambda: f"{f['first_ms']:.0f} ms ({_timeline(f, 'first')})")
    add(f"accept -> synced, change set ({changed} lines)", "change_ms",
        lambda: f"{f['change_ms']:.0f} ms ({_timeline(f, 'change')})")
    add(f"{label}: command payload, first export / change set", "change_commands",
        lambda: f"{_payload_text(f['first_commands'])} / "
        f"{_payload_text(f['change_commands'])}")
    add(f"{label}: DynamoDB write calls, send + accept -> synced: first export / change set",
        "change_writes",
        lambda: f"{f['first_send_writes']} + {f['first_writes']} / "
        f"{f['change_send_writes']} + {f['change_writes']}")
    for step in ("first", "change"):
        if f.get(f"{step}_warning"):
            out.append((f"{label}: {step} export synced with a warning",
                        str(f[f"{step}_warning"])[:300]))
    if "error" in f:
        out.append((f"{label}: FAILED", f["error"].replace("|", "/").replace("\n", " ")))
    return out


def main() -> None:
    quiet()
    print_table(rows())


if __name__ == "__main__":
    main()
