"""The embedded Sage's rule for a subcontract change order (a Procore CCO) joining the
change order a PCCO of the same Procore change event wrote: the mirror of prime lines
joining a CCO's change order (relay/sage/embedded/prime_changes.py).

Sage keeps prime and subcontract changes in one change order (6-4-1), so a CCO whose
command names ``join`` (the prmchg a PCCO of its change event wrote; the connector picks
it, chalicelib/kinds/cco.py) adds its sbcgln lines there when that change order is still
one Sage adds them to: on the command's job, no phase (phsnum 0), Approved (status 1),
without subcontract lines yet (one CCO per Sage change order), and the CCO itself is
Approved. The header then keeps its number, date, description and the owner's amounts
(reqamt, appamt) and its cost amount becomes the subcontract lines' sum (cstamt); the
subcontract follows as for any approved change order. Otherwise the CCO gets a change
order of its own, as without ``join``.

A joined line's description starts with the CCO reference (the header's is the PCCO's):
that is how the agent finds the lines after a crash.
"""

from __future__ import annotations

import sqlite3

from relay.sage.embedded.rules import DESCRIPTION_MAX, _invalid, _storable

APPROVED = 1  # prmchg.status / sbcgln.chgsts 1 Approved


def _starts_with(text: str, reference: str) -> bool:
    """Whether ``text`` begins with ``reference`` as a whole: "CCO 12 #002 Rebar" starts
    with "CCO 12 #002", "CCO 12 #0021" does not (the next character may not continue a
    word or number)."""
    if not reference or not text.startswith(reference):
        return False
    rest = text[len(reference):]
    return not rest or not (reference[-1].isalnum() and rest[0].isalnum())


def _check_reference(description: str, reference: str, what: str, column: str) -> str:
    if not _starts_with(description, reference):
        raise _invalid(
            f"{what} {description!r} does not start with its Procore reference {reference!r} "
            f"({column}); the connector puts the reference first so the change is never "
            "written twice"
        )
    return description


def joinable_for_costs(conn: sqlite3.Connection, join: int | None, job: int,
                       status: int) -> sqlite3.Row | None:
    """The prmchg row to add an approved CCO's sbcgln lines to, or None when Sage does not
    take them there (see the module's rules)."""
    if join is None or status != APPROVED or not _storable(join):
        return None
    row = conn.execute("SELECT * FROM prmchg WHERE recnum = ?", (join,)).fetchone()
    if row is None or row["jobnum"] != job or row["phsnum"] != 0 or \
            row["status"] != APPROVED:
        return None
    has_costs = conn.execute("SELECT 1 FROM sbcgln WHERE recnum = ? LIMIT 1",
                             (join,)).fetchone()
    return None if has_costs is not None else row


def joined_description(description: str, reference: str) -> str:
    """A joined sbcgln line's description: the CCO reference first (cut to 50)."""
    if _starts_with(description, reference):
        return description
    return f"{reference} {description}".strip()[:DESCRIPTION_MAX]


def find_joined(conn: sqlite3.Connection, job: int, subcontract: int,
                reference: str) -> dict[str, str] | None:
    """The keys of a change order of ``job`` that a CCO joined: its header is another's,
    its sbcgln lines on ``subcontract`` start with ``reference``."""
    rows = conn.execute(
        "SELECT p.recnum, p.chgnum, p.dscrpt AS header, l.dscrpt FROM prmchg p "
        "JOIN sbcgln l ON l.recnum = p.recnum WHERE p.jobnum = ? AND l.vndctc = ? "
        "ORDER BY p.recnum, l.linnum", (job, subcontract)).fetchall()
    for row in rows:
        if _starts_with(row["dscrpt"] or "", reference) and \
                not _starts_with(row["header"] or "", reference):
            return {"prmchg": str(row["recnum"]), "chgnum": str(row["chgnum"]),
                    "subcon": str(subcontract), "joined": "true"}
    return None
