"""The embedded Sage's setup records sent from Procore through acceptance: a cost code
added to the company-wide list (cstcde) and a phase added to a job (jobphs), with the
look-ups the agent reconciles with after a crash (a part of EmbeddedSage).

Sage's rules and codes: a code or phase that exists is refused with 12000 (duplicate
key), a job or division that does not exist with 12802 (invalid reference), a value Sage
cannot store (a code that is not decimal(15,3), a blank or too long name, a number out of
range) with 14050 (invalid data). Nothing is cut to fit.
"""

from __future__ import annotations

from chalicelib.relay_protocol import CostCodePayload, PhasePayload
from relay.sage.embedded.database import SageDatabase
from relay.sage.embedded.rules import (
    COST_CODE_NAME_MAX,
    PHASE_NAME_MAX,
    _fold,
    _guid,
    _invalid,
    _recnum,
    _reference,
    _storable,
    _text,
    normalize_cost_code,
)
from relay.sage.port import DUPLICATE_KEY, SageError

DIVISION_MAX = 2_147_483_647  # cstcde.divnum int
DIVISION_NAME_MAX = 50  # cstdiv.divnme nvarchar(50) (schema.sql)


class SetupRecords(SageDatabase):
    """Cost codes and phases added from Procore, and cost divisions (a part of
    EmbeddedSage)."""

    # -- SagePort: cost codes ---------------------------------------------------------------

    def create_cost_code(self, payload: CostCodePayload) -> dict[str, str]:
        """Insert cstcde; {"cstcde": "3350.000"}. 12000 the code exists (active or not);
        12802 its division is not in cstdiv; 14050 a value Sage would not store."""
        code = normalize_cost_code(payload.cost_code)
        name = _text(payload.name, COST_CODE_NAME_MAX, "cost code name", "cstcde.cdenme",
                     required=True)
        division = payload.division
        if division is not None and not 1 <= division <= DIVISION_MAX:
            raise _invalid(f"division {division} is out of range 1-{DIVISION_MAX} "
                           "(cstcde.divnum)")
        with self._write() as conn:
            held = conn.execute("SELECT cdenme FROM cstcde WHERE recnum = ?",
                                (code,)).fetchone()
            if held is not None:
                raise SageError(DUPLICATE_KEY, f"Duplicate key: cost code {code} already "
                                f"exists as '{held['cdenme']}' (cstcde.recnum)")
            if division is not None and conn.execute(
                    "SELECT 1 FROM cstdiv WHERE recnum = ?", (division,)).fetchone() is None:
                raise _reference(f"division {division} does not exist (cstdiv.recnum); add "
                                 "it in Sage or send the cost code without a division")
            conn.execute(
                "INSERT INTO cstcde (_idnum, recnum, cdenme, divnum, insusr) "
                "VALUES (?, ?, ?, ?, ?)", (_guid(), code, name, division, self.user))
        return {"cstcde": code}

    def find_cost_code(self, payload: CostCodePayload) -> dict[str, str] | None:
        """Keys of the command's cost code if Sage has it with the command's name and
        division (reconciliation: the write of an earlier delivery), else None."""
        try:
            code = normalize_cost_code(payload.cost_code)
        except SageError:
            return None
        with self._read() as conn:
            row = conn.execute("SELECT cdenme, divnum FROM cstcde WHERE recnum = ?",
                               (code,)).fetchone()
        if row is None or _fold(row["cdenme"]) != _fold(payload.name) or \
                row["divnum"] != payload.division:
            return None
        return {"cstcde": code}

    def add_division(self, recnum: int, name: str, *, skip_existing: bool = False) -> bool:
        """Add a cost division (cstdiv), as an accountant would in Sage; 12000 if it exists
        (False when ``skip_existing``)."""
        if not 1 <= recnum <= DIVISION_MAX:
            raise _invalid(f"division {recnum} is out of range 1-{DIVISION_MAX} "
                           "(cstdiv.recnum)")
        name = _text(name.strip(), DIVISION_NAME_MAX, "division name", "cstdiv.divnme",
                     required=True)
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM cstdiv WHERE recnum = ?",
                            (recnum,)).fetchone() is not None:
                if skip_existing:
                    return False
                raise SageError(DUPLICATE_KEY, f"Duplicate key: division {recnum} already "
                                "exists (cstdiv.recnum)")
            conn.execute("INSERT INTO cstdiv (_idnum, recnum, divnme, insusr) "
                         "VALUES (?, ?, ?, ?)", (_guid(), recnum, name, self.user))
        return True

    # -- SagePort: phases -------------------------------------------------------------------

    def create_phase(self, payload: PhasePayload) -> dict[str, str]:
        """Insert jobphs; {"jobphs": job, "phsnum": phase}. 12802 the job does not exist;
        12000 the job has the phase; 14050 a value Sage would not store."""
        _recnum(payload.phase, "phase", "jobphs.phsnum")
        name = _text(payload.name, PHASE_NAME_MAX, "phase name", "jobphs.phsnme",
                     required=True)
        with self._write() as conn:
            if not _storable(payload.job) or conn.execute(
                    "SELECT 1 FROM actrec WHERE recnum = ?",
                    (payload.job,)).fetchone() is None:
                raise _reference(f"job {payload.job} does not exist (actrec.recnum)")
            held = conn.execute("SELECT phsnme FROM jobphs WHERE recnum = ? AND phsnum = ?",
                                (payload.job, payload.phase)).fetchone()
            if held is not None:
                raise SageError(DUPLICATE_KEY, f"Duplicate key: phase {payload.phase} of job "
                                f"{payload.job} already exists as '{held['phsnme']}' "
                                "(jobphs.recnum/phsnum)")
            conn.execute(
                "INSERT INTO jobphs (_idnum, recnum, phsnum, phsnme, insusr) "
                "VALUES (?, ?, ?, ?, ?)",
                (_guid(), payload.job, payload.phase, name, self.user))
        return {"jobphs": str(payload.job), "phsnum": str(payload.phase)}

    def find_phase(self, payload: PhasePayload) -> dict[str, str] | None:
        """Keys of the command's phase if the job has it with the command's name
        (reconciliation), else None."""
        if not (_storable(payload.job) and _storable(payload.phase)):
            return None
        with self._read() as conn:
            row = conn.execute("SELECT phsnme FROM jobphs WHERE recnum = ? AND phsnum = ?",
                               (payload.job, payload.phase)).fetchone()
        if row is None or _fold(row["phsnme"]) != _fold(payload.name):
            return None
        return {"jobphs": str(payload.job), "phsnum": str(payload.phase)}
