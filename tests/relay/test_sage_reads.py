"""The agent's paged list reads: one set of SQLAlchemy statements for the embedded SQLite
file and a real Sage company database (SQL Server).

There is no SQL Server here: every statement is compiled for the mssql dialect and checked
for what SQL Server needs (TOP / OFFSET-FETCH, nothing SQLite-only), and run on SQLite
against the embedded database, where it must give the pages the pulls have always given.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
import sqlalchemy.dialects.mssql
from sqlalchemy.engine import URL

from chalicelib.relay_protocol import Command, CommandType, Result, VendorPayload
from relay.agent import RelayAgent
from relay.config import AgentConfig, ConfigError, load_config
from relay.sage.embedded import EmbeddedSage
from relay.sage.port import SECURITY_DENIED, UNAVAILABLE, SageError
from relay.sage.reads import (
    READABLE_TABLES,
    READS,
    SageReads,
    decode_cursor,
    encode_cursor,
    read_statement,
)
from relay.sage.tables import metadata

COMPANY_ID = 4264

# Every statement a pull can send: each list's first page, a later page, and phases and
# budget lines of a job.
STATEMENTS = [
    ("jobs", None, None), ("jobs", "[24001]", None),
    ("vendors", None, None), ("vendors", "[3002]", None),
    ("cost_codes", None, None), ("cost_codes", '["3300.000"]', None),
    ("cost_types", None, None), ("cost_types", "[4]", None),
    ("phases", None, None), ("phases", "[24001,2]", None),
    ("phases", None, 24001), ("phases", "[24001,2]", 24001),
    ("budgets", None, None), ("budgets", '[24001,0,"3300.000"]', None),
    ("budgets", None, 24001), ("budgets", '[24001,2,"5120.000"]', 24001),
]


@pytest.fixture
def sage(tmp_path: Path) -> EmbeddedSage:
    db = EmbeddedSage(tmp_path / "sage.db")
    db.init()
    db.seed_demo()
    return db


def read_all(reader: Any, table: str, limit: int,
             job: int | None = None) -> tuple[list[list[dict[str, Any]]], list[str | None]]:
    pages: list[list[dict[str, Any]]] = []
    cursors: list[str | None] = []
    cursor: str | None = None
    while True:
        rows, cursor = reader.read(table, after=cursor, limit=limit, job=job)
        pages.append(rows)
        cursors.append(cursor)
        if cursor is None:
            return pages, cursors


def sqlite_reads(db: EmbeddedSage) -> SageReads:
    """The reader the agent builds from a configured URL, here on the embedded file."""
    return SageReads.connect(URL.create("sqlite", database=str(db.path)).render_as_string())


# ---- SQL Server ---------------------------------------------------------------------------


@pytest.mark.parametrize(("table", "after", "job"), STATEMENTS)
def test_every_read_statement_compiles_for_sql_server(table: str, after: str | None,
                                                      job: int | None) -> None:
    # GIVEN one page's statement; WHEN it is compiled for SQL Server with its values inline
    statement = read_statement(table, after=after, limit=200, job=job)
    sql = str(statement.compile(dialect=sqlalchemy.dialects.mssql.dialect(),
                                compile_kwargs={"literal_binds": True}))

    # THEN it is T-SQL: TOP (or OFFSET ... FETCH), dbo tables, nothing SQLite-only
    assert "TOP 201" in sql or ("OFFSET" in sql and "FETCH" in sql), sql
    assert "LIMIT" not in sql.upper() and "NOCASE" not in sql.upper(), sql
    assert "sage_fold" not in sql and "length(" not in sql.lower(), sql
    assert f"FROM dbo.{READS[table].columns[0].table.name}" in sql, sql
    assert "ORDER BY" in sql
    if table == "phases" and after is not None:  # keyset without a row-value comparison
        assert "(dbo.jobphs.recnum, dbo.jobphs.phsnum) >" not in sql
        assert ("dbo.jobphs.recnum > 24001 OR dbo.jobphs.recnum = 24001 AND "
                "dbo.jobphs.phsnum > 2") in sql, sql


def test_a_decimal_cursor_is_a_decimal_literal_on_sql_server() -> None:
    statement = read_statement("cost_codes", after='["3300.000"]', limit=2)
    sql = str(statement.compile(dialect=sqlalchemy.dialects.mssql.dialect(),
                                compile_kwargs={"literal_binds": True}))
    assert "WHERE dbo.cstcde.recnum > 3300.000 ORDER BY dbo.cstcde.recnum" in sql
    assert "'3300.000'" not in sql  # a number, compared as one, not text


def test_read_tables_follow_sage_names_and_types() -> None:
    # real_schema.json: recnum bigint, cstcde.recnum decimal(15,3), tinyint flags, nvarchar.
    mssql = sqlalchemy.dialects.mssql.dialect()
    types = {(table.name, column.name): column.type.compile(dialect=mssql)
             for table in metadata.tables.values() for column in table.columns}
    assert types[("cstcde", "recnum")] == "DECIMAL(15, 3)"
    assert types[("actrec", "recnum")] == types[("actpay", "recnum")] == "BIGINT"
    assert types[("jobphs", "phsnum")] == "BIGINT"
    assert types[("actrec", "status")] == types[("actpay", "inactv")] == "TINYINT"
    assert types[("cstcde", "inactv")] == "NVARCHAR(2)"
    assert types[("actpay", "fedidn")] == "NVARCHAR(64)"
    assert types[("actrec", "jobnme")] == types[("actpay", "vndnme")] == "NVARCHAR(75)"
    assert {table.schema for table in metadata.tables.values()} == {"dbo"}


# ---- SQLite: the same pages as before ------------------------------------------------------


def test_reads_on_sqlite_give_the_pages_they_always_gave(sage: EmbeddedSage) -> None:
    sage.add_phase(24002, 2, "Shell")
    pages, cursors = read_all(sage, "phases", 2)
    assert pages == [
        [{"job": 24001, "phase": 1, "name": "Site and Foundations"},
         {"job": 24001, "phase": 2, "name": "Structure"}],
        [{"job": 24001, "phase": 3, "name": "Finishes"},
         {"job": 24002, "phase": 1, "name": "Demolition"}],
        [{"job": 24002, "phase": 2, "name": "Shell"}],
    ]
    assert cursors == ["[24001,2]", "[24002,1]", None]
    jobs, _ = read_all(sage, "jobs", 2)
    assert [[r["job"] for r in page] for page in jobs] == [[23099, 24001], [24002]]
    assert jobs[0][0] == {"job": 23099, "name": "Old Library Closeout",
                          "short_name": "Old Library Closeout", "status": 6, "address": None,
                          "city": None, "state": None, "zip_code": None}
    codes, _ = read_all(sage, "cost_codes", 4)
    assert [[r["code"] for r in page] for page in codes] == [
        ["1100.000", "2200.000", "3300.000", "5120.000"], ["9900.000", "26000.000"]]


@pytest.mark.parametrize("table", READABLE_TABLES)
@pytest.mark.parametrize("limit", [1, 2, 3, 100])
def test_a_configured_url_reads_exactly_what_the_port_reads(sage: EmbeddedSage, table: str,
                                                            limit: int) -> None:
    # The agent's reader for a configured database URL, pointed at the embedded file.
    assert read_all(sqlite_reads(sage), table, limit) == read_all(sage, table, limit)


def test_paging_over_decimal_cost_codes(sage: EmbeddedSage) -> None:
    # GIVEN codes with decimals next to whole ones, the largest decimal(15,3), and a code
    # whose text sorts before "3300.000" while its number sorts after
    for code, name in [("3300.1", "Footings"), ("3300.25", "Slabs"), ("100.5", "Permits"),
                       ("33000", "Mechanical"), ("999999999999.999", "Largest")]:
        sage.add_cost_code(code, name)

    # WHEN they are read one per page, and three per page
    one, one_cursors = read_all(sage, "cost_codes", 1)
    three, _ = read_all(sage, "cost_codes", 3)

    # THEN they come in numeric order with their exact text, each exactly once
    order = ["100.500", "1100.000", "2200.000", "3300.000", "3300.100", "3300.250",
             "5120.000", "9900.000", "26000.000", "33000.000", "999999999999.999"]
    assert [row["code"] for page in one for row in page] == order
    assert [row["code"] for page in three for row in page] == order
    assert one_cursors[3] == '["3300.000"]' and one_cursors[-2] == '["33000.000"]'
    rows, cursor = sage.read("cost_codes", after='["3300.000"]', limit=2)
    assert [r["code"] for r in rows] == ["3300.100", "3300.250"]
    assert cursor == '["3300.250"]'


def test_cursors_are_json_of_the_key_with_decimals_as_text() -> None:
    class Row:
        def __init__(self, **values: Any) -> None:
            self._mapping = values

    codes = READS["cost_codes"]
    assert encode_cursor(codes, Row(recnum=Decimal("3300.000"))) == '["3300.000"]'
    assert encode_cursor(codes, Row(recnum=3300.5)) == '["3300.500"]'  # SQLite's float
    assert decode_cursor(codes, '["3300.000"]') == [Decimal("3300.000")]
    assert encode_cursor(READS["phases"], Row(recnum=24001, phsnum=2)) == "[24001,2]"
    assert decode_cursor(READS["phases"], "[24001,2]") == [24001, 2]
    for bad in ("3300.000", '["NaN"]', "[3300]", "[]", '{"a": 1}', "[[1]]"):
        with pytest.raises(ValueError, match="is not a cost_codes cursor"):
            decode_cursor(codes, bad)


def test_blank_text_reads_as_none(sage: EmbeddedSage) -> None:
    # Sage keeps optional text as '' in NOT NULL columns; a pulled row says None.
    sage.add_vendor(VendorPayload(vendor=4100, name="Bayside Glazing", short_name="",
                                  address="", tax_id=""))
    rows, _ = sage.read("vendors", after="[3004]", limit=5)
    assert rows == [{"vendor": 4100, "name": "Bayside Glazing", "short_name": None,
                     "inactive": False, "tax_id": None, "address": None, "city": None,
                     "state": None, "zip_code": None}]


def test_an_unreachable_database_is_retryable(tmp_path: Path) -> None:
    reads = SageReads.connect(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'sage.db'}")
    with pytest.raises(SageError) as caught:
        reads.read("jobs", after=None, limit=2)
    assert caught.value.code == UNAVAILABLE and caught.value.retryable


def test_an_uninitialized_embedded_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(SageError) as caught:
        EmbeddedSage(tmp_path / "empty.db").read("jobs", after=None, limit=2)
    assert caught.value.code == UNAVAILABLE and "not initialized" in caught.value.message


# ---- the agent's configuration --------------------------------------------------------------


class SentMessages:
    """Stands in for the SQS client: keeps what the agent sends."""

    def __init__(self) -> None:
        self.bodies: list[str] = []

    def send_message(self, **kwargs: Any) -> dict[str, Any]:
        self.bodies.append(kwargs["MessageBody"])
        return {}


def agent_config(tmp_path: Path, **values: Any) -> AgentConfig:
    return AgentConfig(agent_id="agent-1", company_id=COMPANY_ID,
                       commands_queue_url="https://sqs.us-east-1.amazonaws.com/1/c.fifo",
                       results_queue_url="https://sqs.us-east-1.amazonaws.com/1/r.fifo",
                       journal_path=str(tmp_path / "journal.db"),
                       sage_db=str(tmp_path / "sage.db"), wait_seconds=0, **values)


def command(kind: CommandType, payload: dict[str, Any], command_id: str) -> Command:
    return Command(command_id=command_id, company_id=COMPANY_ID, type=kind,
                   item_id=f"item-{command_id}", export_version=1, payload=payload,
                   issued_at="2025-03-01T12:00:00Z")


def test_the_agent_pulls_from_the_configured_database(sage: EmbeddedSage,
                                                      tmp_path: Path) -> None:
    # GIVEN another company database (standing in for a real Sage) named by the config
    other = EmbeddedSage(tmp_path / "real.db")
    other.init()
    other.seed_job(31001, "Only In The Configured Database")
    url = URL.create("sqlite", database=str(other.path)).render_as_string()
    sent = SentMessages()
    agent = RelayAgent(agent_config(tmp_path, sage_database_url=url), sage, sent)

    # WHEN the jobs are pulled
    last = agent.pull(command(CommandType.PULL_JOBS, {}, "pull-jobs"))
    agent.close()

    # THEN the rows are that database's, not the port's
    assert last is not None and last.ok
    rows = [row for body in sent.bodies for row in Result.model_validate_json(body).data or []]
    assert [row["job"] for row in rows] == [31001]


def test_a_configured_database_is_never_written(sage: EmbeddedSage, tmp_path: Path) -> None:
    other = EmbeddedSage(tmp_path / "real.db")
    other.init()
    url = URL.create("sqlite", database=str(other.path)).render_as_string()
    agent = RelayAgent(agent_config(tmp_path, sage_database_url=url), sage, SentMessages())
    before = (sage.count("actrec"), other.count("actrec"))

    result = agent.handle(command(CommandType.ADD_JOB, {"job": 24010, "name": "Harbor"},
                                  "add-job"))
    agent.close()

    assert not result.ok and result.error is not None
    assert result.error.code == SECURITY_DENIED and not result.error.retryable
    assert "may not write" in result.error.message
    assert (sage.count("actrec"), other.count("actrec")) == before


def test_without_a_database_url_pulls_read_through_the_port(sage: EmbeddedSage,
                                                            tmp_path: Path) -> None:
    agent = RelayAgent(agent_config(tmp_path), sage, SentMessages())
    assert agent.reads is sage
    agent.close()


def test_database_url_setting(tmp_path: Path) -> None:
    env = {"RELAY_AGENT_ID": "a", "RELAY_COMPANY_ID": "1",
           "RELAY_COMMANDS_QUEUE_URL": "https://q/c.fifo",
           "RELAY_RESULTS_QUEUE_URL": "https://q/r.fifo", "RELAY_JOURNAL": "j",
           "RELAY_SAGE_DB": "s"}
    assert load_config(None, env=env).sage_database_url is None
    url = ("mssql+pyodbc://SAGESRV\\SAGE100CON/Acme?driver=ODBC+Driver+18+for+SQL+Server")
    file = tmp_path / "relay.toml"
    file.write_text(f"sage_database_url = '{url}'\n")  # a TOML literal string
    assert load_config(str(file), env=env).sage_database_url == url
    with_password = "mssql+pyodbc://relay:s3cret@SAGESRV/Acme?driver=ODBC+Driver+18+for+SQL+Server"
    assert load_config(None, env={**env, "RELAY_SAGE_DATABASE_URL": with_password}
                       ).sage_database_url == with_password  # the environment may hold it
    file.write_text(f'sage_database_url = "{with_password}"\n')
    with pytest.raises(ConfigError, match="password in sage_database_url"):
        load_config(str(file), env=env)
    with pytest.raises(ConfigError, match="invalid setting sage_database_url"):
        load_config(None, env={**env, "RELAY_SAGE_DATABASE_URL": "postgresql://h/db"})
    with pytest.raises(ConfigError, match="invalid setting sage_database_url"):
        load_config(None, env={**env, "RELAY_SAGE_DATABASE_URL": "not a url"})
