"""`python -m bench` (`make bench`): every benchmark of the project, as one table.

Figures come from one run on this machine; compare ratios and counts, not absolute
times (these machines are noisy). Nothing here is asserted by the tests.
"""

from __future__ import annotations

from bench import (
    budget_export,
    export_path,
    import_time,
    intake_load,
    job_costs,
    webhook_receiver,
)


def main() -> None:
    export_path.quiet()
    cold = import_time.measure()
    rows = [
        ("cold start: import app / import boto3 (best of 5 fresh interpreters)",
         f"{cold['ratio']:.2f} ({cold['app_ms']:.0f} ms / {cold['boto3_ms']:.0f} ms)"),
        ("webhook receiver, warm, per call (in-process app, moto FIFO queue; 200 calls)",
         f"{webhook_receiver.per_call_ms():.1f} ms"),
        *export_path.rows(),
        *budget_export.rows(),  # a 1,000-line budget, then a change set of 10 lines
        *job_costs.rows(),  # 10,000 and 100,000 job cost rows into Procore direct costs
        *intake_load.rows(),  # 10,000 deliveries over 200 commitments: the longest part
    ]
    export_path.print_table(rows)


if __name__ == "__main__":
    main()
