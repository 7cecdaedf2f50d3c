"""The agent's accounts receivable commands: an owner invoice added to Sage AR
(ADD_RECEIVABLE_INVOICE -> ``add_receivable_invoice``) with its reconciliation look-up
(``find_receivable_invoice``: the invoice number on the command's job), and the receipts
and receivables pulls' list names.

Merged into ``relay.agent.WRITES`` / ``FINDS`` through ``relay.setup_writes`` (the agent
module stays at its size): applied once per command id (the journal); after a crash
between the Sage write and the journal the invoice is looked up first, so a redelivered
command never writes a second acrinv. The embedded writer is resend-safe besides (the same
invoice again answers its keys; the number used by another invoice is 14201).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.relay_protocol import CommandType
from relay.sage.port import SagePort

RECEIVABLE_WRITES: dict[CommandType, Callable[[SagePort, Any], dict[str, str]]] = {
    CommandType.ADD_RECEIVABLE_INVOICE:
        lambda sage, payload: sage.add_receivable_invoice(payload),
}

RECEIVABLE_FINDS: dict[CommandType, Callable[[SagePort, Any], dict[str, str] | None]] = {
    CommandType.ADD_RECEIVABLE_INVOICE:
        lambda sage, payload: sage.find_receivable_invoice(payload),
}

# Pull command -> the list SagePort.read serves (relay/sage/reads.py "receipts",
# "receivables": the owner side of the reconciliation report, relay/sage/receivable_reads.py).
RECEIVABLE_PULLS: dict[CommandType, str] = {CommandType.PULL_RECEIPTS: "receipts",
                                            CommandType.PULL_RECEIVABLES: "receivables"}
# Those that PullPayload.job narrows to one job.
RECEIVABLE_JOB_PULLS = frozenset({CommandType.PULL_RECEIVABLES})
