"""`make run`'s terminal lines (devstack/console.py) and the api.jsonl follower
(devstack/logfiles.py): each known connector log record -> one line, anything else -> none."""

from __future__ import annotations

import io
import logging
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools import Logger

from devstack import console
from devstack.logfiles import JsonlFollower, parse

AT = datetime(2026, 5, 1, 19, 52, 3)


def transition(**fields: Any) -> dict[str, Any]:
    return {"level": "INFO", "message": "item transition", "service": "connector",
            "item_id": "commitment-1020", "number": "PO-7", "version": 2, **fields}


@pytest.mark.parametrize(("fields", "expected"), [
    ({"message": "queued", "resource": "Purchase Order Contracts", "resource_id": 1020,
      "action": "update", "project_id": 12, "event_id": "01ABC"},
     "19:52:03  webhook queued  Purchase Order Contracts 1020 (update) project 12"),
    (transition(action="observe_ready", from_status="new", to_status="ready_to_export",
                actor="system:intake"),
     "19:52:03  item ready      commitment-1020 PO-7"),
    (transition(action="accept", from_status="ready_to_export", to_status="accepted",
                actor="approver"),
     "19:52:03  accepted        commitment-1020 PO-7 by approver"),
    (transition(action="reject", from_status="ready_to_export", to_status="rejected",
                actor="approver", reason="wrong cost code"),
     "19:52:03  rejected        commitment-1020 PO-7: wrong cost code"),
    ({"message": "export synced", "item_id": "commitment-1020", "number": "PO-7",
      "sage_key": "pchord:4", "sage_keys": {"pchord": "4"}},
     "19:52:03  in Sage         commitment-1020 PO-7 as PO 4"),
    (transition(action="export_failed", from_status="exporting", to_status="failed",
                actor="system:exporter",
                reason="Sage refused the export: 1205 vendor 3001 is on hold"),
     "19:52:03  failed          commitment-1020 PO-7: Sage refused the export: 1205 vendor "
     "3001 is on hold"),
    ({"message": "export synced", "item_id": "project-1036", "number": "",
      "sage_key": "2668863", "sage_keys": {"actrec": "2668863"}},
     "19:52:03  in Sage         project-1036 as job 2668863"),
    ({"message": "export synced", "item_id": "budget-1036", "sage_key": "2668863",
      "sage_keys": {"budget": "2668863", "lines": "2"}},
     "19:52:03  in Sage         budget-1036 as budget of job 2668863"),
    ({"message": "export synced", "item_id": "subcontractor_invoice-1061", "number": "1",
      "sage_key": "acpinv:1", "sage_keys": {"acpinv": "1", "invnum": "GB-68863"}},
     "19:52:03  in Sage         subcontractor_invoice-1061 #1 as invoice 1"),
])
def test_each_event_kind_has_its_line(fields: dict[str, Any], expected: str) -> None:
    assert console.line(fields, AT) == expected


@pytest.mark.parametrize("fields", [
    {"message": "event processed", "event_id": "01ABC", "outcome": "ready_to_export"},
    {"message": "procore token fetched", "client_id": "connector-client"},
    {"message": "queued"},  # not the receiver's record (no resource)
    transition(action="begin_export", from_status="accepted", to_status="exporting"),
    transition(action="export_succeeded", from_status="exporting", to_status="synced"),
    transition(action="observe_not_ready", from_status="new", to_status="not_ready"),
    {"_aws": {"CloudWatchMetrics": []}, "WebhooksReceived": [1.0]},
    {},
])
def test_other_records_give_no_line(fields: dict[str, Any]) -> None:
    assert console.line(fields, AT) is None


def test_sage_records_in_words() -> None:
    assert console.sage_record("subcon:12") == "subcontract 12"
    assert console.sage_record("acpinv:3") == "invoice 3"
    assert console.sage_record("25001") == "25001"  # a job's origin id is its number
    assert console.sage_record("3005", {"actpay": "3005"}) == "vendor 3005"
    assert console.sage_record("3005", {"actpay": "3006"}) == "3005"
    assert console.sage_record(None) == "?"


def test_the_handler_reads_the_keys_powertools_puts_on_the_record() -> None:
    lines: list[str] = []
    logger = Logger(service="console-test", stream=io.StringIO())
    handler = console.ConsoleHandler(lines.append, clock=lambda: AT)
    logging.getLogger("console-test").addHandler(handler)
    try:
        logger.info("item transition", item_id="commitment-1020", action="accept",
                    from_status="ready_to_export", to_status="accepted", actor="approver",
                    number="PO-7")
        logger.info("event processed", event_id="01ABC", outcome="ready_to_export")
    finally:
        logging.getLogger("console-test").removeHandler(handler)
    assert lines == ["19:52:03  accepted        commitment-1020 PO-7 by approver"]


def test_a_failing_sink_does_not_raise_into_the_logging_code() -> None:
    def broken(_: str) -> None:
        raise OSError("terminal gone")

    handler = console.ConsoleHandler(broken, clock=lambda: AT)
    handler.handleError = lambda record: None  # type: ignore[method-assign]
    record = logging.LogRecord("connector", logging.INFO, "x", 1, "export synced", None, None)
    record.item_id, record.sage_key = "commitment-1", "subcon:1"
    handler.emit(record)  # no exception


def test_the_follower_reads_whole_json_lines_and_skips_the_rest(tmp_path: Path) -> None:
    lines: list[str] = []
    follower = JsonlFollower(tmp_path / "api.jsonl", lines.append, threading.Event(),
                             clock=lambda: AT)
    follower.feed('Serving on http://127.0.0.1:8000\n{"message": "item transition", '
                  '"item_id": "commitment-1", "action": "accept", ')
    assert lines == []  # half a line waits for its end
    follower.feed('"to_status": "accepted", "actor": "approver"}\n{not json}\n[1, 2]\n')
    assert lines == ["19:52:03  accepted        commitment-1 by approver"]
    assert parse("  ") is None and parse('{"a": 1}') == {"a": 1}


def test_the_follower_thread_follows_a_growing_file(tmp_path: Path) -> None:
    path, stopping, lines = tmp_path / "api.jsonl", threading.Event(), []
    thread = JsonlFollower(path, lines.append, stopping, clock=lambda: AT).start()
    with path.open("w", buffering=1) as stream:
        stream.write('{"message": "queued", "resource": "Budget View Snapshots", '
                     '"resource_id": 5}\n')
        for _ in range(50):
            if lines:
                break
            threading.Event().wait(0.05)
    stopping.set()
    thread.join(timeout=5)
    assert lines == ["19:52:03  webhook queued  Budget View Snapshots 5"]
