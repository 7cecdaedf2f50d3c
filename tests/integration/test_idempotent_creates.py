"""Procore creates are idempotent: a retry after a lost answer makes one record.

Through the API (chalice.test.Client, moto) against the Procore sandbox over loopback
HTTP. The sandbox loses an answer with ``inject_fault(..., after_handling=True)``: the
POST creates its record and a 502/500 is answered instead, as a gateway does after the
origin acted. The connector never resends such a POST; the user tries again, and that
attempt must adopt the record the first one made (found by its ``origin_id``) instead of
making a second one or answering 409.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from chalicelib.adapters.intents import CreateIntents
from chalicelib.domain.models import Link
from chalicelib.domain.tax_ids import protect_row
from chalicelib.errors import ServiceUnavailable
from chalicelib.relay_protocol import Result
from chalicelib.settings import tax_id_key
from chalicelib.wiring import get_store
from devstack.procore_sandbox import ProcoreSandbox, seed_demo
from devstack.pump import sqs_event
from tests.fixtures_sandbox import fetch_token, http_call, sandbox_fixture  # noqa: F401
from tests.helpers import COMPANY_ID, body, seed_personas

SAGE_JOBS = [
    {"job": 24001, "name": "Riverside Medical Office Bldg", "short_name": "Riverside MOB",
     "status": 4, "address": None, "city": "Sacramento", "state": "CA", "zip_code": None},
    {"job": 24005, "name": "New Clinic", "short_name": "New Clinic", "status": 4,
     "address": "1 Main St", "city": "Davis", "state": "CA", "zip_code": "95616"},
]
SAGE_VENDORS = [
    {"vendor": 3020, "name": "Bayside Electric", "short_name": "Bayside Electric",
     "inactive": False, "tax_id": "12-3456789"},
]
SAGE_PHASES = [{"job": 24001, "phase": 2, "name": "Structure"}]
ADOPTED = "adopted the record an earlier attempt created (its answer was lost)"


@dataclass(frozen=True)
class Case:
    """One kind of create: where the API is called, what Procore POST it makes, and the
    ``origin_id`` (= the Sage key the link is under) the created record carries."""

    kind: str
    post_path: str
    origin_id: str
    answer_key: str
    records: Callable[[ProcoreSandbox], dict[int, dict[str, Any]]]

    def api_path(self, env: Env) -> str:
        return {"project": "/erp/jobs/24005/add-to-procore",
                "vendor": "/erp/vendors/3020/import",
                "sub_job": f"/projects/{env.main}/sub-jobs"}[self.kind]

    def payload(self) -> dict[str, Any] | None:
        return {"phase": 2} if self.kind == "sub_job" else None


PROJECT = Case("project", "/rest/v1.0/projects", "24005", "project",
               lambda box: box.state.projects)
VENDOR = Case("vendor", "/rest/v1.0/vendors", "3020", "company",
              lambda box: box.state.vendors)
SUB_JOB = Case("sub_job", "/rest/v1.0/sub_jobs", "24001-2", "sub_job",
               lambda box: box.state.sub_jobs)
CASES = [pytest.param(PROJECT, id="project"), pytest.param(VENDOR, id="vendor"),
         pytest.param(SUB_JOB, id="sub_job")]


class Env:
    def __init__(self, sandbox: ProcoreSandbox, client: Any, mint: Any,
                 demo: dict[str, Any], aws: Any = None) -> None:
        self.sandbox, self.client, self.mint, self.aws = sandbox, client, mint, aws
        self.main = demo["project_ids"]["main"]

    def answer_tax_id_reads(self, *, again: bool = False) -> list[Any]:
        """Answer the vendor list reads an import asked the agent for (Sage's rows, the
        clear tax id included, as the agent sends them); ``again``: deliver each twice.
        Each delivery's batch answer, or "failed" when the whole batch failed (SQS then
        delivers it again)."""
        url = self.aws.resources.refs["RelayCommandsQueue"]
        messages = self.aws.receive_all(url)
        for message in messages:
            self.aws.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        answers = []
        for command in (json.loads(m["Body"]) for m in messages):
            if not command["item_id"].startswith("import:vendor_tax_id:"):
                continue
            result = Result(command_id=command["command_id"], company_id=COMPANY_ID,
                            item_id=command["item_id"], export_version=0, ok=True,
                            data=SAGE_VENDORS, page=1, more=False, agent_id="agent",
                            finished_at="2026-11-26T00:00:00Z")
            event = sqs_event([{"MessageId": "m1", "ReceiptHandle": "r",
                                "Body": result.model_dump_json()}], "arn")
            for _ in range(2 if again else 1):
                try:
                    answers.append(self.client.lambda_.invoke("results", event).payload)
                except BatchProcessingError:
                    answers.append("failed")
        return answers

    def call(self, case: Case) -> tuple[int, Any]:
        payload = case.payload()
        response = self.client.http.post(
            case.api_path(self), body=json.dumps(payload) if payload is not None else None,
            headers={"Authorization": self.mint("admin"), "Content-Type": "application/json"})
        return response.status_code, body(response)

    def made(self, case: Case) -> list[dict[str, Any]]:
        """The sandbox's records carrying the case's origin id."""
        with self.sandbox.state.lock:
            return [dict(r) for r in case.records(self.sandbox).values()
                    if r.get("origin_id") == case.origin_id]

    def posts(self, path: str) -> int:
        return sum(1 for r in self.sandbox.requests
                   if r["method"] == "POST" and r["path"] == path)


@pytest.fixture
def env(aws: Any, sandbox: ProcoreSandbox, chalice_client: Any, mint: Any,
        monkeypatch: pytest.MonkeyPatch) -> Env:
    from chalicelib import wiring

    demo = seed_demo(sandbox)
    monkeypatch.setenv("PROCORE_BASE_URL", sandbox.url)
    monkeypatch.setenv("PROCORE_AUTH_URL", sandbox.url)
    wiring.reset()
    seed_personas()
    store = get_store()
    vendors = [protect_row(row, tax_id_key()) for row in SAGE_VENDORS]  # as the cache keeps
    for list_name, rows in (("jobs", SAGE_JOBS), ("vendors", vendors),
                            ("phases", SAGE_PHASES)):
        store.put_erp_rows(COMPANY_ID, list_name, rows, "seed")
    store.put_link(Link(company_id=COMPANY_ID, kind="project",
                        procore_id=demo["project_ids"]["main"], sage_key="24001"))
    return Env(sandbox, chalice_client, mint, demo, aws)


def _assert_linked_once(case: Case, procore_id: int, how: str) -> None:
    store = get_store()
    link = store.get_link_by_sage(COMPANY_ID, case.kind, case.origin_id)
    assert link is not None and link.procore_id == procore_id
    assert [x.procore_id for x in store.list_links(COMPANY_ID, case.kind)
            if x.sage_key == case.origin_id] == [procore_id]
    history = store.link_history(COMPANY_ID, case.kind, procore_id)
    assert [(h["action"], h["how"]) for h in history] == [("link", how)]
    assert CreateIntents(store.table_name, store.client).get(
        COMPANY_ID, case.kind, case.origin_id) is None  # linked: nothing left pending


# ---- the sandbox loses an answer ------------------------------------------------------
def test_an_after_handling_fault_acts_and_then_answers_the_fault(
        sandbox: ProcoreSandbox) -> None:
    token = fetch_token(sandbox.url)
    added = http_call(sandbox.url, "POST", "/_sandbox/faults", company=None, json_body={
        "status": 502, "path_prefix": "/rest/v1.0/vendors", "method": "POST",
        "after_handling": True})
    assert added.status == 201 and added.body["after_handling"] is True
    lost = http_call(sandbox.url, "POST", "/rest/v1.0/vendors", token=token, json_body={
        "company_id": COMPANY_ID, "vendor": {"name": "Lost Answer Co", "origin_id": "77"}})
    assert lost.status == 502 and "injected fault" in lost.body["errors"]
    assert [v["name"] for v in sandbox.state.vendors.values()] == ["Lost Answer Co"]
    again = http_call(sandbox.url, "GET", f"/rest/v1.0/vendors?company_id={COMPANY_ID}"
                      "&filters[origin_id]=77", token=token)
    assert again.status == 200 and [v["name"] for v in again.body] == ["Lost Answer Co"]
    assert sandbox.state.faults == []  # used up
    # a fault without after_handling still refuses without acting
    sandbox.inject_fault(500, path_prefix="/rest/v1.0/vendors", method="POST")
    refused = http_call(sandbox.url, "POST", "/rest/v1.0/vendors", token=token, json_body={
        "company_id": COMPANY_ID, "vendor": {"name": "Never Made"}})
    assert refused.status == 500 and len(sandbox.state.vendors) == 1


# ---- a lost answer, then a retry --------------------------------------------------------
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("status", [502, 500])
def test_a_retry_after_a_lost_answer_adopts_the_record_the_first_attempt_made(
        env: Env, case: Case, status: int) -> None:
    env.sandbox.inject_fault(status, path_prefix=case.post_path, method="POST",
                             after_handling=True)
    first_status, first = env.call(case)
    assert first_status == 502 and first["error"] == "upstream_unavailable", first
    [made] = env.made(case)  # Procore acted although its answer was lost
    assert get_store().get_link_by_sage(COMPANY_ID, case.kind, case.origin_id) is None

    second_status, second = env.call(case)
    assert second_status == 201, second
    assert second[case.answer_key]["id"] == made["id"] and second["adopted"] is True
    assert [r["id"] for r in env.made(case)] == [made["id"]]  # one record, not two
    assert env.posts(case.post_path) == 1  # the retry did not POST again
    _assert_linked_once(case, made["id"], ADOPTED)
    [linked] = get_store().link_history(COMPANY_ID, case.kind, made["id"])
    assert linked["attempt"]["actor"] == "admin"  # whose attempt made it

    third_status, third = env.call(case)  # now linked: the usual refusal
    assert third_status == 409 and "already" in third["message"]


def test_an_adopted_vendor_gets_the_tax_id_its_lost_attempt_never_set(env: Env) -> None:
    """The tax id comes from Sage's row read again (the cache keeps no clear value)."""
    env.sandbox.inject_fault(502, path_prefix="/rest/v1.0/vendors", method="POST",
                             after_handling=True)
    assert env.call(VENDOR)[0] == 502
    assert env.answer_tax_id_reads() == []  # the lost attempt asked for nothing
    [made] = env.made(VENDOR)
    assert made["business_register"] is None
    status, answer = env.call(VENDOR)
    assert status == 201 and answer["tax_id_requested"] is True, answer
    assert env.sandbox.state.vendors[made["id"]]["business_register"] is None  # not yet
    env.answer_tax_id_reads()
    register = env.sandbox.state.vendors[made["id"]]["business_register"]
    assert (register["type"], register["identifier"]) == ("ein", "12-3456789")


def test_a_lost_tax_id_answer_is_not_sent_again(env: Env) -> None:
    status, answer = env.call(VENDOR)
    assert status == 201 and answer["tax_id_requested"] is True, answer
    [made] = env.made(VENDOR)
    env.sandbox.inject_fault(502, path_prefix="/rest/v1.0/vendors/", method="POST",
                             after_handling=True)
    # the tax id is set, its answer lost: the page fails, and its redelivery finds it set
    first, second = env.answer_tax_id_reads(again=True)
    assert (first, second) == ("failed", {"batchItemFailures": []})
    register = env.sandbox.state.vendors[made["id"]]["business_register"]
    assert (register["type"], register["identifier"]) == ("ein", "12-3456789")
    assert [r["id"] for r in env.made(VENDOR)] == [made["id"]]
    assert env.posts(f"/rest/v1.0/vendors/{made['id']}/business_register") == 1


# ---- a crash between the create and the link --------------------------------------------
@pytest.mark.parametrize("case", CASES)
def test_a_crash_between_the_create_and_the_link_is_recovered_by_the_retry(
        env: Env, case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    store = get_store()
    put_link = store.put_link
    failures = [ServiceUnavailable("the connector table is unavailable; try again shortly")]

    def flaky_put_link(link: Link) -> None:
        if failures:
            raise failures.pop()
        put_link(link)

    monkeypatch.setattr(store, "put_link", flaky_put_link)
    first_status, first = env.call(case)
    assert first_status == 503, first
    [made] = env.made(case)
    pending = CreateIntents(store.table_name, store.client).get(
        COMPANY_ID, case.kind, case.origin_id)
    assert pending is not None and pending["actor"] == "admin"

    second_status, second = env.call(case)
    assert second_status == 201, second
    assert second[case.answer_key]["id"] == made["id"]
    assert [r["id"] for r in env.made(case)] == [made["id"]]
    assert env.posts(case.post_path) == 1
    _assert_linked_once(case, made["id"], ADOPTED)


# ---- what is not ours stays a 409 -----------------------------------------------------
@pytest.mark.parametrize(("case", "twin", "detail"), [
    pytest.param(PROJECT, lambda box: box.add_project("New Clinic"), "procore_project",
                 id="project"),
    pytest.param(VENDOR, lambda box: box.add_vendor("Bayside Electric"), "procore_company",
                 id="vendor"),
])
def test_a_different_record_with_the_same_name_is_still_refused(
        env: Env, case: Case, twin: Callable[[ProcoreSandbox], dict[str, Any]],
        detail: str) -> None:
    other = twin(env.sandbox)  # made in Procore by a person: no origin id
    status, answer = env.call(case)
    assert status == 409, answer
    assert answer["details"][detail] == other["id"]
    assert env.made(case) == [] and env.posts(case.post_path) == 0
    assert get_store().get_link_by_sage(COMPANY_ID, case.kind, case.origin_id) is None


def test_a_record_carrying_the_sage_key_without_a_pending_attempt_is_adopted_as_such(
        env: Env) -> None:
    """E.g. a project linked before and unlinked since: it still carries the job as its
    origin id, so creating another would be refused by Procore ("has already been
    taken"). It is linked again, and its history says how."""
    earlier = env.sandbox.add_project("New Clinic (renamed)", origin_id="24005")
    status, answer = env.call(PROJECT)
    assert status == 201, answer
    assert answer["project"]["id"] == earlier["id"] and answer["adopted"] is True
    assert env.posts(PROJECT.post_path) == 0
    _assert_linked_once(PROJECT, earlier["id"],
                        "adopted the Procore record already carrying this Sage key as its "
                        "origin id")


@pytest.mark.parametrize("case", CASES)
def test_a_plain_create_is_unchanged(env: Env, case: Case) -> None:
    status, answer = env.call(case)
    assert status == 201, answer
    [made] = env.made(case)
    assert answer[case.answer_key]["id"] == made["id"] and answer["adopted"] is False
    how = {"project": "added from Sage"}.get(case.kind, "imported from Sage")
    _assert_linked_once(case, made["id"], how)
