"""``wod.content.readme``: the README table of a content repository."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import SAMPLE_CONTENT
from tests.factories import make_workshop
from wod.content.layers import Content
from wod.content.readme import END, START, markdown_block, read_rows, with_block


def test_one_row_per_workshop_with_links_relative_to_the_readme(tmp_path: Path) -> None:
    rows, problems = read_rows(Content([SAMPLE_CONTENT]))
    assert problems == []
    block = markdown_block(rows, SAMPLE_CONTENT)
    lines = block.splitlines()
    assert lines[0] == START and lines[-1] == END
    assert "| Workshop | Folder | Duration | Presenter | Categories | Active |" in lines
    assert (
        "| Python 101: a first, gentle taste of Python | [`WKSHP-Python101`](WKSHP-Python101/) "
        "| 2 h | Maya Lindqvist | Open Source, Programming | yes |"
    ) in lines
    from_parent = markdown_block(rows, SAMPLE_CONTENT.parent)
    assert "(content/WKSHP-Shell101/)" in from_parent


def test_the_later_layer_wins_and_broken_workshops_are_left_out(tmp_path: Path) -> None:
    public, private = tmp_path / "public", tmp_path / "private"
    make_workshop(public, "WKSHP-A", (1, 2))
    make_workshop(private, "WKSHP-A", (1, 2), presenter="Private | Ada", active=False)
    broken = make_workshop(private, "WKSHP-B", (3, 4))
    (broken / "wod.yml").write_text((broken / "wod.yml").read_text().replace("2", '"two"', 1))
    rows, problems = read_rows(Content([public, private]))
    assert [r.folder for r in rows] == [private / "WKSHP-A"]
    assert [p.field for p in problems] == ["duration"]
    block = markdown_block(rows, tmp_path)
    assert "| A | [`WKSHP-A`](private/WKSHP-A/) | 2 h | Private \\| Ada | Test | no |" in block


def test_the_block_replaces_its_old_self_and_nothing_else() -> None:
    old = f"# My workshops\n\nIntro.\n\n{START}\nold table\n{END}\n\n## More\n"
    new_block = f"{START}\nnew table\n{END}\n"
    assert with_block(old, new_block) == (
        f"# My workshops\n\nIntro.\n\n{START}\nnew table\n{END}\n\n## More\n"
    )
    assert with_block(with_block(old, new_block), new_block) == with_block(old, new_block)


def test_the_block_is_appended_or_makes_the_file() -> None:
    block = f"{START}\nt\n{END}\n"
    assert with_block("# Mine\n", block) == f"# Mine\n\n{block}"
    assert with_block(None, block) == block
    assert with_block("", block) == block
