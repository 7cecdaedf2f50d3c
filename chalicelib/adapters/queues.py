"""SQS FIFO queues: one adapter per queue, each taking its client."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.errors import ServiceUnavailable
from chalicelib.observability import logger


class FifoQueue:
    """Send JSON messages to one FIFO queue with explicit deduplication and grouping."""

    def __init__(self, queue_url: str, client: Any, *, name: str) -> None:
        self.queue_url = queue_url
        self.client = client
        self.name = name

    def send(self, body: dict[str, Any], *, deduplication_id: str, group_id: str) -> str:
        """Send one message; ServiceUnavailable (nothing sent) when SQS refuses or is away."""
        from botocore.exceptions import BotoCoreError, ClientError

        if not self.queue_url:
            raise ServiceUnavailable(f"the {self.name} queue is not configured")
        try:
            answer = self.client.send_message(
                QueueUrl=self.queue_url,
                MessageBody=json.dumps(body, separators=(",", ":")),
                # SQS limits both ids to 128 characters.
                MessageDeduplicationId=deduplication_id[:128],
                MessageGroupId=group_id[:128],
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._unavailable(exc) from exc
        return str(answer["MessageId"])

    def ping(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.get_queue_attributes(QueueUrl=self.queue_url,
                                              AttributeNames=["QueueArn"])
        except (ClientError, BotoCoreError) as exc:
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc: Exception) -> ServiceUnavailable:
        # AWS's text goes to the log, never into an answer.
        logger.error("queue call failed", queue=self.name, error=str(exc))
        return ServiceUnavailable(f"the {self.name} queue is unavailable; try again shortly")
