"""The deploy tests. Those marked ``bed`` deploy to real hosts of the test bed (root, minutes):
they run when asked for by path (``pytest tests/deploy``) or with ``WOD_DEPLOY_TESTS=1``, and
are skipped in a plain run of the whole suite. The others (init, inventory, backup) always run
when ansible-core is installed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.optin import asked_for

HERE = Path(__file__).resolve().parent
OPT_IN = "WOD_DEPLOY_TESTS"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "bed: deploys to real hosts of the test bed (slow, root)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the bed's deploy tests unless they were asked for, or when not root."""
    if os.geteuid() != 0:
        reason = "deploys to the test bed, which needs root"
    elif not asked_for(config, HERE, OPT_IN):
        reason = f"deploys to real hosts: run `pytest tests/deploy` or set {OPT_IN}=1"
    else:
        return
    for item in items:
        if item.get_closest_marker("bed") is not None:
            item.add_marker(pytest.mark.skip(reason=reason))
