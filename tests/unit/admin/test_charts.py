"""The dashboard's charts (each with a table of the same figures) and the vendored Chart.js."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from tests.conftest import ROOT
from wod.admin import charts
from wod.wire import Stats

VENDOR = ROOT / "src" / "wod" / "admin" / "static" / "vendor"


def figures() -> Stats:
    return Stats.model_validate(
        {
            "live_seats": [{"workshop": "WKSHP-A", "location": "local", "count": 2}],
            "registrations_per_day": [
                {"day": "2026-11-25", "count": 3},
                {"day": "2026-11-28", "count": 1},
            ],
            "outcomes": {"live": 2, "ended": 5, "ended_early": 1, "failed": 1},
            "completion": [{"workshop": "WKSHP-A", "mean": 62.5, "count": 4}],
            "badge_levels": [{"level": 1, "name": "Apprentice", "count": 1}],
            "seats": [
                {"location": "local", "state": "free", "count": 18},
                {"location": "local", "state": "ready", "count": 2},
            ],
        }
    )


def test_each_chart_has_a_table_with_the_same_figures() -> None:
    board = charts.build(figures(), datetime(2026, 11, 28, 9, tzinfo=UTC), 7)
    by_id = {c.id: c for c in board.charts}
    days = by_id["registrations"]
    assert days.labels[0] == "2026-11-22" and days.labels[-1] == "2026-11-28"  # 7 whole days
    assert days.series[0].data == [0, 0, 0, 3, 0, 0, 1]  # days without any are zeros
    assert [row[1] for row in days.rows] == days.series[0].data
    assert by_id["outcomes"].series[0].data == [2, 5, 1, 0, 1]  # live … reclaimed idle, failed
    assert by_id["seats"].rows == [["local", 18, 0, 2, 0, 0, 0, 0, 0]]
    assert by_id["completion"].percent and by_id["seats"].stacked
    assert board.totals == {"live": 2, "registrations": 4, "failed": 1}
    json.dumps([c.to_json() for c in board.charts])  # what the script reads


@pytest.mark.parametrize(("asked", "shown"), [(7, 7), (30, 30), (90, 90), (5, 30), (None, 30)])
def test_the_range_is_one_of_the_offered(asked: int | None, shown: int) -> None:
    assert charts.chosen_range(asked) == shown


def test_the_served_chart_js_is_the_version_package_json_pins() -> None:
    """scripts/bootstrap copies Chart.js from node_modules into the package, with its licence."""
    pinned = json.loads((ROOT / "package.json").read_text())["dependencies"]["chart.js"]
    header = (VENDOR / "chart.umd.min.js").read_text()[:300]
    found = re.search(r"Chart\.js v(\d+\.\d+\.\d+)", header)
    assert found is not None and found[1] == pinned
    assert "MIT License" in (VENDOR / "chart.js.LICENSE.md").read_text()
