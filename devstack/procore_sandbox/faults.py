"""Injected faults: answers the sandbox gives instead of the real ones.

``inject_fault`` (or ``POST /_sandbox/faults``) queues a ``Fault``; the request pipeline in
``server`` takes the first one matching each API call (``_take_fault``) and answers it
(``_fault_response``), before handling the call or, with ``after_handling``, after it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import ClassVar

from devstack.procore_sandbox.state import (
    Route,
    SandboxError,
    SandboxState,
    _as_int,
    _json_body,
    _Request,
    _Response,
)


@dataclass
class Fault:
    """An injected failure answered instead of the real response, ``count`` times.

    ``after_handling``: the request is handled first (a POST creates its record, webhooks
    fire) and the fault is answered in place of the real response, like a gateway's 502
    after the origin acted: the answer is lost, the effect is not. A call the rate limit
    refuses is not handled; its 429 stands (the fault is used up all the same).
    """

    status: int
    count: int = 1
    path_prefix: str | None = None
    retry_after: int | None = None
    reset_in: int = 1
    method: str | None = None
    after_handling: bool = False

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        if self.path_prefix is None:
            return path.startswith("/rest/")
        return path.startswith(self.path_prefix)


class FaultsMixin:
    """Fault injection of ``ProcoreSandbox``."""

    CONTROL_ROUTES: ClassVar[tuple[Route, ...]] = (
        ("GET", r"/_sandbox/faults", "_c_list_faults", False),
        ("POST", r"/_sandbox/faults", "_c_add_fault", False),
        ("DELETE", r"/_sandbox/faults", "_c_clear_faults", False),
    )

    state: SandboxState  # set by ProcoreSandbox.__init__

    def inject_fault(
        self,
        status: int,
        count: int = 1,
        path_prefix: str | None = None,
        retry_after: int | None = None,
        *,
        reset_in: int = 1,
        method: str | None = None,
        after_handling: bool = False,
    ) -> Fault:
        """Answer ``status`` for the next ``count`` matching calls (``/rest/`` by default).

        A 429 carries ``X-Rate-Limit-Remaining: 0`` and ``Reset = now + reset_in``; a 503
        carries ``Retry-After`` (``retry_after``, default 1). ``after_handling``: handle
        the call first, then answer the fault instead (a lost answer; see ``Fault``).
        """
        if not 400 <= int(status) <= 599:
            raise ValueError("fault status must be 4xx or 5xx")
        if int(count) < 1:
            raise ValueError("fault count must be at least 1")
        fault = Fault(
            int(status),
            int(count),
            path_prefix,
            None if retry_after is None else int(retry_after),
            int(reset_in),
            method.upper() if method else None,
            bool(after_handling),
        )
        with self.state.lock:
            self.state.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self.state.lock:
            self.state.faults.clear()

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.state.faults:
            if fault.matches(method, path):
                fault.count -= 1
                if fault.count <= 0:
                    self.state.faults.remove(fault)
                return fault
        return None

    def _fault_response(
        self, fault: Fault, rate_headers: dict[str, str]
    ) -> tuple[_Response, dict[str, str]]:
        headers = dict(rate_headers)
        if fault.status == 429:
            headers["X-Rate-Limit-Remaining"] = "0"
            headers["X-Rate-Limit-Reset"] = str(int(time.time()) + fault.reset_in)
            return _Response(429, {"errors": "Rate limit exceeded"}), headers
        extra: dict[str, str] = {}
        if fault.status == 503:
            extra["Retry-After"] = str(1 if fault.retry_after is None else fault.retry_after)
            return _Response(503, {"errors": "Service Unavailable"}, extra), headers
        if fault.retry_after is not None:
            extra["Retry-After"] = str(fault.retry_after)
        body = {"errors": f"injected fault (HTTP {fault.status})"}
        return _Response(fault.status, body, extra), headers

    # --- control endpoints ----------------------------------------------------------------
    def _c_list_faults(self, req: _Request, _: re.Match[str]) -> _Response:
        return _Response(200, [vars(f).copy() for f in self.state.faults])

    def _c_add_fault(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        if "status" not in body:
            raise SandboxError(422, {"status": ["can't be blank"]})
        try:
            fault = self.inject_fault(
                _as_int(body["status"], "status"),
                _as_int(body.get("count", 1), "count"),
                body.get("path_prefix"),
                None
                if body.get("retry_after") is None
                else _as_int(body["retry_after"], "retry_after"),
                reset_in=_as_int(body.get("reset_in", 1), "reset_in"),
                method=body.get("method"),
                after_handling=body.get("after_handling") is True,
            )
        except ValueError as exc:
            if isinstance(exc, SandboxError):
                raise
            raise SandboxError(422, {"status": [str(exc)]}) from None
        return _Response(201, vars(fault).copy())

    def _c_clear_faults(self, req: _Request, _: re.Match[str]) -> _Response:
        self.clear_faults()
        return _Response(204)
