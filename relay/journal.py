"""The agent's local journal: command id -> what happened, kept on disk in SQLite.

SQS delivers at least once and the agent may crash anywhere, so the journal is what makes
a Sage write happen once. Timeline of one command (the agent follows it strictly):

    begin()        row 'started'                 -- before touching Sage
    Sage write     record in Sage                -- crash here: 'started' => reconcile
    finish()       row 'done' + result, reported=0
    send result    result on the results queue   -- crash here: unreported() re-sends
    mark_reported  reported=1
    delete message command gone from SQS         -- crash here: redelivery replays 'done'

WAL with synchronous=FULL: a row that finish() returned from survives power loss.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from chalicelib.relay_protocol import Command, Result

State = Literal["started", "done"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    command_id  TEXT PRIMARY KEY,
    item_id     TEXT NOT NULL,
    type        TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('started', 'done')),
    ok          INTEGER,
    result_json TEXT,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    reported    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS journal_unreported ON journal (reported, state);
"""

_COLUMNS = ("command_id, item_id, type, state, ok, result_json, started_at, finished_at, "
            "reported")


@dataclass(frozen=True)
class JournalEntry:
    """One command as the journal last recorded it."""

    command_id: str
    item_id: str
    type: str
    state: State
    ok: bool | None
    result: Result | None
    started_at: str
    finished_at: str | None
    reported: bool


class Journal:
    """Durable command journal; one per agent (one agent per company database)."""

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._lock = threading.Lock()
        # Autocommit: every statement below is its own transaction, committed on return.
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30,
                                   check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def begin(self, command: Command) -> JournalEntry | None:
        """Record ``command`` as 'started'; None if new, else the entry already there."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO journal (command_id, item_id, type, state, started_at) "
                "VALUES (?, ?, ?, 'started', ?) ON CONFLICT (command_id) DO NOTHING",
                (command.command_id, command.item_id, command.type.value, self._now()),
            )
            if cursor.rowcount == 1:
                return None
            return self._get(command.command_id)

    def restart(self, command_id: str) -> None:
        """Back to 'started' before another try (the last result was a retryable failure)."""
        with self._lock:
            self._db.execute(
                "UPDATE journal SET state = 'started', ok = NULL, result_json = NULL, "
                "finished_at = NULL, reported = 0, started_at = ? WHERE command_id = ?",
                (self._now(), command_id),
            )

    def finish(self, command_id: str, result: Result) -> None:
        """Record the outcome; from here a crash re-sends the result instead of re-applying."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE journal SET state = 'done', ok = ?, result_json = ?, finished_at = ?, "
                "reported = 0 WHERE command_id = ?",
                (int(result.ok), result.model_dump_json(), self._now(), command_id),
            )
            if cursor.rowcount != 1:
                raise KeyError(f"command {command_id} was never begun in the journal")

    def mark_reported(self, command_id: str) -> None:
        """The result is on the results queue: nothing left to re-send."""
        with self._lock:
            self._db.execute("UPDATE journal SET reported = 1 WHERE command_id = ?",
                             (command_id,))

    def unreported(self) -> list[Result]:
        """Finished results not yet on the results queue, oldest first (sent after a crash)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT result_json FROM journal WHERE state = 'done' AND reported = 0 "
                "ORDER BY finished_at, rowid"
            ).fetchall()
        return [Result.model_validate_json(row[0]) for row in rows]

    def get(self, command_id: str) -> JournalEntry | None:
        with self._lock:
            return self._get(command_id)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _get(self, command_id: str) -> JournalEntry | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM journal WHERE command_id = ?",  # noqa: S608 # nosec B608
                               (command_id,)).fetchone()
        if row is None:
            return None
        cid, item_id, type_, state, ok, result_json, started_at, finished_at, reported = row
        return JournalEntry(
            command_id=cid, item_id=item_id, type=type_, state=state,
            ok=None if ok is None else bool(ok),
            result=Result.model_validate_json(result_json) if result_json else None,
            started_at=started_at, finished_at=finished_at, reported=bool(reported),
        )

    def _now(self) -> str:
        return datetime.fromtimestamp(self._clock(), UTC).isoformat(timespec="microseconds")
