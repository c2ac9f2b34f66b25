"""The README table of a content repository: one row per workshop of its layers (name, folder,
duration, presenter, categories, active), kept between two markers so that the rest of the
README is the authors' own and a CI can tell whether the table is current.

The original platform's notebooks repository listed its workshops in its README by hand; here
the table is written from the ``wod.yml`` files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from wod.content.layers import Content
from wod.content.wodyml import WodYml, parse_wod_yml
from wod.errors import ContentProblem

START = "<!-- wod workshops catalogue: start (written by `wod workshops catalogue`) -->"
END = "<!-- wod workshops catalogue: end -->"
COLUMNS = ("Workshop", "Folder", "Duration", "Presenter", "Categories", "Active")


@dataclass(frozen=True)
class Row:
    """One workshop of the table."""

    folder: Path
    spec: WodYml


def read_rows(content: Content) -> tuple[list[Row], list[ContentProblem]]:
    """The workshops of the layers (the later layer winning), by folder name, and the errors of
    those whose ``wod.yml`` cannot be read (they are left out of the table)."""
    rows: list[Row] = []
    problems: list[ContentProblem] = []
    for source in content.workshops().values():
        path = source.folder / "wod.yml"
        if not path.is_file():
            problems.append(ContentProblem(str(path), "file", "mandatory file is missing"))
            continue
        spec, found = parse_wod_yml(path)
        if spec is None:
            problems.extend(p for p in found if not p.warning)
            continue
        rows.append(Row(source.folder, spec))
    return rows, problems


def _cell(text: str) -> str:
    """Text that stays inside one cell of a Markdown table."""
    return " ".join(text.split()).replace("|", "\\|")


def _link(folder: Path, base: Path) -> str:
    target = Path(os.path.relpath(folder.resolve(), base.resolve())).as_posix()
    return f"[`{folder.name}`]({target}/)"


def markdown_block(rows: list[Row], base: Path) -> str:
    """The table between its markers; folder links are relative to ``base`` (the README's
    folder)."""
    lines = [
        START,
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for row in rows:
        spec = row.spec
        cells = [
            _cell(spec.name),
            _link(row.folder, base),
            f"{spec.duration} h",
            _cell(spec.presenter),
            _cell(", ".join(spec.categories)),
            "yes" if spec.active else "no",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", END]
    return "\n".join(lines) + "\n"


def with_block(readme: str | None, block: str) -> str:
    """``readme`` with its table replaced by ``block``; the block appended when it has none
    (the authors' text is never touched), or the whole file when there is no README yet."""
    if readme is None or not readme.strip():
        return block
    start, end = readme.find(START), readme.find(END)
    if start != -1 and end > start:
        after = readme[end + len(END) :]
        return readme[:start] + block.rstrip("\n") + after
    return readme.rstrip("\n") + "\n\n" + block
