"""A workshop's outline: the title of each lab notebook, read once at import (the workshop page
shows it without opening a notebook per request).

A notebook's title is the first Markdown heading of its cells, with the template expressions,
the inline Markdown and the pictographs taken out (``# Lab 1, student{{ STDID }}! 🎉`` reads
``Lab 1, student!``).
``0-ReadMeFirst.ipynb`` is the welcome, not a lab: it is left out.
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import Any

WELCOME = "0-ReadMeFirst.ipynb"
TITLE_MAX = 200
_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_TEMPLATE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"[*_`~]+")
_NUMBER = re.compile(r"(\d+)")


def _natural(path: Path) -> list[Any]:
    """Sort key: ``2-x`` before ``10-x``."""
    return [int(part) if part.isdigit() else part.casefold() for part in _NUMBER.split(path.name)]


def clean_title(heading: str) -> str:
    """A heading as plain text: no template expression, link syntax or emphasis marks."""
    text = _TEMPLATE.sub("", heading)
    text = _LINK.sub(r"\1", text)
    text = _EMPHASIS.sub("", text)
    # pictographs (emoji) are decoration, and not every device has a font for them
    text = "".join(c for c in text if unicodedata.category(c) != "So" and c != "\ufe0f")
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([,.!?:;])", r"\1", text)
    return text[:TITLE_MAX]


def notebook_title(notebook: Any) -> str | None:
    """The first heading of a notebook's Markdown cells, cleaned, or None."""
    cells = notebook.get("cells", []) if isinstance(notebook, dict) else []
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "markdown":
            continue
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        for match in _HEADING.finditer(text):
            title = clean_title(match[1])
            if title:
                return title
    return None


def notebook_outline(folder: Path) -> list[str]:
    """The titles of the lab notebooks at the top of ``folder``, in their numbered order; a
    notebook that cannot be read or has no heading is left out."""
    titles = []
    for path in sorted(folder.glob("*.ipynb"), key=_natural):
        if path.name == WELCOME:
            continue
        try:
            notebook = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        title = notebook_title(notebook)
        if title is not None:
            titles.append(title)
    return titles
