"""``relay doctor``: one line per check, exit 0 when none fails, 1 otherwise.

SQS is moto in-process (the two FIFO queues are made here), Sage the embedded file with
the demo data; the clock is injected to put the machine off AWS's Date. Each check is made
to fail alone and must say so on its own line; nothing secret may be printed.
"""

from __future__ import annotations

import io
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from relay.__main__ import main
from relay.doctor import Status, mask_secrets, run_doctor
from relay.sage.embedded import EmbeddedSage

CHECKS = ["config", "credentials", "commands queue", "results queue", "clock skew", "sage",
          "journal"]


@dataclass
class World:
    tmp: Path
    sqs: Any
    commands_url: str
    results_url: str
    sage_db: Path

    def write_config(self, **overrides: Any) -> Path:
        settings: dict[str, Any] = {
            "agent_id": "sage-server-1", "company_id": 4264,
            "commands_queue_url": self.commands_url, "results_queue_url": self.results_url,
            "region": "us-east-1", "journal_path": str(self.tmp / "state" / "journal.db"),
            "sage_db": str(self.sage_db), "wait_seconds": 1,
        }
        settings.update(overrides)
        lines = [f"{key} = {json.dumps(value)}" for key, value in settings.items()
                 if value is not None]
        path = self.tmp / "relay.toml"
        path.write_text("\n".join(lines) + "\n")
        return path

    def doctor(self, config: Path | None = None, *, clock: Callable[[], float] = time.time,
               env: dict[str, str] | None = None) -> tuple[int, dict[str, tuple[str, str]],
                                                           str]:
        """Exit code, check name -> (status, detail), and the whole output."""
        out = io.StringIO()
        code = run_doctor(str(config or self.write_config()), out=out, clock=clock,
                          env=env or {})
        text = out.getvalue()
        lines = {}
        for line in text.splitlines()[:-1]:
            status, rest = line.split(None, 1)
            name = next(name for name in CHECKS if rest.startswith(name))
            lines[name] = (status, rest[len(name):].strip())
        return code, lines, text


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    # Temporary credentials by default: every check passes.
    monkeypatch.setenv("AWS_SESSION_TOKEN", "token-of-the-session-1234")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    sage_db = tmp_path / "sage.db"
    sage = EmbeddedSage(sage_db)
    sage.init()
    sage.seed_demo()
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        fifo = {"FifoQueue": "true", "ContentBasedDeduplication": "false"}
        commands = sqs.create_queue(QueueName="relay-commands.fifo", Attributes=fifo)
        results = sqs.create_queue(QueueName="relay-results.fifo", Attributes=fifo)
        yield World(tmp_path, sqs, commands["QueueUrl"], results["QueueUrl"], sage_db)


# ---- all pass -------------------------------------------------------------------------------
def test_every_check_passes_and_exits_0(world: World) -> None:
    # GIVEN queues, a seeded Sage, a writable journal folder and temporary credentials
    # WHEN the doctor runs
    code, lines, text = world.doctor()

    # THEN one OK line per check, in order, and exit 0
    assert code == 0, text
    assert list(lines) == CHECKS
    assert {name: status for name, (status, _) in lines.items()} == dict.fromkeys(CHECKS, "OK")
    assert "temporary credentials (env" in lines["credentials"][1]
    assert "read 1 row(s) of csttyp" in lines["sage"][1]
    assert "will be created" in lines["journal"][1]
    assert text.splitlines()[-1] == "relay doctor: all checks passed"
    assert "token-of-the-session-1234" not in text and "testing" not in text


def test_the_doctor_never_takes_a_command(world: World) -> None:
    # GIVEN a command waiting on the commands queue
    world.sqs.send_message(QueueUrl=world.commands_url, MessageBody='{"command": 1}',
                           MessageGroupId="job:1", MessageDeduplicationId="c1")

    # WHEN the doctor runs
    code, lines, _ = world.doctor()

    # THEN it saw it waiting, and the agent can still receive it (never received, hidden)
    assert code == 0
    assert "(1 waiting, 0 in flight)" in lines["commands queue"][1]
    got = world.sqs.receive_message(QueueUrl=world.commands_url, MaxNumberOfMessages=10)
    assert [message["Body"] for message in got["Messages"]] == ['{"command": 1}']


def test_the_cli_runs_the_doctor_with_the_run_commands_file(world: World,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    # GIVEN the file `relay run --config` would read; WHEN `relay doctor --config` runs
    code = main(["doctor", "--config", str(world.write_config())])

    # THEN the same checks print and the exit code says they passed
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.splitlines()[0].startswith("OK    config")


# ---- credentials ----------------------------------------------------------------------------
def test_long_lived_keys_warn_loudly_but_pass(world: World,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN an access key without a session token (a user's long-lived key)
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEKEY9876")

    code, lines, text = world.doctor()

    # THEN a WARN line names it (last four of the key id only) and the rotation steps
    assert code == 0
    status, detail = lines["credentials"]
    assert status == "WARN"
    assert "LONG-LIVED access key ****9876 from env" in detail
    assert "docs/iam.md" in detail
    assert "AKIAEXAMPLEKEY9876" not in text
    assert "1 warning(s): credentials" in text.splitlines()[-1]


def test_a_credential_process_profile_gives_temporary_credentials(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a profile whose credential_process prints temporary credentials, as IAM Roles
    # Anywhere's signing helper does, while the environment holds other (long-lived) keys
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    helper = world.tmp / "signing_helper.py"
    helper.write_text(
        "import json\nprint(json.dumps({'Version': 1, 'AccessKeyId': 'ASIAROLESANYWHERE42',"
        " 'SecretAccessKey': 'helper-secret-key', 'SessionToken': 'helper-session-token',"
        " 'Expiration': '2099-01-01T00:00:00Z'}))\n")
    aws_config = world.tmp / "aws-config"
    aws_config.write_text(f"[profile procore-sage-relay]\n"
                          f"credential_process = {sys.executable} {helper}\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(aws_config))

    # WHEN the config names the profile
    code, lines, text = world.doctor(world.write_config(aws_profile="procore-sage-relay"))

    # THEN the session is the profile's (custom-process), temporary, and the queues answer
    assert code == 0, text
    assert lines["credentials"] == (
        "OK", "temporary credentials (custom-process, key ****RE42, expire 2099-01-01 "
              "00:00:00Z and are refreshed by boto3)")
    assert lines["commands queue"][0] == "OK"
    assert "helper-secret-key" not in text and "helper-session-token" not in text


def test_no_credentials_fail_and_skip_the_aws_checks(world: World,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN no credentials anywhere
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)

    code, lines, _ = world.doctor()

    # THEN credentials fail; the queues and the clock are skipped; Sage and journal still run
    assert code == 1
    assert lines["credentials"][0] == "FAIL"
    assert "no AWS credentials found" in lines["credentials"][1]
    assert [lines[name][0] for name in ("commands queue", "results queue", "clock skew")] == [
        "SKIP"] * 3
    assert lines["sage"][0] == "OK" and lines["journal"][0] == "OK"


def test_a_missing_profile_fails_the_credentials_check(world: World) -> None:
    code, lines, _ = world.doctor(world.write_config(aws_profile="not-there"))

    assert code == 1
    assert lines["credentials"][0] == "FAIL"
    assert "ProfileNotFound" in lines["credentials"][1]
    assert "not-there" in lines["credentials"][1]


# ---- each check failing alone -------------------------------------------------------------
def test_a_missing_commands_queue_fails_its_line_only(world: World) -> None:
    # GIVEN a commands queue URL no queue has
    missing = world.commands_url.replace("relay-commands", "relay-commands-gone")

    code, lines, text = world.doctor(world.write_config(commands_queue_url=missing))

    # THEN its line fails with the URL and AWS's reason; every other check passes
    assert code == 1
    status, detail = lines["commands queue"]
    assert status == "FAIL"
    assert missing in detail and "does not exist" in detail
    assert [name for name, (status, _) in lines.items() if status != "OK"] == [
        "commands queue"]
    assert text.splitlines()[-1] == "relay doctor: 1 check(s) failed: commands queue"


def test_a_missing_results_queue_fails_its_line_only(world: World) -> None:
    missing = world.results_url.replace("relay-results", "relay-results-gone")

    code, lines, _ = world.doctor(world.write_config(results_queue_url=missing))

    assert code == 1
    assert [name for name, (status, _) in lines.items() if status != "OK"] == [
        "results queue"]


@pytest.mark.parametrize(("offset", "status", "words"), [
    (400.0, "FAIL", "ahead of AWS"),
    (-400.0, "FAIL", "behind AWS"),
    (90.0, "WARN", "over 60 s"),
    (20.0, "OK", "ahead of AWS"),
])
def test_clock_skew_against_aws_date(world: World, offset: float, status: str,
                                     words: str) -> None:
    # GIVEN a local clock `offset` seconds off the Date of AWS's answers
    code, lines, _ = world.doctor(clock=lambda: time.time() + offset)

    # THEN over 5 minutes fails (SigV4 would refuse), over 60 s warns
    assert lines["clock skew"][0] == status
    assert words in lines["clock skew"][1]
    assert code == (1 if status == "FAIL" else 0)
    assert [name for name, (got, _) in lines.items() if got != "OK"] == (
        [] if status == "OK" else ["clock skew"])
    if status == "FAIL":
        assert "refuses the agent's signed requests" in lines["clock skew"][1]


def test_an_unreadable_sage_file_fails_the_sage_line(world: World) -> None:
    # GIVEN a Sage company file that is not a database
    world.sage_db.write_bytes(b"this is not a Sage company file " * 64)
    before = world.sage_db.read_bytes()

    code, lines, _ = world.doctor()

    # THEN the sage line fails with the reason, and the doctor left the file as it was
    assert code == 1
    status, detail = lines["sage"]
    assert status == "FAIL"
    assert f"embedded Sage {world.sage_db} cannot be read" in detail
    assert "not a database" in detail
    assert [name for name, (got, _) in lines.items() if got != "OK"] == ["sage"]
    assert world.sage_db.read_bytes() == before


def test_a_missing_sage_file_fails_and_is_not_created(world: World) -> None:
    missing = world.tmp / "nowhere" / "sage.db"

    code, lines, _ = world.doctor(world.write_config(sage_db=str(missing)))

    assert code == 1
    assert lines["sage"][0] == "FAIL"
    assert "does not exist" in lines["sage"][1]
    assert not missing.exists()


def test_a_sage_database_url_is_connected_and_read(world: World) -> None:
    # GIVEN sage_database_url (here the embedded file by SQLAlchemy URL, as a real Sage's)
    url = f"sqlite:///{world.sage_db}"

    code, lines, _ = world.doctor(world.write_config(sage_database_url=url))

    # THEN the database is what the sage line read
    assert code == 0
    assert lines["sage"] == ("OK", f"Sage company database {url} answers "
                                   "(read 1 row(s) of csttyp)")


def test_a_database_password_is_never_printed(world: World) -> None:
    # GIVEN a Sage database URL with a password (only allowed in the environment)
    url = ("mssql+pyodbc://relay:S3cret-Pa55@sagesrv/Acme"
           "?driver=ODBC+Driver+18+for+SQL+Server")

    code, lines, text = world.doctor(env={"RELAY_SAGE_DATABASE_URL": url})

    # THEN the URL is shown masked and the Sage check does not pass (no such server here)
    assert "S3cret-Pa55" not in text
    assert "mssql+pyodbc://relay:***@sagesrv/Acme" in lines["config"][1]
    assert lines["sage"][0] == "FAIL"
    assert code == 1


def test_a_config_error_fails_config_and_skips_the_rest(world: World) -> None:
    # GIVEN a config file with an invalid setting
    code, lines, text = world.doctor(world.write_config(company_id=-5))

    # THEN the config line names the setting; nothing else can run
    assert code == 1
    status, detail = lines["config"]
    assert status == "FAIL"
    assert "invalid setting company_id" in detail
    assert [lines[name][0] for name in CHECKS[1:]] == ["SKIP"] * 6
    assert text.splitlines()[-1] == "relay doctor: 1 check(s) failed: config"


def test_a_credential_in_the_config_file_is_refused(world: World) -> None:
    path = world.write_config(aws_secret_access_key="wJalrXUtnFEMI-not-here")

    code, lines, text = world.doctor(path)

    assert code == 1
    assert lines["config"][0] == "FAIL"
    assert "names credentials (aws_secret_access_key)" in lines["config"][1]
    assert "wJalrXUtnFEMI-not-here" not in text


def test_an_unwritable_journal_fails_the_journal_line(world: World) -> None:
    # GIVEN a journal path under a regular file (no folder can be made there)
    blocker = world.tmp / "not-a-folder"
    blocker.write_text("a file")

    code, lines, _ = world.doctor(world.write_config(
        journal_path=str(blocker / "journal.db")))

    assert code == 1
    assert lines["journal"][0] == "FAIL"
    assert "is not writable" in lines["journal"][1]
    assert [name for name, (got, _) in lines.items() if got != "OK"] == ["journal"]


def test_an_existing_journal_is_checked_without_change(world: World) -> None:
    journal = world.tmp / "state" / "journal.db"
    journal.parent.mkdir()
    journal.write_bytes(b"journal bytes")

    code, lines, _ = world.doctor()

    assert code == 0
    assert lines["journal"] == ("OK", f"{journal} exists and is writable")
    assert journal.read_bytes() == b"journal bytes"


# ---- masking --------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "masked"), [
    ("mssql+pyodbc://relay:pw@srv/db", "mssql+pyodbc://relay:***@srv/db"),
    ("DRIVER={ODBC};SERVER=s;UID=relay;PWD=hunter2;", "DRIVER={ODBC};SERVER=s;UID=relay;PWD=***;"),
    ("odbc_connect=Server%3Ds%3BPassword%3Dhunter2", "odbc_connect=Server%3Ds%3BPassword%3D***"),
    ("https://sqs.us-east-1.amazonaws.com/1/q.fifo", "https://sqs.us-east-1.amazonaws.com/1/q.fifo"),
])
def test_mask_secrets(text: str, masked: str) -> None:
    assert mask_secrets(text) == masked


def test_mask_secrets_hides_known_values() -> None:
    assert mask_secrets("signed with abc123secret", ("abc123secret",)) == "signed with ***"


def test_status_values_are_the_printed_words() -> None:
    assert [status.value for status in Status] == ["OK", "WARN", "FAIL", "SKIP"]


def test_a_failing_signing_helper_fails_the_credentials_check(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a profile whose credential_process fails (a revoked certificate, say)
    helper = world.tmp / "failing_helper.py"
    helper.write_text("import sys\nsys.stderr.write('certificate revoked')\nsys.exit(1)\n")
    aws_config = world.tmp / "aws-config"
    aws_config.write_text(f"[profile relay]\ncredential_process = {sys.executable} {helper}\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(aws_config))

    code, lines, _ = world.doctor(world.write_config(aws_profile="relay"))

    # THEN the credentials line says the process failed; the AWS checks are skipped
    assert code == 1
    status, detail = lines["credentials"]
    assert status == "FAIL"
    assert "CredentialRetrievalError" in detail and "certificate revoked" in detail
    assert lines["commands queue"][0] == "SKIP"


def test_an_endpoint_botocore_refuses_fails_both_queue_lines(world: World) -> None:
    code, lines, _ = world.doctor(world.write_config(endpoint_url="not a url"))

    assert code == 1
    assert lines["commands queue"][0] == lines["results queue"][0] == "FAIL"
    assert "not a url" in lines["commands queue"][1]
    assert lines["clock skew"][0] == "SKIP"
