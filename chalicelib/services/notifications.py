"""E-mails to accounting approvers when items wait for them.

Each user chooses ``notify``: "immediate" (one e-mail per item as it enters
ready_to_export), "daily" (one digest a day of what waits) or "off" (the default). Only
those who may accept the item's kind are told, never about an item they sent themselves.
Every e-mail is a notice record written before it is sent (``store_notices``), so a
redelivered intake message or a retried request sends nothing twice, and a send that
failed is tried again by the hourly run, at most ``MAX_ATTEMPTS`` times.

Mails carry the kind, project, number and title, amount, age and the inbox link: never the
snapshot (vendor tax ids live there) and never a secret.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from chalicelib.adapters.mailer import Mailer, MailNotSent
from chalicelib.adapters.store import ItemStore
from chalicelib.adapters.store_notices import NoticeRecords
from chalicelib.domain.models import Item, seconds_between, utc_now
from chalicelib.domain.permissions import Permission, User, can
from chalicelib.domain.state_machine import Status
from chalicelib.observability import count, logger

MAX_ATTEMPTS = 3  # an e-mail SES refused this often is given up (NotificationsAbandoned)
SENDING_STALE_SECONDS = 15 * 60  # a claim this old without an outcome: the sender died
CATCH_UP_SECONDS = 24 * 3600  # items that entered ready this recently get missed e-mails
DIGEST_MAX_ITEMS = 200  # listed in one digest; the rest are counted ("and N more")
AMOUNT_FIELDS = ("grand_total", "total", "amount")  # the snapshot's total, per kind


class ApproverNotifications:
    def __init__(self, store: ItemStore, notices: NoticeRecords, mailer: Mailer | None, *,
                 inbox_url: str, digest_hour_utc: int,
                 clock: Callable[[], str] = utc_now) -> None:
        self.store = store
        self.notices = notices
        self.mailer = mailer  # None: no sender configured, so no e-mails at all
        self.inbox_url = inbox_url
        self.digest_hour_utc = digest_hour_utc
        self.clock = clock

    # ---- immediate: the item has just entered ready_to_export -----------------------------
    def item_ready(self, item: Item) -> int:
        """E-mail the "immediate" approvers of ``item``; how many were sent. Never raises:
        the transition is already recorded, and the hourly run sends what this missed."""
        if self.mailer is None:
            return 0
        try:
            # Direct exports: the intake accepts it at once, nobody has to act (a failed
            # direct acceptance leaves it ready, and the hourly catch-up tells them).
            if self.store.get_company_settings(item.company_id).get("direct_exports"):
                return 0
            return sum(self._immediate(item, user) for user in self._approvers(
                item.company_id, "immediate", item))
        except Exception:  # noqa: BLE001 - logged; the hourly catch-up covers this item
            logger.exception("approver e-mails not sent", item_id=item.item_id)
            return 0

    def _immediate(self, item: Item, user: User) -> bool:
        key = f"IMMEDIATE#{item.item_id}#{item.sent_at}#{user.subject}"
        doc = {"type": "immediate", "item_id": item.item_id, "entered_at": item.sent_at,
               "subject": user.subject}
        if not self.notices.claim_new(item.company_id, key, doc, at=self.clock()):
            return False  # already sent (or being sent): a redelivery or a retry
        subject, text = self.item_mail(item)
        return self._deliver(item.company_id, key, 0, user, subject, text)

    # ---- the hourly run: retries, catch-up, the daily digest -------------------------------
    def run(self, company_id: int) -> dict[str, int]:
        if self.mailer is None:
            return {"retried": 0, "caught_up": 0, "digests": 0}
        users = [u for u in self.store.list_users(company_id) if _notified(u)]
        ready = self._ready_items(company_id) if users else []
        report = {"retried": self._retry(company_id, users, ready),
                  "caught_up": self._catch_up(company_id, users, ready),
                  "digests": self._digests(company_id, users, ready)}
        logger.info("approver notifications run", **report)
        return report

    def _retry(self, company_id: int, users: list[User], ready: list[Item]) -> int:
        by_subject = {u.subject: u for u in users}
        by_id = {i.item_id: i for i in ready}
        now, sent = self.clock(), 0
        for notice in self.notices.list_open(company_id):
            key, attempts = notice["key"], notice["attempts"]
            if notice["status"] == "sending" and notice["claimed_at"] and seconds_between(
                    notice["claimed_at"], now) < SENDING_STALE_SECONDS:
                continue  # another invocation is sending it right now
            user = by_subject.get(notice["subject"])
            mail = self._rebuilt(notice, user, by_id, now)
            if mail is None:
                self.notices.finish(company_id, key, status="obsolete", attempts=attempts)
                continue
            if user is not None and self.notices.claim_again(
                    company_id, key, status=notice["status"], attempts=attempts, at=now):
                sent += self._deliver(company_id, key, attempts, user, *mail)
        return sent

    def _rebuilt(self, notice: dict[str, Any], user: User | None, ready: dict[str, Item],
                 now: str) -> tuple[str, str] | None:
        """The e-mail again, or None when it no longer has a point (item accepted, the day
        passed, the user switched it off or lost the approver's rights)."""
        if notice["type"] == "digest":
            if user is None or user.notify != "daily" or notice["date"] != now[:10]:
                return None
            items = self._visible(user, list(ready.values()))
            return self.digest_mail(items, now) if items else None
        item = ready.get(notice["item_id"])
        if (user is None or user.notify != "immediate" or item is None
                or item.sent_at != notice["entered_at"] or not _may_accept(user, item)):
            return None
        return self.item_mail(item)

    def _catch_up(self, company_id: int, users: list[User], ready: list[Item]) -> int:
        """Items that entered ready recently but whose e-mail was never claimed (the
        intake's attempt failed before its record): sent now, once."""
        now, sent = self.clock(), 0
        for user in (u for u in users if u.notify == "immediate"):
            for item in self._visible(user, ready):
                if item.sent_at and seconds_between(item.sent_at, now) <= CATCH_UP_SECONDS:
                    sent += self._immediate(item, user)
        return sent

    def _digests(self, company_id: int, users: list[User], ready: list[Item]) -> int:
        now = self.clock()
        if int(now[11:13]) < self.digest_hour_utc:
            return 0
        sent = 0
        for user in (u for u in users if u.notify == "daily"):
            items = self._visible(user, ready)
            if not items:
                continue  # nothing waits for them: no e-mail (a later run today may send)
            key = f"DIGEST#{now[:10]}#{user.subject}"
            doc = {"type": "digest", "date": now[:10], "subject": user.subject}
            if self.notices.claim_new(company_id, key, doc, at=now):
                sent += self._deliver(company_id, key, 0, user, *self.digest_mail(items, now))
        return sent

    # ---- shared ----------------------------------------------------------------------------
    def _deliver(self, company_id: int, key: str, attempts: int, user: User, subject: str,
                 text: str) -> bool:
        """One attempt of a claimed notice, and its outcome recorded."""
        if self.mailer is None or not user.email:  # callers check both; never mail nobody
            return False
        attempts += 1
        try:
            message_id = self.mailer.send(user.email, subject, text)
        except MailNotSent as exc:
            given_up = attempts >= MAX_ATTEMPTS
            self.notices.finish(company_id, key, status="given_up" if given_up else "failed",
                                attempts=attempts, error=str(exc.details.get("code", "")))
            count("NotificationsFailed")
            if given_up:
                count("NotificationsAbandoned")
                logger.error("approver e-mail given up", notice=key, attempts=attempts)
            return False
        self.notices.finish(company_id, key, status="sent", attempts=attempts,
                            message_id=message_id)
        count("NotificationsSent")
        logger.info("approver e-mail sent", notice=key, user=user.subject)
        return True

    def _approvers(self, company_id: int, mode: str, item: Item) -> list[User]:
        return [u for u in self.store.list_users(company_id)
                if _notified(u) and u.notify == mode and _may_accept(u, item)]

    def _visible(self, user: User, ready: list[Item]) -> list[Item]:
        return [i for i in ready if _may_accept(user, i)]

    def _ready_items(self, company_id: int) -> list[Item]:
        items: list[Item] = []
        cursor = None
        while True:
            page, cursor = self.store.list_items(company_id, status=Status.READY_TO_EXPORT,
                                                 limit=200, cursor=cursor)
            items += page
            if not cursor or len(items) >= 5 * DIGEST_MAX_ITEMS:
                return items

    # ---- the e-mails (plain text) -----------------------------------------------------------
    def item_mail(self, item: Item) -> tuple[str, str]:
        subject = " ".join(f"Ready to export: {_label(item)} {_name(item)}".split())
        text = ("An item waits for accounting acceptance.\n\n"
                f"{_describe(item, self.clock())}\n\n"
                f"Open the inbox to accept or reject it: {self._inbox()}\n")
        return subject, text

    def _inbox(self) -> str:
        return self.inbox_url or "(the inbox address is not configured)"

    def digest_mail(self, items: list[Item], now: str) -> tuple[str, str]:
        shown = sorted(items, key=lambda i: i.sent_at or i.updated_at)[:DIGEST_MAX_ITEMS]
        more = len(items) - len(shown)
        subject = (f"{len(items)} item{'s' if len(items) != 1 else ''} waiting for "
                   f"accounting acceptance ({now[:10]})")
        blocks = "\n\n".join(_describe(i, now) for i in shown)
        tail = f"\n\n... and {more} more." if more else ""
        text = (f"These items wait for your acceptance:\n\n{blocks}{tail}\n\n"
                f"Open the inbox: {self._inbox()}\n")
        return subject, text


def _notified(user: User) -> bool:
    return bool(user.email) and user.notify in ("immediate", "daily") and (
        user.is_accounting_approver)


def _may_accept(user: User, item: Item) -> bool:
    """An approver who may accept this kind, and did not send the item themselves."""
    return can(user, Permission.ACCEPT_OR_REJECT, item.kind) and item.sent_by != user.subject


def _label(item: Item) -> str:
    kind = item.kind.replace("_", " ")
    return f"{kind} ({item.subtype.replace('_', ' ')})" if item.subtype else kind


def _name(item: Item) -> str:
    return " ".join(p for p in (item.number, item.title) if p) or item.item_id


def amount_text(snapshot: dict[str, Any]) -> str:
    """The item's total as Decimal text to the cent, or "-" when the kind has none."""
    for field in AMOUNT_FIELDS:
        value = snapshot.get(field)
        if value in (None, "") or isinstance(value, (dict, list, bool)):
            continue
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            continue
        if number.is_finite():
            return str(number.quantize(Decimal("0.01")))
    return "-"


def age_text(since: str | None, now: str) -> str:
    if not since:
        return "-"
    seconds = max(0, int(seconds_between(since, now)))
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def _describe(item: Item, now: str) -> str:
    project = f"project {item.project_id}" if item.project_id is not None else "company level"
    return (f"- {_label(item)} {_name(item)} [{item.item_id}]\n"
            f"  Project: {project}\n"
            f"  Amount: {amount_text(item.snapshot)}\n"
            f"  Waiting for: {age_text(item.sent_at or item.updated_at, now)}")
