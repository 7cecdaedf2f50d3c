"""What the OpenAPI tests share: the app behind a WSGI adapter for schemathesis, a recorder
of the (method, path template, status) answers produced, the callers (no token, a token
per persona, the webhook's token), a seeded world, and the fuzz itself.

The fuzz: for each operation of /openapi.json, schemathesis generates requests (bounded,
derandomized) and each is sent as every caller. Every answer must be below 500 and conform
to the document (status, content type, schema), and a refused request (401/403, and
400/404/409) must leave the table and the queues exactly as they were.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.state_machine import Status
from tests.conftest import WEBHOOK_TOKEN
from tests.helpers import COMPANY_ID, PERSONAS, connect_to_sandbox, seed_item
from tests.integration.test_matrix_walk import EXTRA_PERSONAS
from tests.integration.test_quarantine import delivery
from tests.integration.test_setup_api import (
    SAGE_CODES,
    SAGE_JOBS,
    SAGE_PHASES,
    SAGE_TYPES,
    SAGE_VENDORS,
)

NO_TOKEN = "(no token)"
WEBHOOK = "(webhook token)"  # the webhook route's own token: its fuzz gets past 401
CALLERS = (NO_TOKEN, *PERSONAS)
REGION = "us-east-1"
UNCHANGED_WHEN = frozenset({400, 401, 403, 404, 409})  # refusals write nothing
# ...but these, by design: a replay that still cannot parse the body records the attempt.
WRITES_WHEN_REFUSED = {("POST /ops/quarantine/{entry_id}/replay", 409)}
# Items the fuzz and the targeted calls find (the catalog's examples name commitment-501).
SEEDED_ITEMS = {Status.READY_TO_EXPORT: 501, Status.SYNCED: 502, Status.FAILED: 503,
                Status.REJECTED: 504, Status.ACCEPTED: 505}


@dataclass
class Recorder:
    """(METHOD, path template, status) of every answer seen."""

    seen: set[tuple[str, str, int]] = field(default_factory=set)

    def add(self, method: str, template: str, status: int) -> None:
        self.seen.add((method.upper(), template, status))


class ChaliceWsgi:
    """A WSGI application answering through chalice's local gateway (chalice.test.Client),
    recording what it answers."""

    def __init__(self, client: Any, recorder: Recorder) -> None:
        from chalice.local import RouteMatcher

        from app import app

        self.http = client.http
        self.recorder = recorder
        self.matcher = RouteMatcher(list(app.routes))

    def request(self, method: str, url: str, headers: dict[str, str],
                body: bytes = b"") -> Any:
        response = self.http.request(method, url, headers=headers, body=body)
        try:
            template = self.matcher.match_route(url).route
        except ValueError:
            template = urllib.parse.urlparse(url).path
        self.recorder.add(method, template, response.status_code)
        return response

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        url = environ.get("RAW_URI") or urllib.parse.quote(environ["PATH_INFO"])
        if environ.get("QUERY_STRING") and "?" not in url:
            url += "?" + environ["QUERY_STRING"]
        headers = {key[5:].replace("_", "-").lower(): value
                   for key, value in environ.items() if key.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        response = self.request(environ["REQUEST_METHOD"], url, headers, body)
        start_response(f"{response.status_code} X", list(response.headers.items()))
        payload = response.body
        return [payload if isinstance(payload, bytes) else str(payload).encode()]


def state(aws: Any) -> tuple[Any, ...]:
    """The table's records and every queue's depth: equal before and after = nothing moved.

    Read from moto's in-process backends, not through boto3: a scan and a call per queue
    cost ~100 ms, and the fuzz takes this before and after thousands of requests."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends
    from moto.sqs.models import sqs_backends

    table = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].get_table(aws.table_name)
    records = sorted(json.dumps(item.to_json(), sort_keys=True, default=repr)
                     for item in table.all_items())
    queues = tuple(sorted(
        (name, queue.approximate_number_of_messages,
         queue.approximate_number_of_messages_not_visible,
         queue.approximate_number_of_messages_delayed)
        for name, queue in sqs_backends[DEFAULT_ACCOUNT_ID][REGION].queues.items()))
    return tuple(records), queues


def seed_world(monkeypatch: Any, sandbox: Any, demo: dict[str, Any], client: Any) -> str:
    """Personas, the demo's links, items in several states, one quarantined delivery;
    answers the quarantined delivery's id."""
    connect_to_sandbox(monkeypatch, sandbox, demo)
    for status, procore_id in SEEDED_ITEMS.items():
        seed_item(status, procore_id=procore_id, project_id=11)
    answer = client.http.post("/webhooks/procore", body=b"not json",
                              headers={"Authorization": WEBHOOK_TOKEN,
                                       "Content-Type": "application/json"})
    return json.loads(answer.body)["id"]


def headers_for(caller: str, mint: Callable[[str], str]) -> dict[str, str]:
    if caller == NO_TOKEN:
        return {}
    if caller == WEBHOOK:
        return {"Authorization": WEBHOOK_TOKEN}
    return {"Authorization": mint(caller)}


def fuzz(operations: Iterable[Any], app: ChaliceWsgi, aws: Any, mint: Callable[[str], str],
         *, max_examples: int, callers: tuple[str, ...] = CALLERS,
         examples: dict[str, dict[str, Any]] | None = None) -> list[str]:
    """Run schemathesis over ``operations``; answer one line per failure."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    # Not schemathesis' not_a_server_error: /health/ready documents its 503 (degraded);
    # any other 5xx is undocumented, so status_code_conformance and the line below catch it.
    checks = [status_code_conformance, content_type_conformance, response_schema_conformance]
    failures: list[str] = []

    tokens = {caller: headers_for(caller, mint) for caller in (*callers, WEBHOOK)}

    def send_as_everyone(case: Any, label: str, who: tuple[str, ...]) -> None:
        now = state(aws)
        for caller in who:
            before = now
            response = case.call(app=app, headers=tokens[caller])
            now = state(aws)
            where = f"{label} as {caller}: {response.status_code}"
            documented = case.operation.definition.raw["responses"]
            if response.status_code >= 500 and str(response.status_code) not in documented:
                failures.append(f"{where}: server error {response.text[:300]}")
            try:
                case.validate_response(response, checks=checks)
            except (Exception, BaseExceptionGroup) as exc:  # every failure is listed
                failures.append(f"{where}: {str(exc)[:600]}")
            refused = (response.status_code in UNCHANGED_WHEN
                       and (label, response.status_code) not in WRITES_WHEN_REFUSED)
            if refused and now != before:
                failures.append(f"{where}: a refused request changed the table or a queue "
                                f"({case.path_parameters} {case.body!r:.200})")

    for operation in operations:
        label = f"{operation.method.upper()} {operation.path}"
        strategy = operation.as_strategy()
        known = (examples or {}).get(label)
        if known:  # sometimes the seeded records, so item routes get past 404
            strategy = st.one_of(strategy, operation.as_strategy(path_parameters=known))
        who = callers + ((WEBHOOK,) if operation.path == "/webhooks/procore" else ())
        settings(max_examples=max_examples, derandomize=True, database=None, deadline=None,
                 phases=[Phase.explicit, Phase.generate],
                 suppress_health_check=list(HealthCheck))(
            given(case=strategy)(_bound(send_as_everyone, label, who)))()
    return failures


def _bound(send: Callable[[Any, str, tuple[str, ...]], None], label: str,
           who: tuple[str, ...]) -> Callable[[Any], None]:
    def run(case: Any) -> None:
        send(case, label, who)

    return run


def operations_of(document: dict[str, Any], tags: Iterable[str] | None = None) -> Iterator[Any]:
    import schemathesis

    wanted = set(tags) if tags is not None else None
    schema = schemathesis.openapi.from_dict(document)
    for result in schema.get_all_operations():
        operation = result.ok()
        if wanted is None or set(operation.definition.raw.get("tags", [])) & wanted:
            yield operation


# The world of tests/contract/test_openapi.py: SEEDED_ITEMS and two more ready items, the
# Sage lists, the matrix walk's personas, an accepted project item, a job without a twin.
FAULT_JOB = {"job": 24009, "name": "Pump Station", "short_name": "Pump", "status": 4,
             "address": None, "city": None, "state": None, "zip_code": None}


class World:
    """The seeded world and a caller whose answers the recorder sees."""

    def __init__(self, aws: Any, sandbox: Any, demo: dict[str, Any], client: Any, mint: Any,
                 monkeypatch: Any, recorder: Recorder) -> None:
        from chalicelib.domain.models import Link
        from chalicelib.domain.permissions import Level, User
        from chalicelib.domain.state_machine import Action
        from chalicelib.wiring import get_item_service, get_store

        self.aws, self.sandbox, self.demo, self.mint = aws, sandbox, demo, mint
        self.private_key = ""
        self.quarantined = seed_world(monkeypatch, sandbox, demo, client)
        store = get_store()
        for procore_id in (506, 507):
            seed_item(Status.READY_TO_EXPORT, procore_id=procore_id, project_id=11)
        for list_name, rows in (("jobs", [*SAGE_JOBS, FAULT_JOB]), ("vendors", SAGE_VENDORS),
                                ("cost_codes", SAGE_CODES), ("cost_types", SAGE_TYPES),
                                ("phases", SAGE_PHASES)):
            store.put_erp_rows(COMPANY_ID, list_name, rows, run_id="seed")
        personas = {**EXTRA_PERSONAS, "report_admin": {
            "erp_level": Level.ADMIN,
            "tool_levels": {"reports": Level.READ_ONLY, "budget": Level.ADMIN}}}
        for name, levels in personas.items():
            store.put_user(User(subject=name, company_id=COMPANY_ID, name=name, **levels))
        # A linked project whose item is accepted: unlinking it waits (409).
        service = get_item_service()
        project = service.observe(company_id=COMPANY_ID, kind="project", procore_id=777,
                                  project_id=777, subtype=None, actor="seed", reasons=[],
                                  snapshot={"id": 777, "name": "Accepted project",
                                            "proposed_job_number": "24777"})
        assert project is not None
        service.apply(project, Action.ACCEPT, actor="seed", reason=None)
        store.put_link(Link(company_id=COMPANY_ID, kind="project", procore_id=777,
                            sage_key="24777"))
        self.wsgi = ChaliceWsgi(client, recorder)
        self.tokens: dict[str, str] = {}
        self.names = {"{main}": str(demo["project_ids"]["main"]),
                      "{second}": str(demo["project_ids"]["second"]),
                      "{concrete}": str(demo["vendor_ids"]["concrete"]),
                      "{steel}": str(demo["vendor_ids"]["steel"]), "{q}": self.quarantined,
                      "{spare}": str(sandbox.add_project("Spare", project_number="77001")["id"])}

    def fill(self, text: str) -> str:
        for name, value in self.names.items():
            text = text.replace(name, value)
        return text

    def call(self, method: str, url: str, who: str = NO_TOKEN, body: Any = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any]:
        sent = {"Content-Type": "application/json", **(headers or {})}
        if who != NO_TOKEN:
            if who not in self.tokens:
                self.tokens[who] = self.mint(who)
            sent["Authorization"] = self.tokens[who]
        if body is None or isinstance(body, bytes):
            raw = body or b""
        else:  # the placeholders are ids: numbers once filled in
            filled = json.loads(self.fill(json.dumps(body)))
            raw = json.dumps({k: int(v) if isinstance(v, str) and v.isdigit() else v
                              for k, v in filled.items()}).encode()
        response = self.wsgi.request(method, self.fill(url), sent, raw)
        try:
            return response.status_code, json.loads(response.body)
        except ValueError:
            return response.status_code, None


    def ready_agent(self) -> None:
        from chalicelib.domain.models import utc_now
        from chalicelib.wiring import get_store

        get_store().put_heartbeat(COMPANY_ID, "agent-1", {"at": utc_now(),
                                                          "agent_id": "agent-1"})

    def replayable_delivery(self, monkeypatch: Any) -> str:
        """A delivery quarantined by a parser bug since fixed: its replay answers 200."""
        from chalicelib.domain import webhooks
        from chalicelib.errors import BadRequest
        from chalicelib.services import receiver

        def broken(raw: bytes | str) -> Any:
            raise BadRequest("field 'metadata' has an unsupported value", field="metadata")

        with monkeypatch.context() as patch:
            patch.setattr(receiver, "parse_webhook", broken)
            status, answer = self.call("POST", "/webhooks/procore", body=json.dumps(
                delivery()).encode(), headers={"Authorization": WEBHOOK_TOKEN})
        assert status == 202 and answer["status"] == "quarantined", answer
        assert receiver.parse_webhook is webhooks.parse_webhook
        return str(answer["id"])

    def local_sign_in(self, monkeypatch: Any) -> None:
        """The local stack's sign-in: a private key held where plain secrets are allowed."""
        from chalicelib import wiring

        monkeypatch.setenv("JWT_PRIVATE_KEY_PEM", self.private_key)
        wiring.reset()
