from pathlib import Path

import pytest

from tests.conftest import SAMPLE_CONTENT
from wod.content.layers import is_workshop_folder
from wod.content.wodyml import WodYml, parse_wod_yml
from wod.errors import ContentProblem

FULL = """%YAML 1.1
---
name: Demo
description: A demo.
category: ['Open Source']
duration: 2
workshopImg: ''
badgeImg: ''
presenter: Ada
role: Tester
avatar: ''
replayLink: ''
replayId: 3
active: true
capacity: 6
priority: 1
range: [52,57]
reset: false
ldap: false
varpass: false
compile: false
beta: false
"""


def parse(tmp_path: Path, text: str) -> tuple[WodYml | None, list[ContentProblem]]:
    path = tmp_path / "wod.yml"
    path.write_text(text)
    return parse_wod_yml(path)


def parsed(tmp_path: Path, text: str) -> WodYml:
    """The model of a ``wod.yml`` expected to have no error."""
    spec, problems = parse(tmp_path, text)
    assert spec is not None, problems
    return spec


@pytest.mark.parametrize(
    "folder", sorted(p.name for p in SAMPLE_CONTENT.iterdir() if is_workshop_folder(p))
)
def test_sample_files_have_no_problem(folder: str) -> None:
    spec, problems = parse_wod_yml(SAMPLE_CONTENT / folder / "wod.yml")
    assert problems == []
    assert spec is not None and spec.seat_range is not None
    # WKSHP-SQL101 needs an appliance, which `wod up` has not: it ships inactive
    assert spec.active is (folder != "WKSHP-SQL101")


def test_complete_file(tmp_path: Path) -> None:
    spec, problems = parse(tmp_path, FULL)
    assert problems == []
    assert spec is not None
    assert spec.seat_range == (52, 57)
    assert spec.categories == ["Open Source"]
    assert spec.capacity == 6
    assert spec.replay_id == 3
    assert spec.compile == []


def test_dash_range_is_accepted_with_a_warning_naming_the_line(tmp_path: Path) -> None:
    spec, problems = parse(tmp_path, FULL.replace("range: [52,57]", "range: [1980-1985]"))
    assert spec is not None and spec.seat_range == (1980, 1985)
    (problem,) = problems
    assert problem.warning and problem.field == "range" and problem.line == 17
    assert str(problem).startswith(f"{tmp_path / 'wod.yml'}:17: range: warning:")


def test_tab_after_colon_is_a_warning(tmp_path: Path) -> None:
    spec, problems = parse(tmp_path, FULL.replace("duration: 2", "duration:\t3"))
    assert spec is not None and spec.duration == 3
    (problem,) = problems
    assert problem.warning and problem.line == 6 and "tab" in problem.message


@pytest.mark.parametrize(
    ("written", "line"),
    [
        ("duration: \t3", "duration: 2"),  # a space then a tab: refused by YAML itself
        ("duration:\t 3", "duration: 2"),
        ("duration: \t \t3", "duration: 2"),
        ("duration: 3 \t", "duration: 2"),  # trailing
        ("duration: 3\t# three hours", "duration: 2"),  # before a comment
        ("category: ['Open Source',\t 'Linux']", "category: ['Open Source']"),
        ("category: ['Open Source', \t'Linux']", "category: ['Open Source']"),
    ],
)
def test_whitespace_slips_are_read_as_spaces_with_a_warning(
    tmp_path: Path, written: str, line: str
) -> None:
    spec, problems = parse(tmp_path, FULL.replace(line, written))
    assert spec is not None, problems
    assert spec.duration == 3 or spec.categories == ["Open Source", "Linux"]
    (problem,) = problems
    assert (
        problem.warning
        and problem.field == "yaml"
        and problem.line == FULL.splitlines().index(line) + 1
    )
    assert str(problem).startswith(f"{tmp_path / 'wod.yml'}:{problem.line}: yaml: warning: tab")


def test_tabs_inside_quotes_and_comments_are_left_alone(tmp_path: Path) -> None:
    text = FULL.replace("description: A demo.", 'description: "a,\tb"  # c,\td')
    text = text.replace("name: Demo", "name: 'it''s:\tfine'")
    spec, problems = parse(tmp_path, text)
    assert problems == []
    assert spec is not None and spec.description == "a,\tb" and spec.name == "it's:\tfine"


def test_an_apostrophe_in_plain_text_does_not_hide_a_slip(tmp_path: Path) -> None:
    spec, problems = parse(tmp_path, FULL.replace("role: Tester", "role: Ada's,\ttester"))
    assert spec is not None and spec.role == "Ada's, tester"
    assert [p.line for p in problems] == [10]


def test_keys_missing_in_older_files_get_defaults_and_warnings(tmp_path: Path) -> None:
    text = "name: Old\ndescription: x\nactive: true\nrange: [1,4]\n"
    spec, problems = parse(tmp_path, text)
    assert spec is not None
    assert spec.duration == 4 and spec.capacity == 4 and spec.reset is False
    missing = {p.field for p in problems if "missing" in p.message}
    assert {"duration", "capacity", "category", "compile", "replayId"} <= missing
    assert all(p.warning for p in problems)


def test_string_booleans_and_compile_list(tmp_path: Path) -> None:
    text = FULL.replace("reset: false", "reset: 'true'").replace(
        "compile: false", "compile: 'a.sh, b.sh'"
    )
    spec, problems = parse(tmp_path, text)
    assert spec is not None and spec.reset is True and spec.compile == ["a.sh", "b.sh"]
    assert [p.field for p in problems] == ["reset"]


@pytest.mark.parametrize(
    ("old", "new", "field", "line"),
    [
        ("duration: 2", "duration: two", "duration", 6),
        ("active: true", "active: maybe", "active", 14),
        ("category: ['Open Source']", "category: 3", "category", 5),
        ("range: [52,57]", "range: [57,52]", "range", 17),
        ("range: [52,57]", "range: lots", "range", 17),
        ("capacity: 6", "capacity: -1", "capacity", 15),
        ("name: Demo", "name: ''", "name", 3),
    ],
)
def test_wrong_values_are_errors_with_file_field_and_line(
    tmp_path: Path, old: str, new: str, field: str, line: int
) -> None:
    spec, problems = parse(tmp_path, FULL.replace(old, new))
    assert spec is None
    errors = [p for p in problems if not p.warning]
    assert [(p.field, p.line) for p in errors] == [(field, line)]


def test_capacity_beyond_the_range_is_a_warning(tmp_path: Path) -> None:
    spec, problems = parse(tmp_path, FULL.replace("capacity: 6", "capacity: 20"))
    assert spec is not None
    assert [(p.field, p.warning) for p in problems] == [("capacity", True)]


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    spec, problems = parse(tmp_path, FULL.replace("role: Tester", "role: [Tester"))
    assert spec is None
    assert problems[0].field == "yaml" and problems[0].line is not None


def test_unknown_and_duplicate_keys_are_warnings(tmp_path: Path) -> None:
    spec, problems = parse(tmp_path, FULL + "colour: blue\npriority: 2\n")
    assert spec is not None and spec.priority == 2
    assert {(p.field, p.warning) for p in problems} == {("colour", True), ("priority", True)}


def test_extendable_defaults_to_yes_even_when_written_empty(tmp_path: Path) -> None:
    assert parsed(tmp_path, FULL).extendable is True
    assert parsed(tmp_path, FULL + "extendable:\n").extendable is True
    assert parsed(tmp_path, FULL + "extendable: false\n").extendable is False


@pytest.mark.parametrize(
    ("pool", "message"),
    [
        ("warm: 7", "a pool of 7 warm seats is larger than the workshop's 6 seats"),
        ("warm: -1", "must not be negative"),
        ("warm: many", "whole number"),
    ],
)
def test_a_warm_pool_beyond_the_seats_is_an_error(tmp_path: Path, pool: str, message: str) -> None:
    spec, problems = parse(tmp_path, FULL + pool + "\n")
    assert spec is None
    errors = [p for p in problems if not p.warning]
    assert [p.field for p in errors] == ["warm"] and message in errors[0].message


def test_a_warm_pool_within_the_seats_is_read(tmp_path: Path) -> None:
    spec, problems = parse(tmp_path, FULL + "warm: 6\n")
    assert spec is not None and spec.warm == 6 and not problems
    spec, _ = parse(tmp_path, FULL)
    assert spec is not None and spec.warm == 0


def test_idle_timeout_is_minutes_and_optional(tmp_path: Path) -> None:
    spec, problems = parse(tmp_path, FULL + "idle_timeout: 30\n")
    assert spec is not None and spec.idle_timeout == 30 and not problems
    spec, problems = parse(tmp_path, FULL + "idle_timeout: 0\n")  # off
    assert spec is not None and spec.idle_timeout == 0 and not problems
    spec, problems = parse(tmp_path, FULL)
    assert spec is not None and spec.idle_timeout is None and not problems


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-5", "must be 0 (off) or a positive number of minutes, got -5"),
        ("120", "120 minutes is not shorter than the workshop's duration (120 minutes)"),
        ("soon", "expected a whole number, got 'soon'"),
        ("true", "expected a whole number, got True"),
    ],
)
def test_a_bad_idle_timeout_is_an_error_naming_the_file_and_field(
    tmp_path: Path, value: str, message: str
) -> None:
    spec, problems = parse(tmp_path, FULL + f"idle_timeout: {value}\n")
    assert spec is None
    (problem,) = [p for p in problems if not p.warning]
    assert problem.field == "idle_timeout" and message in problem.message
    assert str(problem).startswith(f"{tmp_path / 'wod.yml'}:") and "idle_timeout" in str(problem)
