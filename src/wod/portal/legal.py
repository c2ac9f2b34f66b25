"""The terms and privacy pages: Markdown from the content layers (``pages/terms.fr.md``, then
``pages/terms.md``), else wod's own text, with the branding's names filled in."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from markdown_it import MarkdownIt
from markupsafe import Markup

from wod.i18n import DEFAULT
from wod.settings import Settings

PAGES = ("terms", "privacy")
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_jinja = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


@dataclass(frozen=True)
class LegalText:
    title: str
    html: Markup


def source(name: str, language: str, layers: list[Path]) -> Path:
    """The file that holds page ``name`` in ``language``: the later layer first, the
    language's own file before the generic one, wod's own text last."""
    candidates = []
    for layer in reversed(layers):
        candidates += [layer / "pages" / f"{name}.{language}.md", layer / "pages" / f"{name}.md"]
    own = Path(str(files("wod.portal") / "legal"))
    candidates += [own / f"{name}.{language}.md", own / f"{name}.{DEFAULT}.md"]
    return next(path for path in candidates if path.is_file())


@lru_cache(maxsize=32)
def _render(path: Path, mtime: float, values: tuple[tuple[str, str], ...]) -> LegalText:
    text = _jinja.from_string(path.read_text(encoding="utf-8")).render(dict(values))
    lines = text.lstrip().splitlines()
    title = lines[0].lstrip("#").strip() if lines and lines[0].startswith("#") else ""
    body = "\n".join(lines[1:]) if title else text
    return LegalText(title, Markup(_markdown.render(body)))  # noqa: S704 - raw html is off


def render(name: str, language: str, settings: Settings) -> LegalText:
    """Page ``name`` in ``language``: its first ``# heading`` is the title. The text may use
    ``{{ organisation }}``, ``{{ platform }}``, ``{{ contact }}`` and ``{{ website }}``."""
    path = source(name, language, list(settings.content.paths))
    branding = settings.branding
    values = (
        ("organisation", branding.name),
        ("platform", branding.wod_name),
        ("contact", branding.sender),
        ("website", branding.url),
    )
    return _render(path, path.stat().st_mtime, values)
