"""Plain-text e-mail through Amazon SES (API v2 ``SendEmail``): one adapter, one client.

SES's error text (identity not verified, account in the sandbox, throttled...) goes to the
log only; the caller gets ``MailNotSent`` with fixed words, recorded on the notice.
"""

from __future__ import annotations

from typing import Any

from chalicelib.errors import ServiceUnavailable
from chalicelib.observability import logger


class MailNotSent(ServiceUnavailable):
    """SES refused or could not be reached; nothing was sent (a later run tries again)."""


class Mailer:
    """Sends from one sender address. Takes a boto3 ``sesv2`` client."""

    def __init__(self, sender: str, client: Any) -> None:
        self.sender = sender
        self.client = client

    def send(self, to: str, subject: str, text: str) -> str:
        """Send one message to one recipient; SES's message id."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self.client.send_email(
                FromEmailAddress=self.sender,
                Destination={"ToAddresses": [to]},
                Content={"Simple": {
                    "Subject": {"Data": subject, "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": text, "Charset": "UTF-8"}}}})
        except (ClientError, BotoCoreError) as exc:
            code = exc.response.get("Error", {}).get("Code", "") if isinstance(
                exc, ClientError) else type(exc).__name__
            logger.error("e-mail not sent", error_code=code, error=str(exc))
            raise MailNotSent("the e-mail service did not take the message",
                              code=_plain_code(code)) from exc
        return str(answer.get("MessageId", ""))


def _plain_code(code: str) -> str:
    """Our fixed word for SES's error code (kept on the notice record)."""
    if code in ("AccessDenied", "AccessDeniedException"):
        return "access denied"
    if code in ("MessageRejected", "MailFromDomainNotVerifiedException",
                "AccountSuspendedException", "SendingPausedException"):
        return "refused"
    if code in ("TooManyRequestsException", "Throttling", "LimitExceededException"):
        return "throttled"
    return "unreachable"
