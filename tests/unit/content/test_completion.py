from typing import Any

from tests.factories import code, markdown
from wod.content.completion import completion_percent, count_cells


def nb(*cells: dict[str, Any]) -> dict[str, Any]:
    return {"cells": list(cells)}


SHIPPED = nb(
    markdown("intro", "m"),
    code("print(1)", "a"),
    code("print(2)", "b"),
    code("   ", "empty"),
    code("print(3)", "pre", count=4),  # shipped already executed: counts neither way
    code("print(4)", "c"),
)


def test_executed_cells_over_runnable_cells() -> None:
    seat = nb(
        markdown("intro", "m"),
        code("print(1)", "a", 1),
        code("print(2)", "b"),
        code("   ", "empty", 2),
        code("print(3)", "pre", 4),
        code("print(4)", "c", 3),
    )
    assert count_cells(SHIPPED, seat) == (2, 3)
    assert completion_percent({"x.ipynb": SHIPPED}, {"x.ipynb": seat}) == 66


def test_matching_by_id_survives_inserted_cells() -> None:
    seat = nb(
        code("mine", "new", 9),
        code("print(1)", "a", 1),
        code("print(2)", "b", 2),
        code("print(4)", "c", 3),
    )
    assert count_cells(SHIPPED, seat) == (3, 3)


def test_without_ids_cells_match_by_position() -> None:
    shipped = {"cells": [{"cell_type": "code", "source": "x", "execution_count": None}] * 2}
    seat = {
        "cells": [
            {"cell_type": "code", "source": "x", "execution_count": 1},
            {"cell_type": "code", "source": "x", "execution_count": None},
        ]
    }
    assert count_cells(shipped, seat) == (1, 2)


def test_deleted_notebook_counts_nothing_and_no_cells_is_zero() -> None:
    assert (
        completion_percent(
            {"x.ipynb": SHIPPED, "y.ipynb": SHIPPED}, {"x.ipynb": SHIPPED, "y.ipynb": None}
        )
        == 0
    )
    assert completion_percent({"z.ipynb": nb(markdown("only text", "m"))}, {}) == 0
