"""The fault tests start real ``wod api`` processes, SMTP relays and database servers and break
them; they take minutes (marked ``faults``). A failed one shows the end of the logs of the
processes it started (``*.log`` in its folder), like tests/e2e."""

from __future__ import annotations

from tests.e2e.conftest import pytest_runtest_makereport

__all__ = ["pytest_runtest_makereport"]
