"""The embedded company's posting periods (a part of EmbeddedSage).

A real Sage 100 Contractor keeps its posting periods in its company setup (the posting
year, the current period, the periods an administrator locked); real_schema.json shows no
table for them, and the agent never changes them. The embedded Sage keeps them in one row
of its own settings table ``_posting`` (schema.sql; a name starting with _ is no Sage
table), so a test, the demo or an operator can lock a period in the company file while the
agent runs in another process, and every posting write reads them inside its own
transaction (posting.PostingPeriods, posting.posting_period).

No row means the defaults: the posting year is the current calendar year, the current
period this month (``today``), nothing locked and no lock date; they follow the calendar
until someone sets periods. ``set_posting_periods`` stores them (checked as
PostingPeriods checks them: current period 1-12, locked periods 1-12 but never the current
one); ``lock_posting_period`` / ``unlock_posting_period`` change one period of the stored
(or default) periods; ``reset_posting_periods`` goes back to the defaults.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import date

from relay.sage.embedded.database import SageDatabase
from relay.sage.embedded.posting import PostingPeriods
from relay.sage.embedded.rules import _bindable


def _locked_text(locked: Iterable[int]) -> str:
    return ",".join(str(period) for period in sorted(set(locked)))


def _locked_set(text: str) -> frozenset[int]:
    return frozenset(int(part) for part in text.split(",") if part.strip())


class Periods(SageDatabase):
    """The company's posting periods (a part of EmbeddedSage)."""

    def posting_periods(self) -> PostingPeriods:
        """The company's posting periods: the stored ones, else the defaults."""
        with self._read() as conn:
            return self._periods(conn)

    def set_posting_periods(self, year: int, current: int, *, locked: Iterable[int] = (),
                            lock_date: date | None = None) -> PostingPeriods:
        """Store the posting year, its current period, its locked periods and the lock
        date (nothing dated before it posts); ValueError for periods Sage would not have
        (current 1-12, locked 1-12 and never the current one, a year outside 1900-9999)."""
        if not 1900 <= year <= 9999:
            raise ValueError(f"posting year {year} is not 1900-9999")
        periods = PostingPeriods(year=year, current=current, locked=frozenset(locked),
                                 lock_date=lock_date)
        with self._write() as conn:
            conn.execute(
                "INSERT INTO _posting (recnum, postyr, curprd, lckprd, lckdte, insusr) "
                "VALUES (1, ?, ?, ?, ?, ?) ON CONFLICT (recnum) DO UPDATE SET "
                "postyr = excluded.postyr, curprd = excluded.curprd, "
                "lckprd = excluded.lckprd, lckdte = excluded.lckdte, updusr = ?",
                (periods.year, periods.current, _locked_text(periods.locked),
                 _bindable(periods.lock_date), self.user, self.user),
            )
        return periods

    def lock_posting_period(self, period: int) -> PostingPeriods:
        """Lock one period of the posting year (not the current one: ValueError)."""
        now = self.posting_periods()
        return self.set_posting_periods(now.year, now.current, locked=now.locked | {period},
                                        lock_date=now.lock_date)

    def unlock_posting_period(self, period: int) -> PostingPeriods:
        """Unlock one period of the posting year (nothing happens if it is not locked)."""
        now = self.posting_periods()
        return self.set_posting_periods(now.year, now.current, locked=now.locked - {period},
                                        lock_date=now.lock_date)

    def reset_posting_periods(self) -> PostingPeriods:
        """Forget the stored periods: the defaults (this year, this month) apply again."""
        with self._write() as conn:
            conn.execute("DELETE FROM _posting")
        return self.posting_periods()

    def _periods(self, conn: sqlite3.Connection) -> PostingPeriods:
        """The periods as ``conn`` sees them (inside a write: as that transaction does)."""
        row = conn.execute(
            "SELECT postyr, curprd, lckprd, lckdte FROM _posting WHERE recnum = 1"
        ).fetchone()
        if row is None:
            today = self.today()
            return PostingPeriods(year=today.year, current=today.month)
        return PostingPeriods(year=int(row["postyr"]), current=int(row["curprd"]),
                              locked=_locked_set(row["lckprd"]), lock_date=row["lckdte"])
