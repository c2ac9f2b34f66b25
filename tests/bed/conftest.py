"""The bed's own tests boot real hosts (root, ~1 min): they run when asked for by path
(``pytest tests/bed``) or with ``WOD_TESTBED_TESTS=1``, and are skipped in a plain run of the
whole suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.optin import asked_for

HERE = Path(__file__).resolve().parent
OPT_IN = "WOD_TESTBED_TESTS"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the bed's tests unless they were asked for, or when not root."""
    if os.geteuid() != 0:
        reason = "the test bed needs root (namespaces, cgroups, mounts)"
    elif not asked_for(config, HERE, OPT_IN):
        reason = f"boots real hosts: run `pytest tests/bed` or set {OPT_IN}=1"
    else:
        return
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.skip(reason=reason))
