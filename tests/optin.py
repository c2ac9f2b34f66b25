"""Slow tests that run only when asked for (the test bed's, the deployment's)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def asked_for(config: pytest.Config, folder: Path, variable: str) -> bool:
    """Whether this run asked for the tests of ``folder``: ``variable=1`` in the environment,
    or ``folder`` (or a path inside it) among pytest's arguments."""
    if os.environ.get(variable) == "1":
        return True
    for arg in config.args:
        path = Path(arg.split("::", 1)[0]).resolve()
        if path == folder or folder in path.parents:
            return True
    return False
