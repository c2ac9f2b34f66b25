"""The bed's own tests boot real hosts (root, ~1 min): they run when asked for by path
(``pytest tests/bed``) or with ``WOD_TESTBED_TESTS=1``, and are skipped in a plain run of the
whole suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
OPT_IN = "WOD_TESTBED_TESTS"


def _asked_for(config: pytest.Config) -> bool:
    if os.environ.get(OPT_IN) == "1":
        return True
    for arg in config.args:
        path = Path(arg.split("::", 1)[0]).resolve()
        if path == HERE or HERE in path.parents:
            return True
    return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the bed's tests unless they were asked for, or when not root."""
    if os.geteuid() != 0:
        reason = "the test bed needs root (namespaces, cgroups, mounts)"
    elif not _asked_for(config):
        reason = f"boots real hosts: run `pytest tests/bed` or set {OPT_IN}=1"
    else:
        return
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.skip(reason=reason))
