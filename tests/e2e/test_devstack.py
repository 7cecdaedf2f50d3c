"""`python -m devstack run` (what `make run` starts): ready, working, and stopped clean."""

from __future__ import annotations

import json
import os
import re
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


def stack_environment(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "DEVSTACK_STATE_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1",
           "DEVSTACK_API_PORT": str(free_port()), "DEVSTACK_SANDBOX_PORT": str(free_port()),
           "DEVSTACK_AWS_PORT": str(free_port())}
    for key in [k for k in env if k.startswith("AWS_")]:
        del env[key]
    return env


def start_run(env: dict[str, str]) -> tuple[subprocess.Popen[str], list[str]]:
    """`python -m devstack run` (what `make run` starts), with its terminal up to "ready:"."""
    process = subprocess.Popen([sys.executable, "-m", "devstack", "run"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
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
    return process, lines


def event_lines(terminal: str, event: str) -> list[str]:
    """The terminal's human lines of one event kind (``19:52:03  item ready      ...``),
    without the time."""
    pattern = re.compile(r"^\d\d:\d\d:\d\d  " + re.escape(event) + r" +(\S.*)$")
    return [m.group(1) for line in terminal.splitlines() if (m := pattern.match(line))]


def json_lines(path: Path, *, strict: bool = True) -> list[dict[str, Any]]:
    """A log file's JSON lines (``strict``: every line is one, else lines not starting with
    "{", such as chalice's "Serving on", are skipped)."""
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    if not strict:
        lines = [line for line in lines if line.startswith("{")]
    return [json.loads(line) for line in lines]


def test_local_stack_runs_the_connector_and_stops_clean(tmp_path: Path) -> None:
    env = stack_environment(tmp_path)
    process, lines = start_run(env)
    try:
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
    # The terminal: the banner, then one human line per event and no JSON.
    terminal = "".join(lines) + out
    assert not [line for line in terminal.splitlines() if line.lstrip().startswith("{")]
    label = f"{ready['id']} {ready['number']}"
    assert any(re.fullmatch(rf"Work Order Contracts {ready['procore_id']} \(create\) "
                            rf"project {ready['project_id']}", line)
               for line in event_lines(terminal, "webhook queued")), terminal
    assert label in event_lines(terminal, "item ready"), terminal
    assert event_lines(terminal, "accepted") == [f"{label} by approver"], terminal
    assert event_lines(terminal, "in Sage") == [
        f"{label} as subcontract {item['sage_keys']['subcon']}"], terminal
    # The JSON logs: in files under the state dir's logs/.
    logs = tmp_path / "logs"
    handlers = json_lines(logs / "connector.jsonl")  # every line JSON (EMF metrics too)
    messages = {line.get("message") for line in handlers}
    assert {"item transition", "event processed", "export synced",
            "relay message handled"} <= messages
    api = json_lines(logs / "api.jsonl", strict=False)
    assert {"queued", "item transition"} <= {line.get("message") for line in api}
    assert any(line.get("action") == "accept" and line.get("item_id") == ready["id"]
               for line in api)
    assert json_lines(logs / "agent.jsonl")
    assert {"sandbox.log", "moto.log", "api.log"} <= {p.name for p in logs.iterdir()}


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
    env = stack_environment(tmp_path)
    result = subprocess.run([sys.executable, "-m", "devstack", "demo"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=240,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "all landed" in result.stdout
    table = [line for line in result.stdout.splitlines()
             if line.startswith(("commitment-", "project-", "vendor-", "budget-", "cco-",
                                     "subcontractor_invoice-"))]
    assert [line.split(" | ")[2].strip() for line in table] == [
        "synced", "synced", "linked", "synced", "linked", "synced", "synced", "synced", "synced",
        "synced"]
    assert processes_mentioning(f"--port {env['DEVSTACK_API_PORT']}") == []
    # Not on a terminal, the stack it started stops with it (and says so); its logs went to
    # files, not among the demo's lines.
    assert "3 items waiting" in result.stdout and "stops now" in result.stdout
    assert not [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert json_lines(tmp_path / "logs" / "connector.jsonl")


def test_demo_beside_make_run_leaves_items_in_the_inbox(tmp_path: Path) -> None:
    """`make run` in one terminal, `make demo` in another: after the demo, a commitment, a
    budget and an invoice wait in the inbox, ready to export; the run's terminal told the
    story in human lines."""
    env = stack_environment(tmp_path)
    process, lines = start_run(env)
    try:
        result = subprocess.run([sys.executable, "-m", "devstack", "demo"], cwd=ROOT,
                                env=env, capture_output=True, text=True, timeout=240,
                                stdin=subprocess.DEVNULL)
        assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
        api = f"http://127.0.0.1:{env['DEVSTACK_API_PORT']}"
        summary = result.stdout.split("Waiting in the inbox, ready to export:")[1]
        waiting = re.findall(r"^  (\S+-\d+) ", summary, flags=re.MULTILINE)
        assert [w.rsplit("-", 1)[0] for w in waiting] == [
            "commitment", "budget", "subcontractor_invoice"], result.stdout
        assert f"Open {api}/inbox" in summary and "stops now" not in result.stdout
        token = subprocess.run([sys.executable, "-m", "devstack", "token", "approver"],
                               cwd=ROOT, env=env, capture_output=True, text=True,
                               check=True).stdout.strip()
        _, listing = get(f"{api}/items?status=ready_to_export&limit=200", token)
        ready = {item["id"] for item in listing["items"]}
        assert set(waiting) <= ready, (waiting, ready)
        for kind in ("commitment", "budget", "subcontractor_invoice"):
            _, of_kind = get(f"{api}/items?status=ready_to_export&kind={kind}", token)
            assert of_kind["items"], kind
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=60)
    assert process.returncode == 0, out[-2000:]
    terminal = "".join(lines) + out
    for item_id in waiting:
        assert any(line.startswith(item_id + " ") or line == item_id
                   for line in event_lines(terminal, "item ready")), (item_id, terminal)
    in_sage = event_lines(terminal, "in Sage")
    assert any(line.startswith("subcontractor_invoice-") and " as invoice " in line
               for line in in_sage), terminal
    assert any(line.startswith("budget-") for line in in_sage), terminal
    assert any(line.endswith("by approver") for line in event_lines(terminal, "accepted"))
    assert any(line.startswith("commitment-") and "05-120 Structural Steel" in line
               for line in event_lines(terminal, "rejected")), terminal  # with its reason
