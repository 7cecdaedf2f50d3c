"""The agent's SQLite journal: the record that makes a Sage write happen once."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.relay_protocol import Command, CommandType, Result, SageFailure
from relay.journal import Journal


def _command(command_id: str = "cmd-1", item_id: str = "item-1") -> Command:
    return Command(command_id=command_id, company_id=4264, type=CommandType.ADD_SUBCONTRACT,
                   item_id=item_id, export_version=1, payload={}, issued_at="2025-01-01T00:00:00Z")


def _result(command_id: str = "cmd-1", *, ok: bool = True) -> Result:
    return Result(command_id=command_id, company_id=4264, item_id="item-1", export_version=1,
                  ok=ok, sage_keys={"subcon": "7"} if ok else {},
                  error=None if ok else SageFailure(code=14201, message="duplicate"),
                  agent_id="agent-1", finished_at="2025-01-01T00:00:01Z")


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    journal = Journal(tmp_path / "state" / "journal.sqlite3", clock=lambda: 1_700_000_000.0)
    yield journal
    journal.close()


def test_begin_records_started_once(journal: Journal) -> None:
    assert journal.begin(_command()) is None
    entry = journal.begin(_command())
    assert entry is not None
    assert (entry.state, entry.ok, entry.result, entry.reported) == ("started", None, None, False)
    assert (entry.item_id, entry.type) == ("item-1", "add_subcontract")
    assert entry.started_at.startswith("2023-11-14T22:13:20")


def test_finish_then_report(journal: Journal) -> None:
    journal.begin(_command())
    journal.finish("cmd-1", _result())
    entry = journal.get("cmd-1")
    assert entry is not None
    assert (entry.state, entry.ok, entry.reported) == ("done", True, False)
    assert entry.result == _result()
    assert journal.unreported() == [_result()]
    journal.mark_reported("cmd-1")
    assert journal.unreported() == []
    assert journal.get("cmd-1").reported is True  # type: ignore[union-attr]


def test_unreported_keeps_finish_order_and_skips_started(tmp_path: Path) -> None:
    ticks = iter(range(1_700_000_000, 1_700_000_100))
    journal = Journal(tmp_path / "journal.sqlite3", clock=lambda: float(next(ticks)))
    for cid in ("a", "b", "c"):
        journal.begin(_command(cid))
    journal.finish("b", _result("b", ok=False))
    journal.finish("a", _result("a"))
    assert [r.command_id for r in journal.unreported()] == ["b", "a"]  # "c" is not done
    journal.close()


def test_restart_returns_to_started(journal: Journal) -> None:
    journal.begin(_command())
    journal.finish("cmd-1", _result(ok=False))
    journal.restart("cmd-1")
    entry = journal.get("cmd-1")
    assert entry is not None and (entry.state, entry.result) == ("started", None)
    assert journal.unreported() == []


def test_finish_without_begin_is_a_bug(journal: Journal) -> None:
    with pytest.raises(KeyError, match="never begun"):
        journal.finish("nope", _result("nope"))
    assert journal.get("nope") is None


def test_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    first = Journal(path)
    first.begin(_command("done"))
    first.finish("done", _result("done"))
    first.begin(_command("crashed"))  # the process dies here, before finish
    first.close()

    second = Journal(path)
    try:
        assert second.get("done").state == "done"  # type: ignore[union-attr]
        assert second.get("crashed").state == "started"  # type: ignore[union-attr]
        assert second.begin(_command("crashed")).state == "started"  # type: ignore[union-attr]
        assert [r.command_id for r in second.unreported()] == ["done"]
    finally:
        second.close()


def test_durability_settings(journal: Journal) -> None:
    db = sqlite3.connect(journal.path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.close()
    assert journal._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
