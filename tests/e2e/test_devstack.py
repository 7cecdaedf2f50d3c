"""`python -m devstack run` (what `make run` starts): ready, working, and stopped clean."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str, token: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with OPENER.open(request, timeout=10) as answer:
        return answer.status, json.loads(answer.read())


def post(url: str, token: str) -> Any:
    request = urllib.request.Request(url, data=b"", method="POST")
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    with OPENER.open(request, timeout=10) as answer:
        return json.loads(answer.read())


def test_local_stack_runs_the_connector_and_stops_clean(tmp_path: Path) -> None:
    env = {**os.environ, "DEVSTACK_STATE_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1",
           "DEVSTACK_API_PORT": str(free_port()), "DEVSTACK_SANDBOX_PORT": str(free_port()),
           "DEVSTACK_AWS_PORT": str(free_port())}
    for key in [k for k in env if k.startswith("AWS_")]:
        del env[key]
    process = subprocess.Popen([sys.executable, "-m", "devstack", "run"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 90
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("ready:"):
                break
        assert any(line.startswith("ready:") for line in lines), "".join(lines[-30:])
        described = subprocess.run([sys.executable, "-m", "devstack", "env"], cwd=ROOT,
                                   env=env, capture_output=True, text=True, check=True).stdout
        values = dict(line.split("=", 1) for line in described.splitlines())
        assert values["CONNECTOR_URL"] == f"http://127.0.0.1:{env['DEVSTACK_API_PORT']}"
        assert any(line.startswith(f"Inbox            {values['CONNECTOR_URL']}/inbox")
                   for line in lines), "".join(lines)
        assert values["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
        status, health = get(values["CONNECTOR_URL"] + "/health")
        assert status == 200 and health["status"] == "ok"
        token = subprocess.run([sys.executable, "-m", "devstack", "token", "viewer"], cwd=ROOT,
                               env=env, capture_output=True, text=True,
                               check=True).stdout.strip()
        statuses: set[str] = set()
        for _ in range(100):  # the demo commitments' webhooks arrive within moments
            _, listing = get(values["CONNECTOR_URL"] + "/items", token)
            statuses = {item["status"] for item in listing["items"]}
            if statuses == {"ready_to_export", "not_ready"}:
                break
            time.sleep(0.2)
        assert statuses == {"ready_to_export", "not_ready"}
        ready = next(i for i in listing["items"] if i["status"] == "ready_to_export")
        approver = subprocess.run([sys.executable, "-m", "devstack", "token", "approver"],
                                  cwd=ROOT, env=env, capture_output=True, text=True,
                                  check=True).stdout.strip()
        accepted = post(f"{values['CONNECTOR_URL']}/items/{ready['id']}/accept", approver)
        assert accepted["status"] == "accepted"
        item: dict[str, Any] = {}
        for _ in range(150):  # exporter -> agent process -> embedded Sage -> results
            _, item = get(f"{values['CONNECTOR_URL']}/items/{ready['id']}", token)
            if item["status"] == "synced":
                break
            time.sleep(0.2)
        assert item["status"] == "synced", item
        from relay.sage.embedded import EmbeddedSage

        sage = EmbeddedSage(values["SAGE_DB"])
        assert sage.find_subcontract(24001, ready["number"])["subcon"] == \
            item["sage_keys"]["subcon"]
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=60)
    assert process.returncode == 0, out[-2000:]
    assert "stopped" in out
    assert processes_mentioning(f"--port {env['DEVSTACK_API_PORT']}") == []


def processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes containing ``text`` (reads /proc, no pgrep needed)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if text in command:
                found.append(command)
    return found


def test_demo_drives_the_main_story_and_exits_0(tmp_path: Path) -> None:
    env = {**os.environ, "DEVSTACK_STATE_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1",
           "DEVSTACK_API_PORT": str(free_port()), "DEVSTACK_SANDBOX_PORT": str(free_port()),
           "DEVSTACK_AWS_PORT": str(free_port())}
    for key in [k for k in env if k.startswith("AWS_")]:
        del env[key]
    result = subprocess.run([sys.executable, "-m", "devstack", "demo"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "all landed" in result.stdout
    table = [line for line in result.stdout.splitlines()
             if line.startswith(("commitment-", "project-", "vendor-", "budget-", "cco-",
                                     "subcontractor_invoice-"))]
    assert [line.split(" | ")[2].strip() for line in table] == [
        "synced", "synced", "linked", "synced", "linked", "synced", "synced", "synced", "synced",
        "synced"]
    assert processes_mentioning(f"--port {env['DEVSTACK_API_PORT']}") == []
