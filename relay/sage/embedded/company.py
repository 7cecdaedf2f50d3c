"""EmbeddedSage: the embedded company database, composed of its parts."""

from __future__ import annotations

from relay.sage.embedded.budgets import Budgets
from relay.sage.embedded.change_orders import ChangeOrders
from relay.sage.embedded.demo_data import Seeding
from relay.sage.embedded.job_costs import JobCosts
from relay.sage.embedded.payables import Payables
from relay.sage.embedded.payments import Payments
from relay.sage.embedded.prime_changes import PrimeChanges
from relay.sage.embedded.reads import Reads
from relay.sage.embedded.receivables import Receivables
from relay.sage.embedded.setup_records import SetupRecords
from relay.sage.embedded.writes import Writes


class EmbeddedSage(Writes, Budgets, ChangeOrders, Payables, Payments, Receivables,
                   JobCosts, SetupRecords, PrimeChanges, Reads, Seeding):
    """A Sage 100 Contractor company database in one SQLite file (implements SagePort)."""
