"""The embedded Sage's connections and transactions (the base of EmbeddedSage)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from relay.sage.embedded.rules import _fold
from relay.sage.embedded.schema import LAYOUT_VERSION, schema_script
from relay.sage.port import DUPLICATE_KEY, INVALID_REFERENCE, UNAVAILABLE, SageError


class SageDatabase:
    """One SQLite company file: connections, transactions and the schema."""

    def __init__(self, path: str | Path, *, timeout: float = 5.0, user: str = "relay",
                 today: Callable[[], date] = date.today) -> None:
        self.path = Path(path)
        self.timeout = timeout  # seconds to wait for the write lock before UNAVAILABLE
        self.user = user  # recorded in insusr/updusr, as Sage records its user
        self.today = today  # the date a new document gets when none is given
        self._local = threading.local()  # this thread's open batch() connection, if any

    # -- connections --------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            timeout=self.timeout,
            isolation_level=None,  # we issue BEGIN IMMEDIATE / COMMIT ourselves
            detect_types=sqlite3.PARSE_DECLTYPES,
        )
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        conn.create_function("sage_fold", 1, _fold, deterministic=True)
        return conn

    def _unavailable(self, exc: sqlite3.OperationalError) -> SageError:
        text = str(exc)
        if "locked" in text or "busy" in text:
            return SageError(
                UNAVAILABLE,
                f"Company database {self.path.name} is busy ({text}); try again",
                retryable=True,
            )
        if "no such table" in text:
            return SageError(
                UNAVAILABLE,
                f"Company database {self.path} is not initialized ({text}); "
                "run `python -m relay.sage init`",
            )
        return SageError(UNAVAILABLE, f"Company database {self.path.name} failed: {text}")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        joined = getattr(self._local, "conn", None)
        if joined is not None:  # inside batch(): see its uncommitted rows
            yield joined
            return
        try:
            conn = self._open()
            try:
                yield conn
            finally:
                conn.close()
        except sqlite3.OperationalError as exc:
            raise self._unavailable(exc) from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction holding the write lock from the first check to COMMIT."""
        joined = getattr(self._local, "conn", None)
        if joined is not None:  # inside batch(): part of its transaction
            yield joined
            return
        try:
            conn = self._open()
            try:
                conn.execute("BEGIN IMMEDIATE")
                self._local.conn = conn
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                finally:
                    self._local.conn = None
                conn.execute("COMMIT")
            finally:
                conn.close()
        except sqlite3.OperationalError as exc:
            raise self._unavailable(exc) from exc
        except sqlite3.IntegrityError as exc:  # backstop: the checks below come first
            code = DUPLICATE_KEY if "UNIQUE" in str(exc) else INVALID_REFERENCE
            raise SageError(code, f"Record refused by the database: {exc}") from exc

    @staticmethod
    def _next_recnum(conn: sqlite3.Connection, table: str) -> int:
        """The next record number of ``table`` (highest + 1; 1 in an empty table).

        Only inside the write transaction, which holds the lock: two writers never get the
        same number.
        """
        highest = conn.execute(
            f"SELECT MAX(recnum) FROM {table}"  # noqa: S608 # nosec B608 (fixed identifiers)
        ).fetchone()[0]
        return 1 if highest is None else int(highest) + 1

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Run several writes of this thread as one transaction (one commit, all or none)."""
        with self._write():
            yield

    def init(self) -> None:
        """Create the schema if missing (idempotent) and switch the file to WAL.

        A file holding Sage tables of an older layout (schema.LAYOUT_VERSION) is refused
        with UNAVAILABLE and left as it is: recreate it with `python -m relay.sage seed`.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._read() as conn:
            layout = conn.execute("PRAGMA user_version").fetchone()[0]
            has_tables = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'actrec'"
            ).fetchone() is not None
            if has_tables and layout < LAYOUT_VERSION:
                raise SageError(UNAVAILABLE, (
                    f"Company database {self.path} has an older layout of the embedded Sage "
                    f"(version {layout}; this version needs {LAYOUT_VERSION}: Sage's SQL "
                    "types, cost codes as numbers, 0 for no phase, the receivable and budget "
                    "tables); delete it and run "
                    "`python -m relay.sage seed` to recreate it"))
            conn.execute("PRAGMA journal_mode = WAL")
            # One transaction, one commit; a failure leaves the file as it was.
            conn.executescript("BEGIN IMMEDIATE;\n" + schema_script() + "\nCOMMIT;")
