"""The agent installs and runs from its own files and ``relay/requirements.txt`` alone.

The agent's distribution is ``relay/`` plus ``chalicelib/__init__.py`` and
``chalicelib/relay_protocol.py`` (see docs/decisions.md). These tests copy exactly those
files to a fresh folder and import them in a separate interpreter that refuses the
cloud-only packages (Chalice, Powertools, moto, pydantic-settings), and they check that
every third-party module the agent's files import comes from a pinned requirement.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AGENT_REQUIREMENTS = ROOT / "relay" / "requirements.txt"
# What is copied beside Sage (docs/relay-agent.md, "Install beside Sage").
AGENT_PACKAGE = ROOT / "relay"
AGENT_FILES = (ROOT / "chalicelib" / "__init__.py", ROOT / "chalicelib" / "relay_protocol.py")
# Installed with the cloud (requirements.txt) or the tests, never on the agent's machine.
CLOUD_ONLY = ("chalice", "aws_lambda_powertools", "moto", "pydantic_settings")
AGENT_MODULES = ("relay.__main__", "relay.agent", "relay.config", "relay.journal",
                 "relay.doctor", "relay.credentials", "relay.runtime", "relay.windows_service",
                 "relay.dist", "chalicelib.relay_protocol")
# Imported by the agent's files but deliberately not pinned in relay/requirements.txt.
OPTIONAL_MODULES = {
    "pyodbc": "only for a real Sage SQL Server database: a native module built against the "
              "machine's ODBC driver manager, installed beside Sage with its ODBC driver",
    # pywin32 (the Windows service): pinned with a `; sys_platform == "win32"` marker, so
    # pip installs it on Windows only and it is absent here.
    "servicemanager": "pywin32, Windows only (relay/windows_service.py)",
    "win32service": "pywin32, Windows only (relay/windows_service.py)",
    "win32serviceutil": "pywin32, Windows only (relay/windows_service.py)",
}

# Runs in the child interpreter: refuse the cloud-only packages before anything imports.
_REFUSE_CLOUD_ONLY = """
import sys
sys.path.insert(0, {dist!r})
BLOCKED = {blocked!r}


class RefuseCloudOnly:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"{{name}} is not installed beside Sage", name=name)
        return None


sys.meta_path.insert(0, RefuseCloudOnly())
"""


def _pep503(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_lines(path: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def _pins(path: Path) -> dict[str, str]:
    """name (normalised) -> pinned version, for every ``name[extras]==version`` line."""
    pins = {}
    for line in _requirement_lines(path):
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;]+)"
                             r"(\s*;.+)?", line)
        if match:
            pins[_pep503(match.group(1))] = match.group(3)
    return pins


def _agent_sources() -> list[Path]:
    return [*sorted(AGENT_PACKAGE.rglob("*.py")), ROOT / "chalicelib" / "relay_protocol.py"]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_imports(tree: ast.AST) -> set[str]:
    """Top-level names of absolute imports, skipping ``if TYPE_CHECKING:`` blocks."""
    found: set[str] = set()
    pending = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            pending.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.partition(".")[0])
        pending.extend(ast.iter_child_nodes(node))
    return found


def _third_party_imports() -> dict[str, list[str]]:
    """module -> the agent files importing it, leaving out the stdlib and our packages."""
    ours = {"relay", "chalicelib", "__future__"}
    modules: dict[str, list[str]] = {}
    for source in _agent_sources():
        tree = ast.parse(source.read_text(), filename=str(source))
        for module in _runtime_imports(tree) - ours - sys.stdlib_module_names:
            modules.setdefault(module, []).append(str(source.relative_to(ROOT)))
    return modules


@pytest.fixture
def agent_dist(tmp_path: Path) -> Path:
    """The agent's files alone, as copied beside Sage."""
    dist = tmp_path / "agent"
    shutil.copytree(AGENT_PACKAGE, dist / "relay",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for source in AGENT_FILES:
        target = dist / source.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return dist


def _run_without_cloud(dist: Path, body: str) -> subprocess.CompletedProcess[str]:
    script = _REFUSE_CLOUD_ONLY.format(dist=str(dist), blocked=CLOUD_ONLY) + body
    # -I: no PYTHONPATH, no current directory on sys.path; only the copied files are seen.
    return subprocess.run([sys.executable, "-I", "-c", script], cwd=dist,
                          capture_output=True, text=True, timeout=120, check=False)


def test_agent_modules_import_without_cloud_packages(agent_dist: Path) -> None:
    # GIVEN only the agent's files, and an interpreter that refuses the cloud-only packages
    body = f"""
import importlib
for name in {AGENT_MODULES!r}:
    module = importlib.import_module(name)
    assert module.__file__.startswith({str(agent_dist)!r}), (name, module.__file__)
for name in {CLOUD_ONLY!r}:  # the guard itself works: a cloud-only package is refused
    try:
        importlib.import_module(name)
    except ModuleNotFoundError:
        continue
    raise AssertionError(name + " was importable")
print("imported", len({AGENT_MODULES!r}))
"""
    # WHEN the agent's modules are imported
    done = _run_without_cloud(agent_dist, body)

    # THEN they all load from the copied files
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"imported {len(AGENT_MODULES)}"


def test_agent_cli_help_runs_without_cloud_packages(agent_dist: Path) -> None:
    # GIVEN the same interpreter; WHEN `python -m relay --help` runs in it
    body = """
import runpy
sys.argv = ["relay", "--help"]
runpy.run_module("relay", run_name="__main__", alter_sys=True)
"""
    done = _run_without_cloud(agent_dist, body)

    # THEN argparse prints the usage with the run command and exits 0
    assert done.returncode == 0, done.stderr
    assert "usage: python -m relay" in done.stdout
    assert "run" in done.stdout


def test_every_third_party_import_is_a_pinned_agent_requirement() -> None:
    # GIVEN the agent's pinned requirements and the installed module -> distribution map
    assert AGENT_REQUIREMENTS.exists(), "relay/requirements.txt is missing"
    pinned = set(_pins(AGENT_REQUIREMENTS))
    providers = importlib.metadata.packages_distributions()

    # WHEN every third-party import in the agent's files is traced to its distribution
    unprovided = {}
    for module, files in sorted(_third_party_imports().items()):
        if module in OPTIONAL_MODULES:
            continue
        distributions = {_pep503(name) for name in providers.get(module, [])}
        if not distributions & pinned:
            unprovided[module] = (sorted(distributions) or ["not installed"], files)

    # THEN each one is provided by a requirement of relay/requirements.txt
    assert unprovided == {}, "add these to relay/requirements.txt (or OPTIONAL_MODULES)"


def test_optional_modules_are_not_pinned() -> None:
    # An optional module is installed by hand beside Sage; pinning it would break CI.
    pinned = set(_pins(AGENT_REQUIREMENTS))
    assert {_pep503(module) for module in OPTIONAL_MODULES} & pinned == set()


def test_agent_requirements_pin_exact_versions() -> None:
    # GIVEN relay/requirements.txt; THEN each line is `name==version`, nothing else (but
    # the Windows-only marker of pywin32)
    lines = _requirement_lines(AGENT_REQUIREMENTS)
    assert lines, "relay/requirements.txt lists no requirement"
    loose = [line for line in lines
             if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*(\[[^\]]*\])?==[0-9][^\s,;]*"
                                 r"(\s*;\s*sys_platform\s*==\s*\"win32\")?", line)]
    assert loose == [], "pin exact versions (name==version), no includes or ranges"


def test_agent_pins_match_the_cloud_and_dev_pins() -> None:
    # GIVEN the agent's pins and the cloud's (requirements.txt) and tests' pins
    agent = _pins(AGENT_REQUIREMENTS)
    others = {**_pins(ROOT / "requirements-dev.txt"), **_pins(ROOT / "requirements.txt")}

    # THEN a package pinned in both places has one version, and `make test` installs ours
    assert {name: (version, others[name]) for name, version in agent.items()
            if name in others and others[name] != version} == {}
    assert "-r relay/requirements.txt" in _requirement_lines(ROOT / "requirements-dev.txt")


def test_pip_skips_the_windows_only_pin_elsewhere() -> None:
    # GIVEN the agent's requirements with pywin32 marked Windows-only; WHEN pip reads them
    # here (a dry run, offline: everything else is already installed)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-index",
         "--disable-pip-version-check", "-r", str(AGENT_REQUIREMENTS)],
        capture_output=True, text=True, timeout=120, check=False)

    # THEN it accepts the file and ignores pywin32 by its marker
    assert done.returncode == 0, done.stderr
    assert "Ignoring pywin32: markers 'sys_platform == \"win32\"'" in done.stdout
    assert _pins(AGENT_REQUIREMENTS)["pywin32"] == "312"
