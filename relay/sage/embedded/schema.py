"""The embedded Sage's DDL: schema.sql (Sage's table and column names and SQL types) plus
the triggers init() adds, the layout version, and how declared types read back."""

from __future__ import annotations

import re
import sqlite3
from datetime import date
from decimal import Decimal
from pathlib import Path

SCHEMA_FILE = Path(__file__).with_name("schema.sql")

# The layout of schema.sql, kept in the file's PRAGMA user_version. 0: before it was kept
# (cost codes as text, NULL for "no phase", money as DECTEXT text); 2: Sage's SQL types;
# 3: clients, cost divisions, sources, receivables, budget line numbers and originals, the
# change order date; 4: the payable line's subcontract line (apivln.linref) and the
# embedded company's posting periods; 5: the payment date required (acppmt.chkdte NOT
# NULL, as acrpmt's). A file of an older layout is refused rather than patched: it is a
# stand-in, recreated by `seed`.
LAYOUT_VERSION = 5

# On connections opened with PARSE_DECLTYPES: DECIMAL(p,s) columns read back as Decimal
# (SQLite hands over the stored integer or float as text, exact to 15 digits; the
# embedded Sage then applies the column's scale), DATE columns as datetime.date.
sqlite3.register_converter("DECIMAL", lambda raw: Decimal(raw.decode()))
sqlite3.register_converter("DATE", lambda raw: date.fromisoformat(raw.decode()))

_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)")
_NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now')"


def schema_script() -> str:
    """schema.sql plus one upddte trigger per table, as one script (idempotent)."""
    schema = SCHEMA_FILE.read_text(encoding="utf-8")
    triggers = []
    for table in _TABLE.findall(schema):  # Sage sets upddte in a trigger; so do we
        update = f"UPDATE {table} SET upddte = {_NOW} WHERE rowid = NEW.rowid;"  # noqa: S608 # nosec B608
        triggers.append(
            f"CREATE TRIGGER IF NOT EXISTS {table}_upddte AFTER UPDATE ON {table} "
            f"FOR EACH ROW WHEN NEW.upddte IS OLD.upddte BEGIN {update} END;"
        )
    return schema + "\n".join(triggers) + f"\nPRAGMA user_version = {LAYOUT_VERSION};"
