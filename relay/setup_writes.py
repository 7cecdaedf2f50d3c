"""The agent's setup-record commands: a cost code added to Sage's list (ADD_COST_CODE)
and a phase added to a job (ADD_PHASE), each with its reconciliation look-up.

Merged into ``relay.agent.WRITES`` and ``relay.agent.FINDS``: the agent applies them as
every add, once per command id (the journal), and after a crash between the Sage write and
the journal looks the record up first, so a redelivered command never writes a second
record (a cost code or phase that is there with the command's name is the earlier write).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.relay_protocol import CommandType
from relay.receivable_writes import (
    RECEIVABLE_FINDS,
    RECEIVABLE_JOB_PULLS,
    RECEIVABLE_PULLS,
    RECEIVABLE_WRITES,
)
from relay.sage.port import SagePort

# Pulls added beside the agent's own (owner invoice receipts, receivables:
# relay/receivable_writes.py), and those of them a job narrows.
SETUP_PULLS: dict[CommandType, str] = {**RECEIVABLE_PULLS}
SETUP_JOB_PULLS: frozenset[CommandType] = RECEIVABLE_JOB_PULLS

SETUP_WRITES: dict[CommandType, Callable[[SagePort, Any], dict[str, str]]] = {
    CommandType.ADD_COST_CODE: lambda sage, payload: sage.create_cost_code(payload),
    CommandType.ADD_PHASE: lambda sage, payload: sage.create_phase(payload),
    # A PCCO (relay/sage/embedded/prime_changes.py): found again by its reference.
    CommandType.ADD_PRIME_CHANGE_ORDER:
        lambda sage, payload: sage.add_prime_change_order(payload),
    **RECEIVABLE_WRITES,  # owner invoices (relay/receivable_writes.py)
}

SETUP_FINDS: dict[CommandType, Callable[[SagePort, Any], dict[str, str] | None]] = {
    CommandType.ADD_COST_CODE: lambda sage, payload: sage.find_cost_code(payload),
    CommandType.ADD_PHASE: lambda sage, payload: sage.find_phase(payload),
    CommandType.ADD_PRIME_CHANGE_ORDER:
        lambda sage, payload: sage.find_prime_change_order(payload),
    **RECEIVABLE_FINDS,
}
