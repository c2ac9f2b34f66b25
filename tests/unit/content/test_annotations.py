"""``wod.content.annotations``: problems as GitHub workflow commands."""

from __future__ import annotations

from pathlib import Path

from wod.content.annotations import github_annotation, relative_path
from wod.errors import ContentProblem


def test_an_error_with_its_line_relative_to_the_base(tmp_path: Path) -> None:
    problem = ContentProblem(str(tmp_path / "WKSHP-A" / "wod.yml"), "duration", "too short", 6)
    assert github_annotation(problem, tmp_path) == (
        "::error file=WKSHP-A/wod.yml,line=6,title=duration::too short"
    )


def test_a_warning_without_line() -> None:
    problem = ContentProblem("WKSHP-A/README.md", "file", "expected file is missing", warning=True)
    assert github_annotation(problem, Path.cwd()) == (
        "::warning file=WKSHP-A/README.md,title=file::expected file is missing"
    )


def test_special_characters_are_escaped() -> None:
    problem = ContentProblem("a,b:c.yml", "x:y", "100% sure\nsecond line, really", 2)
    assert github_annotation(problem, Path.cwd()) == (
        "::error file=a%2Cb%3Ac.yml,line=2,title=x%3Ay::100%25 sure%0Asecond line, really"
    )


def test_paths_outside_the_base_stay_as_they_are(tmp_path: Path) -> None:
    assert relative_path("/elsewhere/wod.yml", tmp_path) == "/elsewhere/wod.yml"
    assert relative_path(str(tmp_path / "a" / ".." / "b.yml"), tmp_path) == "b.yml"
    assert relative_path("content/x.yml", tmp_path) == "content/x.yml"
