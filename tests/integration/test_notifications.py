"""Approver e-mails through SES (moto): immediate once per item, daily digests once per
day, only to accounting approvers who chose them, failures retried a bounded number of
times and counted."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.domain.permissions import Level, User
from chalicelib.domain.state_machine import Action, Status
from tests.fixtures_sandbox import (  # noqa: F401
    demo_fixture,
    sandbox_fixture,
    webhook_receiver_fixture,
)
from tests.helpers import COMPANY_ID, SNAPSHOT, seed_item
from tests.integration.aws_faults import refuse
from tests.integration.test_intake_pipeline import Pipeline, pipe  # noqa: F401

SENDER = "connector@builder.example"
INBOX = "https://inbox.builder.example/"
TAX_ID = "123-45-6789"
APPROVER = {"erp_level": Level.STANDARD, "can_push_to_accounting": True}


@pytest.fixture
def mail(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """SES with the sender verified, the connector configured to send, and the users."""
    import boto3
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    from chalicelib import wiring
    from chalicelib.observability import get_metrics

    monkeypatch.setenv("NOTIFY_FROM_EMAIL", SENDER)
    monkeypatch.setenv("INBOX_URL", INBOX)
    monkeypatch.setenv("NOTIFY_DIGEST_HOUR_UTC", "0")
    wiring.reset()
    get_metrics().clear_metrics()
    users = {"imm": ("immediate", APPROVER), "imm2": ("immediate", APPROVER),
             "daily": ("daily", APPROVER), "off": ("off", APPROVER),
             "std": ("immediate", {"erp_level": Level.STANDARD})}  # not an approver
    for subject, (notify, levels) in users.items():
        wiring.get_store().put_user(User(subject=subject, company_id=COMPANY_ID, name=subject,
                                         email=f"{subject}@builder.example", notify=notify,
                                         **levels))
    ses = boto3.client("sesv2", region_name="us-east-1")

    class Mail:
        backend = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]

        def verify(self) -> None:
            ses.create_email_identity(EmailIdentity=SENDER)

        def sent(self) -> list[Any]:
            return list(self.backend.sent_messages)

        def to(self, subject: str) -> list[Any]:
            return [m for m in self.sent()
                    if f"{subject}@builder.example" in m.destinations["ToAddresses"]]

    box = Mail()
    box.verify()
    return box


def _run(chalice_client: Any) -> dict[str, int]:
    event = chalice_client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={},
        resources=["arn:aws:events:us-east-1:123456789012:rule/notify-approvers"])
    return chalice_client.lambda_.invoke("notify-approvers", event).payload  # type: ignore


def _counted(name: str, flushed: str = "") -> float:
    """Counted so far: still in the metric set, plus what invocations flushed (EMF lines
    in ``flushed``, the captured stdout)."""
    from chalicelib.observability import get_metrics

    metric = get_metrics().metric_set.get(name)
    total = sum(metric["Value"]) if metric else 0
    for line in flushed.splitlines():
        if '"_aws"' in line and f'"{name}"' in line:
            value = json.loads(line)[name]
            total += sum(value) if isinstance(value, list) else value
    return total


def _ready(procore_id: int = 501, snapshot: dict[str, Any] | None = None) -> Any:
    from chalicelib.wiring import get_item_service

    item = get_item_service().observe(
        company_id=COMPANY_ID, kind="commitment", procore_id=procore_id, project_id=11,
        subtype="subcontract", snapshot=snapshot or {**SNAPSHOT, "id": procore_id},
        reasons=[], actor="system:intake")
    assert item is not None and item.status is Status.READY_TO_EXPORT
    return item


def test_immediate_once_across_a_redelivered_intake(pipe: Pipeline, mail: Any) -> None:  # noqa: F811
    import json as _json

    from chalicelib.domain.webhooks import parse_webhook, to_message
    from devstack.pump import sqs_event

    pipe.link_project_and_vendor()
    record = pipe.commitment(lines=1)
    deliveries = pipe.deliveries()
    for delivery in deliveries:
        assert pipe.post(delivery).status_code == 202
    pipe.run_intake()
    assert pipe.item(record["id"]).status is Status.READY_TO_EXPORT
    # The same message handed to intake again (past SQS's deduplication window).
    message = {"MessageId": "m", "ReceiptHandle": "r", "Body": _json.dumps(
        to_message(parse_webhook(_json.dumps(deliveries[0]["payload"]))))}
    for n in range(3):
        answer = pipe.invoke_intake(sqs_event([{**message, "MessageId": f"m{n}"}], "arn"))
        assert answer == {"batchItemFailures": []}
    _run(pipe.client)  # and the hourly run finds nothing missing
    assert [len(mail.to(s)) for s in ("imm", "imm2")] == [1, 1]
    first = mail.to("imm")[0]
    assert f"commitment-{record['id']}" in first.body and "SC-001 Concrete" in first.subject
    assert "3000.00" not in first.body and "1000.00" in first.body  # one line of 1000
    assert INBOX in first.body
    assert mail.to("off") == [] and mail.to("std") == []
    # The "daily" approver got no item mail, only the run's digest (its hour is 0 here).
    assert [m.subject.split(" (")[0] for m in mail.to("daily")] == [
        "1 item waiting for accounting acceptance"]


def test_only_approvers_who_chose_immediate_are_told(mail: Any) -> None:
    item = _ready(snapshot={**SNAPSHOT, "id": 501, "grand_total": "1234.50",
                            "vendor": {"id": 7, "name": "Granite", "tax_id": TAX_ID}})
    assert sorted(m.destinations["ToAddresses"][0] for m in mail.sent()) == [
        "imm2@builder.example", "imm@builder.example"]
    text = mail.to("imm")[0].body
    assert "1234.50" in text and item.item_id in text and "project 11" in text
    assert TAX_ID not in text and "Granite" not in text  # never the snapshot
    assert _counted("NotificationsSent") == 2


def test_direct_exports_accept_at_once_so_nobody_is_told(mail: Any) -> None:
    from chalicelib.wiring import get_store

    store = get_store()
    settings = store.get_company_settings(COMPANY_ID)
    store.put_company_settings(COMPANY_ID, {**settings, "direct_exports": True},
                               expected_version=int(settings.get("version", 0)))
    _ready(501)
    assert mail.sent() == []


def test_not_told_about_an_item_they_sent_themselves(mail: Any) -> None:
    from chalicelib.wiring import get_item_service

    item = seed_item(Status.RETRIEVED)
    count_before = len(mail.sent())
    get_item_service().apply(item, Action.RESEND, actor="imm", reason=None)
    fresh = mail.sent()[count_before:]
    assert [m.destinations["ToAddresses"] for m in fresh] == [["imm2@builder.example"]]


def test_daily_digest_once_per_day_names_the_items(chalice_client: Any, mail: Any) -> None:
    first = _ready(501)
    second = _ready(502, {**SNAPSHOT, "id": 502, "number": "SC-2", "grand_total": "99.999"})
    assert mail.to("daily") == []  # "daily" users are not told at once
    assert _run(chalice_client)["digests"] == 1
    assert _run(chalice_client)["digests"] == 0  # run twice: one mail
    digests = mail.to("daily")
    assert len(digests) == 1
    text = digests[0].body
    assert "2 items waiting" in digests[0].subject
    assert first.item_id in text and second.item_id in text and "100.00" in text
    assert INBOX in text and "Waiting for:" in text


def test_digest_waits_for_its_hour_and_skips_an_empty_day(mail: Any) -> None:
    from chalicelib.adapters.mailer import Mailer
    from chalicelib.adapters.store_notices import NoticeRecords
    from chalicelib.aws import client
    from chalicelib.services.notifications import ApproverNotifications
    from chalicelib.settings import get_settings
    from chalicelib.wiring import get_store

    now = {"at": "2026-12-01T06:00:00.000Z"}
    service = ApproverNotifications(
        get_store(), NoticeRecords(get_settings().table_name, client("dynamodb")),
        Mailer(SENDER, client("sesv2")), inbox_url=INBOX, digest_hour_utc=7,
        clock=lambda: now["at"])
    assert service.run(COMPANY_ID)["digests"] == 0  # nothing waits
    _ready(501)
    assert service.run(COMPANY_ID)["digests"] == 0  # before 07:00
    now["at"] = "2026-12-01T07:05:00.000Z"
    assert service.run(COMPANY_ID)["digests"] == 1
    now["at"] = "2026-12-01T19:00:00.000Z"
    assert service.run(COMPANY_ID)["digests"] == 0
    now["at"] = "2026-12-02T07:00:00.000Z"
    assert service.run(COMPANY_ID)["digests"] == 1  # the next day's
    assert len(mail.to("daily")) == 2


def test_a_failed_send_is_retried_by_the_next_run(
        chalice_client: Any, mail: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.wiring import get_store

    mail.backend.delete_identity(SENDER)  # SES refuses: sender not verified
    item = _ready(501)  # the transition stands although no e-mail went
    assert get_store().get_item(COMPANY_ID, "commitment", 501).status is (
        Status.READY_TO_EXPORT)
    assert mail.sent() == [] and _counted("NotificationsFailed") == 2
    assert _run(chalice_client)["retried"] == 0  # still refused: attempt 2 of 3
    mail.verify()
    # Attempt 3 goes through: the two item e-mails and the "daily" user's digest (its
    # first attempt was the run before).
    assert _run(chalice_client)["retried"] == 3
    assert _run(chalice_client)["retried"] == 0  # and only once
    assert [len(mail.to(s)) for s in ("imm", "imm2", "daily")] == [1, 1, 1]
    assert item.item_id in mail.to("imm")[0].body


def test_a_send_that_keeps_failing_is_given_up_and_counted(
        chalice_client: Any, mail: Any, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from chalicelib.adapters.store_notices import NoticeRecords
    from chalicelib.aws import client
    from chalicelib.settings import get_settings

    refused = refuse(monkeypatch, [("sesv2", "SendEmail")])
    item = _ready(501)
    for _ in range(5):
        _run(chalice_client)
    # Two item e-mails and one digest, three attempts each, then no more.
    assert len(refused) == 3 * 3
    out = capsys.readouterr().out
    assert _counted("NotificationsFailed", out) == 9
    assert _counted("NotificationsAbandoned", out) == 3
    notices = NoticeRecords(get_settings().table_name, client("dynamodb"))
    assert notices.list_open(COMPANY_ID) == []
    record = notices.get(COMPANY_ID, f"IMMEDIATE#{item.item_id}#{item.sent_at}#imm")
    assert record is not None and record["status"] == "given_up"
    assert record["attempts"] == 3 and record["last_error"] == "access denied"
    assert mail.sent() == []


def test_an_item_accepted_before_the_retry_is_not_mailed(
        chalice_client: Any, mail: Any, mint: Any) -> None:
    from chalicelib.wiring import get_item_service

    mail.backend.delete_identity(SENDER)
    item = _ready(501)
    get_item_service().apply(item, Action.ACCEPT, actor="imm", reason=None)
    mail.verify()
    assert _run(chalice_client)["retried"] == 0
    assert mail.sent() == []


def test_missed_e_mails_are_caught_up_by_the_hourly_run(
        chalice_client: Any, mail: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # The intake's attempt cannot read the users (the item is recorded all the same).
    refused = refuse(monkeypatch, [("dynamodb", "Query")])
    item = _ready(501)
    monkeypatch.undo()
    assert refused and mail.sent() == []
    assert _run(chalice_client)["caught_up"] == 2
    assert _run(chalice_client)["caught_up"] == 0
    assert [len(mail.to(s)) for s in ("imm", "imm2")] == [1, 1]
    assert item.item_id in mail.to("imm2")[0].body


def test_admins_set_e_mail_and_notify_on_put_users(chalice_client: Any, mail: Any,
                                                   mint: Any) -> None:
    from chalicelib.wiring import get_store

    get_store().put_user(User(subject="boss", company_id=COMPANY_ID, erp_level=Level.ADMIN))
    headers = {"Authorization": mint("boss"), "Content-Type": "application/json"}
    body = {"erp_level": "standard", "can_push_to_accounting": True, "notify": "daily"}
    refused = chalice_client.http.put("/users/ana", headers=headers, body=json.dumps(body))
    assert refused.status_code == 400 and "email" in json.loads(refused.body)["message"]
    bad = chalice_client.http.put("/users/ana", headers=headers,
                                  body=json.dumps({**body, "email": "not-an-address"}))
    assert bad.status_code == 400
    ok = chalice_client.http.put("/users/ana", headers=headers,
                                 body=json.dumps({**body, "email": "ana@builder.example"}))
    assert ok.status_code == 200, ok.body
    assert json.loads(ok.body)["notify"] == "daily"
    saved = get_store().get_user(COMPANY_ID, "ana")
    assert saved is not None and (saved.email, saved.notify) == ("ana@builder.example",
                                                                 "daily")
    # Levels unchanged, e-mail off: the default.
    default = chalice_client.http.put("/users/ben", headers=headers, body=json.dumps(
        {"erp_level": "read_only"}))
    assert json.loads(default.body)["notify"] == "off"
