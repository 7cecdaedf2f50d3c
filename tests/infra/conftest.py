"""The infrastructure tests share one worker (xdist group "infra"), so each stage is
packaged once per run (tests/infra/packages.py), not once per worker."""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_itemcollected(item: pytest.Item) -> None:
    # Marked as collected: xdist reads the group into the node id before later hooks
    # (tests/browser/conftest.py says why).
    if Path(__file__).parent in Path(str(item.fspath)).parents:
        item.add_marker(pytest.mark.xdist_group("infra"))
