"""``wod.content.check``: seat ranges of workshops that can be live together must not overlap;
a folder can be checked against the other workshops of the content layers."""

from __future__ import annotations

from pathlib import Path

from tests.factories import make_workshop
from wod.content.check import (
    CheckedWorkshop,
    check_in_content,
    check_overlaps,
    in_content,
    sources_for_paths,
)
from wod.content.layers import Content, Layer, WorkshopSource
from wod.content.wodyml import WodYml
from wod.settings import Settings


def workshop(slug: str, seats: tuple[int, int], **fields: object) -> CheckedWorkshop:
    source = WorkshopSource(slug, Path("content") / slug, Layer(0, Path("content")))
    return CheckedWorkshop(source, WodYml(name=slug, seat_range=seats, **fields))  # type: ignore[arg-type]


def test_two_active_workshops_that_overlap_are_an_error() -> None:
    (problem,) = check_overlaps(
        [workshop("WKSHP-A", (1, 10), active=True), workshop("WKSHP-B", (10, 12), active=True)]
    )
    assert not problem.warning and problem.file == "content/WKSHP-B/wod.yml"
    assert problem.message == "[10, 12] overlaps [1, 10] of WKSHP-A"


def test_an_overlap_with_an_inactive_workshop_is_a_warning_that_says_why() -> None:
    (problem,) = check_overlaps(
        [workshop("WKSHP-A", (1, 10), active=True), workshop("WKSHP-B", (5, 6), active=False)]
    )
    assert problem.warning
    assert (
        problem.message
        == "[5, 6] overlaps [1, 10] of WKSHP-A; allowed while WKSHP-B stays inactive"
    )
    (both,) = check_overlaps([workshop("WKSHP-A", (1, 10)), workshop("WKSHP-B", (5, 6))])
    assert both.warning and both.message.endswith("while WKSHP-A or WKSHP-B stays inactive")


def test_workshops_on_distinct_locations_may_overlap() -> None:
    one = workshop("WKSHP-A", (1, 10), active=True, location="hub-a")
    two = workshop("WKSHP-B", (1, 10), active=True, location="hub-b")
    assert check_overlaps([one, two]) == []
    three = workshop(
        "WKSHP-C", (1, 10), active=True, location="hub-c", alternate_locations=["hub-a"]
    )
    assert [p.file for p in check_overlaps([one, two, three])] == ["content/WKSHP-C/wod.yml"]
    anywhere = workshop("WKSHP-D", (10, 10), active=True)  # no location: every location
    assert len(check_overlaps([one, two, anywhere])) == 2


def test_in_content_knows_layers_and_their_folders(tmp_path: Path) -> None:
    layer = tmp_path / "content"
    folder = make_workshop(layer, "WKSHP-A", (1, 2))
    content = Content([layer])
    assert in_content([folder], content) and in_content([layer], content)
    assert not in_content([tmp_path], content)
    assert not in_content([make_workshop(tmp_path / "other", "WKSHP-B", (1, 2))], content)


def test_a_private_folder_is_rendered_with_the_public_layer_variables(tmp_path: Path) -> None:
    public, private = tmp_path / "public", tmp_path / "private"
    make_workshop(public, "WKSHP-A", (1, 10))
    (public / "variables").mkdir()
    (public / "variables" / "all.yml").write_text("REGISTRY: registry.example.org\n")
    folder = make_workshop(private, "WKSHP-B", (11, 12))
    (folder / "x.sh").write_text("docker pull {{ REGISTRY }}/demo\n")
    content = Content([public, private])
    report = check_in_content(sources_for_paths([folder]), Settings(), content)
    assert report.problems == [] and report.compared == 1
