"""``wod.content.scaffold``: a new workshop folder that the check passes as it is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_CONTENT
from wod.content.check import check_sources, sources_for_paths
from wod.content.layers import Content
from wod.content.scaffold import (
    NewWorkshop,
    check_slug,
    create_workshop,
    display_name,
    free_range,
    next_priority,
    taken_ranges,
)
from wod.content.wodyml import FIELDS, parse_wod_yml
from wod.errors import InvalidInput
from wod.settings import Settings


def new(slug: str = "WKSHP-MyTopic", kernel: str = "python3", **extra: object) -> NewWorkshop:
    values: dict[str, object] = {
        "slug": slug,
        "name": display_name(slug),
        "presenter": "Ada Lovelace",
        "role": "Author",
        "duration": 3,
        "seat_range": (21, 40),
        "kernel": kernel,
        "priority": 3,
    }
    values.update(extra)
    return NewWorkshop(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("slug", ["WKSHP-MyTopic", "WKSHP-a_b-1", "WKSHP-X"])
def test_good_folder_names_pass(slug: str) -> None:
    check_slug(slug)


@pytest.mark.parametrize(
    "slug", ["MyTopic", "WKSHP-", "wkshp-x", "WKSHP-a b", "WKSHP-é", "CHLG-X", "WKSHP-x/y", ""]
)
def test_bad_folder_names_are_refused_with_the_rule(slug: str) -> None:
    with pytest.raises(InvalidInput, match="WKSHP- followed by letters, digits"):
        check_slug(slug)


def test_display_name_splits_words() -> None:
    assert display_name("WKSHP-MyTopic") == "My Topic"
    assert display_name("WKSHP-k8s_basics-2") == "k8s basics 2"
    assert display_name("WKSHP-Python101") == "Python101"


@pytest.mark.parametrize(
    ("taken", "size", "expected"),
    [
        ([], 20, (1, 20)),
        ([(1, 10), (11, 20)], 20, (21, 40)),
        ([(30, 40)], 20, (1, 20)),
        ([(30, 40)], 30, (41, 70)),  # 1-29 is too small
        ([(5, 8), (1, 3)], 1, (4, 4)),  # unsorted, a one-seat gap
        ([(1, 50), (10, 20)], 5, (51, 55)),  # nested ranges
    ],
)
def test_free_range_is_the_lowest_gap_that_fits(
    taken: list[tuple[int, int]], size: int, expected: tuple[int, int]
) -> None:
    assert free_range(taken, size) == expected


def test_free_range_refuses_no_seats() -> None:
    with pytest.raises(InvalidInput, match="at least 1"):
        free_range([], 0)


def test_taken_ranges_count_broken_and_hidden_workshops(tmp_path: Path) -> None:
    public, private = tmp_path / "public", tmp_path / "private"
    (public / "WKSHP-A").mkdir(parents=True)
    (public / "WKSHP-A" / "wod.yml").write_text("name: A\nrange: [1, 5]\n")
    (private / "WKSHP-A").mkdir(parents=True)  # hides the public one
    (private / "WKSHP-A" / "wod.yml").write_text("name: A\nrange: [30, 31]\n")
    (private / "WKSHP-B").mkdir()
    (private / "WKSHP-B" / "wod.yml").write_text("name: B\nduration: two\nrange: [6, 9]\n")
    content = Content([public, private])
    assert taken_ranges(content) == [(1, 5), (6, 9), (30, 31)]
    assert free_range(taken_ranges(content), 20) == (10, 29)


def test_next_priority_puts_it_last() -> None:
    assert next_priority(Content([SAMPLE_CONTENT])) == 4  # after WKSHP-SQL101's 3
    assert next_priority(Content([])) == 1


@pytest.mark.parametrize("kernel", ["python3", "bash", "ir"])
def test_the_new_folder_passes_the_check_without_any_warning(tmp_path: Path, kernel: str) -> None:
    create_workshop(tmp_path, new(kernel=kernel))
    settings = Settings(hub={"kernels": ["python3", "bash", "ir"]})
    report = check_sources(sources_for_paths([tmp_path / "WKSHP-MyTopic"]), settings)
    assert report.problems == []
    names = sorted(p.name for p in (tmp_path / "WKSHP-MyTopic").iterdir())
    assert names == [
        "0-ReadMeFirst.ipynb",
        "1-WKSHP-First-Lab.ipynb",
        "2-WKSHP-Conclusion.ipynb",
        "LICENSE.md",
        "README.md",
        "wod.yml",
    ]


def test_notebooks_name_the_kernel_and_show_the_personalisation(tmp_path: Path) -> None:
    create_workshop(tmp_path, new(kernel="bash"))
    folder = tmp_path / "WKSHP-MyTopic"
    for path in folder.glob("*.ipynb"):
        notebook = json.loads(path.read_text())
        assert notebook["metadata"]["kernelspec"]["name"] == "bash"
        for cell in notebook["cells"]:
            if cell["cell_type"] == "code":
                assert cell["execution_count"] is None and cell["outputs"] == []
    readme = (folder / "0-ReadMeFirst.ipynb").read_text()
    assert "student{{ STDID }}" in readme and "{% raw %}{{ STDID }}{% endraw %}" in readme


def test_wod_yml_has_every_field_each_with_its_comment(tmp_path: Path) -> None:
    create_workshop(tmp_path, new(active=True))
    path = tmp_path / "WKSHP-MyTopic" / "wod.yml"
    lines = path.read_text().splitlines()
    keys = [line.split(":")[0] for line in lines if line and line[0].isalpha()]
    assert keys == list(FIELDS)
    for number, line in enumerate(lines):
        if line and line[0].isalpha():
            assert lines[number - 1].startswith("# "), f"no comment above {line!r}"
    spec, problems = parse_wod_yml(path)
    assert problems == []
    assert spec is not None
    assert (spec.name, spec.presenter, spec.duration) == ("My Topic", "Ada Lovelace", 3)
    assert (spec.seat_range, spec.capacity, spec.active) == ((21, 40), 20, True)


def test_a_name_with_quotes_stays_valid_yaml(tmp_path: Path) -> None:
    create_workshop(tmp_path, new(name='Say "hi": it\'s #1, ok'))
    spec, problems = parse_wod_yml(tmp_path / "WKSHP-MyTopic" / "wod.yml")
    assert problems == [] and spec is not None and spec.name == 'Say "hi": it\'s #1, ok'


def test_an_existing_folder_is_refused_and_left_alone(tmp_path: Path) -> None:
    (tmp_path / "WKSHP-MyTopic").mkdir()
    (tmp_path / "WKSHP-MyTopic" / "notes.txt").write_text("mine")
    with pytest.raises(InvalidInput, match="already exists"):
        create_workshop(tmp_path, new())
    assert [p.name for p in (tmp_path / "WKSHP-MyTopic").iterdir()] == ["notes.txt"]
