"""Job cost figures, measured in one run (``python -m bench.job_costs``):

N job cost rows (General Journal, Payroll and Accounts Payable, one cost code and two
cost types of job 24001) posted in the embedded Sage go to the Procore sandbox as direct
costs through the whole path: a job cost run started as ``POST /sync/job-costs`` does, the
relay command queue, the agent as its own process (one page of 1,000 rows per command),
the results handler (Procore's direct cost and line item syncs over HTTP, the rows kept,
the cursor), on a moto server on 127.0.0.1; the sandbox runs in its own process, so the
figures of this process are the connector's. Done for N = 10,000 and N = 100,000 in
separate worlds, so the two are compared.

Counted, not asserted: Procore API requests of the connector (all of them, and the
direct cost syncs), pages, the peak memory the results handler allocated while handling
one page (tracemalloc, in this process) and the agent's peak resident memory (VmHWM of
its process), rows per second from the run's start to its end (one page in ten is traced,
which slows that page).
"""

from __future__ import annotations

import math
import threading
import time
import tracemalloc
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.export_path import print_table, quiet
from bench.world import COMPANY, JOB, World, bench_world

TIMEOUT_SECONDS = 1800.0
TRACED_EVERY = 10  # pages: the peak memory of every tenth page handled is measured
JOURNALS = ("General Journal", "Payroll", "Accounts Payable")


class BenchFailure(RuntimeError):
    """The run did not get where it should; the message says where."""


def _post(world: World, count: int) -> None:
    vendor_key = "3001"
    from chalicelib.domain.models import Link

    world.store.put_link(Link(company_id=COMPANY, kind="vendor",
                              procore_id=world.demo["vendor_ids"]["concrete"],
                              sage_key=vendor_key))
    rows = [{"job": JOB, "cost_code": "3300.000", "cost_type": 1 + n % 2,
             "amount": f"{(n * 37) % 9000 + 1}.{n % 100:02d}", "date": "2026-11-02",
             "description": f"Job cost row {n:06d}, concrete crew and materials",
             "transaction": f"T-{n:07d}", "journal": JOURNALS[n % 3],
             "vendor": 3001 if JOURNALS[n % 3] == "Accounts Payable" else None}
            for n in range(count)]
    settled = datetime.now(UTC) - timedelta(minutes=5)  # older than the settle time
    world.sage.post_job_costs(rows, inserted_at=settled)


def _agent_peak_kb(world: World) -> int | None:
    if world.agent is None:
        return None
    status = Path(f"/proc/{world.agent.pid}/status")
    for line in status.read_text().splitlines() if status.exists() else []:
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def measure(count: int) -> dict[str, Any]:
    with bench_world(f"jc{count}", sandbox_process=True) as world:
        _post(world, count)
        wiring = world.wiring
        procore = wiring.get_procore(COMPANY)
        requests: list[tuple[str, str]] = []
        original = procore._call

        def counted(method: str, path: str, **kwargs: Any) -> Any:
            requests.append((method, path.split("?")[0]))
            return original(method, path, **kwargs)

        procore._call = counted  # type: ignore[method-assign]
        peaks: list[int] = []
        sync = wiring.get_job_cost_sync()
        handle = sync.handle_page
        lock = threading.Lock()

        handled = [0]

        def traced(result: Any) -> str:
            with lock:  # one page at a time, as one Lambda invocation handles one
                handled[0] += 1
                if handled[0] % TRACED_EVERY != 1:  # tracing slows Python: 1 page in 10
                    return handle(result)
                tracemalloc.start()
                try:
                    return handle(result)
                finally:
                    peaks.append(tracemalloc.get_traced_memory()[1])
                    tracemalloc.stop()

        sync.handle_page = traced  # type: ignore[method-assign]
        world.start_agent()
        world.start_pumps()
        from chalicelib.domain.permissions import Level, User

        admin = User(subject="bench-admin", company_id=COMPANY, erp_level=Level.ADMIN)
        sync.set_enabled(admin, world.project, True)
        started = time.perf_counter()
        sync.request(admin, world.project)
        deadline = time.monotonic() + TIMEOUT_SECONDS
        state: dict[str, Any] = {}
        while time.monotonic() < deadline:
            state = world.store.get_job_cost_sync(COMPANY, world.project)
            if state.get("run") is None and state.get("last_run"):
                break
            if world.pump_errors:
                raise BenchFailure(f"pump errors: {world.pump_errors[:3]}")
            time.sleep(0.2)
        else:
            raise BenchFailure(f"the run did not end in {TIMEOUT_SECONDS:.0f} s: {state}")
        elapsed = time.perf_counter() - started
        last = state["last_run"]
        if last["status"] != "ok" or last["synced"] != count:
            raise BenchFailure(f"run ended {last}")
        by_path = Counter(path for _, path in requests)
        syncs = sum(n for path, n in by_path.items() if path.endswith("/sync"))
        return {"rows": count, "pages": last["pages"], "procore_requests": len(requests),
                "procore_syncs": syncs, "elapsed": elapsed, "rows_per_s": count / elapsed,
                "page_peak_kb": max(peaks) // 1024 if peaks else 0,
                "agent_peak_kb": _agent_peak_kb(world)}


def rows() -> list[tuple[str, str]]:
    small, large = measure(10_000), measure(100_000)
    out = []
    for figures in (small, large):
        n = figures["rows"]
        out += [
            (f"job costs, {n:,} rows: Procore requests (goal ceil(N/1000) + a few = "
             f"{math.ceil(n / 1000)} + a few)",
             f"{figures['procore_requests']} ({figures['procore_syncs']} syncs: direct costs "
             f"+ line items per page of 1,000; {figures['pages']} pages)"),
            (f"job costs, {n:,} rows: rows per second, run start -> end",
             f"{figures['rows_per_s']:.0f} ({figures['elapsed']:.1f} s)"),
            (f"job costs, {n:,} rows: peak memory handling one page (connector) / agent "
             "peak RSS", f"{figures['page_peak_kb']:,} KB / {figures['agent_peak_kb']:,} KB"),
        ]
    return out


if __name__ == "__main__":
    quiet()
    print_table(rows())
