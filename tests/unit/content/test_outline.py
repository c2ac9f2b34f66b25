"""The outline of a workshop: its lab notebooks' first headings, in numbered order."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import SAMPLE_CONTENT
from tests.factories import code, markdown, notebook
from wod.content.outline import clean_title, notebook_outline, notebook_title
from wod.content.wodyml import parse_wod_yml


def test_titles_come_in_numbered_order_without_the_welcome(tmp_path: Path) -> None:
    for name, heading in [
        ("0-ReadMeFirst.ipynb", "# Welcome"),
        ("10-WKSHP-Ten.ipynb", "# Ten"),
        ("2-WKSHP-Two.ipynb", "Intro text\n\n## Two: **bold** and `code`"),
        ("1-WKSHP-One.ipynb", "# Lab 1, student{{ STDID }}! 🎉"),
    ]:
        (tmp_path / name).write_text(notebook(markdown(heading, "m"), code("x = 1", "c")))
    (tmp_path / "3-broken.ipynb").write_text("{ not json")
    (tmp_path / "4-no-heading.ipynb").write_text(notebook(markdown("just text", "m")))
    assert notebook_outline(tmp_path) == ["Lab 1, student!", "Two: bold and code", "Ten"]


def test_a_title_is_plain_text() -> None:
    assert clean_title("[Lab](https://example.org) {% if x %}one{% endif %} ") == "Lab one"
    assert notebook_title({"cells": [{"cell_type": "code", "source": "# a comment"}]}) is None
    assert notebook_title({"cells": [{"cell_type": "markdown", "source": ["# A", "\n"]}]}) == "A"


def test_the_sample_workshops_have_an_outline() -> None:
    titles = notebook_outline(SAMPLE_CONTENT / "WKSHP-Python101")
    assert titles[:2] == [
        "Lab 1: values, variables, types and strings",
        "Lab 2: lists, dictionaries, loops and functions",
    ]


def test_learn_and_prerequisites_are_lists_of_text(tmp_path: Path) -> None:
    path = tmp_path / "wod.yml"
    path.write_text((SAMPLE_CONTENT / "WKSHP-Python101" / "wod.yml").read_text() + "extra: 1\n")
    spec, _ = parse_wod_yml(path)
    assert spec is not None and len(spec.learn) == 4 and spec.prerequisites
    path.write_text("name: X\nrange: [1, 2]\nlearn: {a: 1}\n")
    spec, problems = parse_wod_yml(path)
    assert spec is None
    assert any(p.field == "learn" and "list of text" in p.message for p in problems)
    path.write_text("name: X\nrange: [1, 2]\nprerequisites: Python\n")
    spec, problems = parse_wod_yml(path)
    assert spec is not None and spec.prerequisites == ["Python"]
