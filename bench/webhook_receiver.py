"""Webhook receiver cost per call: POST /webhooks/procore through the Chalice app
(chalice.test.Client, in-process) to an in-process moto FIFO queue. Warm calls only: the
first call's imports are the cold start, measured separately by import_time."""

from __future__ import annotations

import json
import os
import time


def per_call_ms(calls: int = 200) -> float:
    import boto3
    from chalice.test import Client
    from moto import mock_aws

    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"})
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with mock_aws():
        from devstack.resources import provision

        resources = provision(boto3.client("dynamodb"), boto3.client("sqs"), prefix="wh")
        os.environ.update({**resources.environment, "STAGE": "test",
                           "WEBHOOK_TOKEN": "Bearer bench", "PROCORE_COMPANY_ID": "4264"})
        from app import app
        from chalicelib import wiring

        wiring.reset()
        payload = {"id": 1, "ulid": "", "timestamp": "2026-11-26T00:00:00Z", "metadata": {},
                   "user_id": 1, "company_id": 4264, "project_id": 7, "api_version": "v2.0",
                   "event_type": "update", "resource_name": "Work Order Contracts",
                   "resource_id": 99}
        headers = {"Content-Type": "application/json", "Authorization": "Bearer bench"}
        with Client(app, stage_name="test") as client:
            bodies = [json.dumps({**payload, "id": n, "ulid": f"01JBENCH{n:018d}"})
                      for n in range(calls + 1)]
            assert client.http.post("/webhooks/procore", headers=headers,
                                    body=bodies[0]).status_code == 202
            started = time.perf_counter()
            for body in bodies[1:]:
                client.http.post("/webhooks/procore", headers=headers, body=body)
            elapsed = time.perf_counter() - started
        wiring.reset()
        return elapsed / calls * 1000
