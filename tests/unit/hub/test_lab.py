"""The seats' lab extension as the hub host feeds it: the seat's lab file, the progress its
server extension counts (the same as the completion at the end), what is installed."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from wod.content.completion import count_cells
from wod.content.render import RenderedFile
from wod.hub import lab, venv
from wod.hub.lab import wod_lab


def cell(source: str, count: int | None = None, cell_id: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"cell_type": "code", "source": source, "execution_count": count}
    if cell_id is not None:
        found["id"] = cell_id
    return found


SHIPPED = {
    "cells": [
        {"cell_type": "markdown", "source": "# Title"},
        cell("print(1)", cell_id="a"),
        cell("", cell_id="b"),  # empty: does not count
        cell("shipped_run()", 3, cell_id="c"),  # shipped executed: does not count
        cell("print(2)", cell_id="d"),
        cell("print(3)", cell_id="e"),
    ]
}


def rendered(notebook: dict[str, Any]) -> list[RenderedFile]:
    data = json.dumps(notebook).encode()
    return [
        RenderedFile(PurePosixPath("1-Lab.ipynb"), Path("1-Lab.ipynb"), data),
        RenderedFile(PurePosixPath("README.md"), Path("README.md"), b"# not a notebook"),
    ]


def seat_home(tmp_path: Path, notebook: dict[str, Any] | None) -> dict[str, Any]:
    item = lab.seat_lab_file("wods_x", "http://api/", "WKSHP-X", rendered(SHIPPED))
    assert item.content is not None
    (tmp_path / lab.LAB_FOLDER).mkdir()
    (tmp_path / lab.LAB_FOLDER / lab.LAB_FILE).write_bytes(item.content)
    if notebook is not None:
        (tmp_path / "WKSHP-X").mkdir()
        (tmp_path / "WKSHP-X" / "1-Lab.ipynb").write_text(json.dumps(notebook))
    found = wod_lab.read_lab(tmp_path)
    assert found is not None
    return found


def test_the_lab_file_names_the_api_and_the_cells_that_count(tmp_path: Path) -> None:
    data = seat_home(tmp_path, None)
    assert data["token"] == "wods_x" and data["api_url"] == "http://api"
    assert data["cells"] == {"1-Lab.ipynb": [["a", 0], ["d", 3], ["e", 4]]}


@pytest.mark.parametrize(
    "seat_cells",
    [
        [cell("print(1)", 1, "a"), cell("print(2)", None, "d"), cell("print(3)", 2, "e")],
        # moved around by the participant: matched by id
        [cell("print(3)", 2, "e"), cell("new()", 5, "z"), cell("print(1)", 1, "a")],
        # no ids on the seat's side: matched by position
        [cell("x", 1), cell(""), cell("y"), cell("z", 4), cell("w", 2)],
        [],
    ],
)
def test_progress_counts_as_the_completion_at_the_end(
    tmp_path: Path, seat_cells: list[dict[str, Any]]
) -> None:
    seat = {"cells": seat_cells}
    done, total = count_cells(SHIPPED, seat)
    progress = wod_lab.progress(tmp_path, seat_home(tmp_path, seat))
    assert (progress["done"], progress["total"]) == (done, total)
    assert progress["percent"] == done * 100 // total


def test_a_deleted_notebook_counts_nothing_done(tmp_path: Path) -> None:
    progress = wod_lab.progress(tmp_path, seat_home(tmp_path, None))
    assert progress == {"done": 0, "total": 3, "percent": 0}


def test_no_lab_file_is_no_seat(tmp_path: Path) -> None:
    assert wod_lab.read_lab(tmp_path) is None
    (tmp_path / lab.LAB_FOLDER).mkdir()
    (tmp_path / lab.LAB_FOLDER / lab.LAB_FILE).write_text("{not json")
    assert wod_lab.read_lab(tmp_path) is None


def test_install_puts_the_extension_and_the_no_news_overrides(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    site.mkdir()
    lab.install_lab(tmp_path, site)
    assert (site / "wod_lab.py").is_file()
    config = tmp_path / "etc/jupyter/jupyter_server_config.d/wod_lab.json"
    assert json.loads(config.read_text())["ServerApp"]["jpserver_extensions"] == {"wod_lab": True}
    overrides = json.loads((tmp_path / "share/jupyter/lab/settings/overrides.json").read_text())
    notification = overrides["@jupyterlab/apputils-extension:notification"]
    assert notification == {"checkForUpdates": False, "fetchNews": "false"}
    if lab.is_built():  # scripts/bootstrap built it
        built = tmp_path / "share/jupyter/labextensions" / lab.EXTENSION_NAME / "package.json"
        assert json.loads(built.read_text())["name"] == lab.EXTENSION_NAME


def test_a_changed_extension_changes_the_environments_stamp(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = venv.venv_stamp(["python3"], None)
    monkeypatch.setattr(venv, "lab_digest", lambda: "0" * 16)
    assert venv.venv_stamp(["python3"], None) != before
