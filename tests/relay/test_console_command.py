"""The agent installs from its own folder as the ``relay`` console command.

``python -m relay.dist OUT`` assembles the folder (relay/pyproject.toml at its root, all of
relay/, chalicelib's two protocol files); pip builds and installs it offline here
(``--no-build-isolation --no-deps --no-index`` with the venv's setuptools, into a target
folder), and the installed ``relay`` script runs from that folder alone.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from relay.__main__ import main
from relay.config import AgentConfig, load_config, resolve_config_path
from relay.dist import assemble
from relay.dist import main as dist_main
from relay.runtime import open_agent

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "relay" / "relay.example.toml"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The agent built and installed by pip into a fresh target folder (module-scoped: one
    build for the tests below)."""
    work = tmp_path_factory.mktemp("relay-install")
    dist = assemble(work / "relay-dist")
    target = work / "target"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-deps", "--no-build-isolation", "--no-index", "--target", str(target),
         str(dist)],
        capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    return target


def _run_installed(target: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("RELAY_")}
    env["PYTHONPATH"] = str(target)  # only the installed copy: cwd is elsewhere
    return subprocess.run([str(target / "bin" / "relay"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


# ---- the folder -----------------------------------------------------------------------------
def test_the_dist_folder_holds_only_the_agents_files(tmp_path: Path) -> None:
    dist = assemble(tmp_path / "relay-dist")

    assert sorted(path.name for path in dist.iterdir()) == ["chalicelib", "pyproject.toml",
                                                          "relay"]
    assert sorted(path.name for path in (dist / "chalicelib").iterdir()) == [
        "__init__.py", "relay_protocol.py"]
    assert not (dist / "relay" / "pyproject.toml").exists()
    assert (dist / "relay" / "sage" / "embedded" / "schema.sql").is_file()
    assert not list(dist.rglob("__pycache__"))


def test_the_dist_command_refuses_an_existing_folder(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    assert dist_main([str(tmp_path / "taken")]) == 2
    assert dist_main([]) == 2
    assert dist_main([str(tmp_path / "new")]) == 0
    assert (tmp_path / "new" / "pyproject.toml").is_file()


# ---- the installed command ------------------------------------------------------------------
def test_pip_installs_the_relay_console_command(installed: Path) -> None:
    [info] = installed.glob("procore_sage_relay-*.dist-info")
    entry_points = (info / "entry_points.txt").read_text()

    assert re.search(r"^relay = relay\.__main__:console$", entry_points, re.MULTILINE)
    assert (installed / "bin" / "relay").is_file()
    for data in ("relay/requirements.txt", "relay/relay.example.toml",
                 "relay/sage/embedded/schema.sql", "chalicelib/relay_protocol.py"):
        assert (installed / data).is_file(), data
    # chalicelib is only the protocol: nothing of the cloud was installed
    assert sorted(path.name for path in (installed / "chalicelib").glob("*.py")) == [
        "__init__.py", "relay_protocol.py"]


def test_the_wheel_requires_exactly_the_agents_pins(installed: Path) -> None:
    [info] = installed.glob("procore_sage_relay-*.dist-info")
    requires = [line.removeprefix("Requires-Dist: ").replace(" ", "")
                for line in (info / "METADATA").read_text().splitlines()
                if line.startswith("Requires-Dist: ")]
    pins = [line.split("#", 1)[0].replace(" ", "")
            for line in (ROOT / "relay" / "requirements.txt").read_text().splitlines()]

    assert requires == [pin for pin in pins if pin]
    assert 'pywin32==312;sys_platform=="win32"' in requires


def test_the_installed_command_runs_from_the_installed_files(installed: Path,
                                                             tmp_path: Path) -> None:
    # WHEN `relay --help` and `relay doctor` run from the installed script
    helped = _run_installed(installed, "--help", cwd=tmp_path)
    doctor = _run_installed(installed, "doctor", "--config", "missing.toml", cwd=tmp_path)
    where = subprocess.run(
        [sys.executable, "-c", "import relay; print(relay.__file__)"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(installed)},
        capture_output=True, text=True, timeout=60, check=False)

    # THEN the subcommands are there, the doctor reports the missing file with exit 1,
    # and the modules come from the installed copy
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith("usage: relay ")
    assert "{run,doctor,service}" in helped.stdout
    assert doctor.returncode == 1, doctor.stderr
    assert doctor.stdout.splitlines()[0] == "FAIL  config          config file missing.toml " \
                                            "does not exist"
    assert where.stdout.strip().startswith(str(installed))


# ---- run and the example file ---------------------------------------------------------------
def test_run_exits_2_on_a_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                     ) -> None:
    bad = tmp_path / "relay.toml"
    bad.write_text("company_id = 0\n")

    assert main(["run", "--config", str(bad)]) == 2
    assert "invalid setting company_id" in capsys.readouterr().err


def test_the_example_config_is_valid_and_names_every_setting() -> None:
    # GIVEN relay/relay.example.toml, which operators copy
    config = load_config(str(EXAMPLE), {})
    written = set(tomllib.loads(EXAMPLE.read_text()))
    commented = set(re.findall(r"^#\s*([a-z_]+)\s*=", EXAMPLE.read_text(), re.MULTILINE))

    # THEN it validates, and every setting is in it (optional ones commented out)
    assert config.aws_profile == "procore-sage-relay"
    assert written | commented == set(AgentConfig.model_fields)
    assert commented == {"endpoint_url", "sage_database_url"}


def test_each_setting_of_the_example_has_a_comment_above_it() -> None:
    lines = EXAMPLE.read_text().splitlines()
    uncommented = []
    for number, line in enumerate(lines):
        match = re.match(r"^#?\s*([a-z_]+)\s*=", line)
        if match and not line.startswith("#") and not lines[number - 1].startswith("#"):
            # a setting right under another is covered by the comment above the pair
            if not re.match(r"^[a-z_]+\s*=", lines[number - 1]):
                uncommented.append(match.group(1))
    assert uncommented == []


# ---- which file, which profile --------------------------------------------------------------
def test_the_config_file_is_the_flag_then_relay_config_then_the_services_file(
        tmp_path: Path) -> None:
    service_file = tmp_path / "ProcoreSageRelay" / "relay.toml"
    env = {"ProgramData": str(tmp_path)}

    assert resolve_config_path("given.toml", {**env, "RELAY_CONFIG": "env.toml"}) == (
        "given.toml")
    assert resolve_config_path(None, {**env, "RELAY_CONFIG": "env.toml"}) == "env.toml"
    # the service's file counts on Windows, once it exists; elsewhere: environment only
    assert resolve_config_path(None, env, platform="win32") is None
    service_file.parent.mkdir()
    service_file.write_text("")
    assert resolve_config_path(None, env, platform="win32") == str(service_file)
    assert resolve_config_path(None, env, platform="linux") is None


def test_the_agents_session_is_built_from_its_profile(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a config naming a profile, overridden by RELAY_AWS_PROFILE
    import boto3

    made: list[dict[str, Any]] = []
    real_session = boto3.Session

    def recording_session(**kwargs: Any) -> Any:
        made.append(kwargs)
        return real_session(region_name=kwargs.get("region_name"))

    monkeypatch.setattr(boto3, "Session", recording_session)
    path = tmp_path / "relay.toml"
    path.write_text(EXAMPLE.read_text().replace("C:/ProgramData/ProcoreSageRelay",
                                                tmp_path.as_posix()))
    config = load_config(str(path), {"RELAY_AWS_PROFILE": "relay-roles-anywhere"})

    # WHEN the agent is opened as `relay run` opens it
    agent = open_agent(config)
    agent.close()

    # THEN its SQS client came from a session of that profile
    assert made == [{"profile_name": "relay-roles-anywhere", "region_name": "us-east-1"}]
    assert config.aws_profile == "relay-roles-anywhere"
