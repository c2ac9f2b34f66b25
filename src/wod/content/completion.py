"""Completion of a seat: executed code cells over the workshop's code cells (ARCHITECTURE §7.5).

A code cell counts when it has source; it is done when the seat's copy has an execution count
and the shipped notebook had none (cells shipped pre-executed count neither way). Cells are
matched by id when both sides have ids, else by position. A deleted notebook counts as nothing
done; notebooks the participant added do not count.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

Notebook = Mapping[str, Any]


def _code_cells(notebook: Notebook) -> list[Mapping[str, Any]]:
    cells = notebook.get("cells", [])
    return [c for c in cells if isinstance(c, Mapping) and c.get("cell_type") == "code"]


def _source(cell: Mapping[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _executed(cell: Mapping[str, Any] | None) -> bool:
    return cell is not None and cell.get("execution_count") is not None


def _counts(cell: Mapping[str, Any]) -> bool:
    """Whether a shipped code cell counts: it has source and was not shipped executed."""
    return bool(_source(cell).strip()) and not _executed(cell)


def countable_cells(shipped: Notebook) -> list[tuple[str | None, int]]:
    """The shipped notebook's code cells that count, as (cell id or None, position among its
    code cells): what a seat's lab needs to show the same completion while it runs."""
    return [
        (cell["id"] if isinstance(cell.get("id"), str) else None, position)
        for position, cell in enumerate(_code_cells(shipped))
        if _counts(cell)
    ]


def count_cells(shipped: Notebook, seat: Notebook | None) -> tuple[int, int]:
    """``(done, total)`` for one notebook."""
    seat_cells = _code_cells(seat) if seat is not None else []
    by_id = {c["id"]: c for c in seat_cells if isinstance(c.get("id"), str)}
    done = total = 0
    for position, cell in enumerate(_code_cells(shipped)):
        if not _counts(cell):
            continue
        total += 1
        cell_id = cell.get("id")
        if isinstance(cell_id, str) and by_id:
            twin = by_id.get(cell_id)
        else:
            twin = seat_cells[position] if position < len(seat_cells) else None
        done += _executed(twin)
    return done, total


def completion_percent(shipped: Mapping[str, Notebook], seat: Mapping[str, Notebook | None]) -> int:
    """Percentage (0-100, rounded down) over every shipped notebook, keyed by relative path."""
    done = total = 0
    for path, notebook in shipped.items():
        d, t = count_cells(notebook, seat.get(path))
        done += d
        total += t
    return (done * 100) // total if total else 0


def load_notebook(text: str) -> Notebook | None:
    """A notebook's JSON, or None when the participant left it unreadable."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
