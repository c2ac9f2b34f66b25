"""The terms and privacy pages: Markdown from the content layers (``pages/terms.fr.md``, then
``pages/terms.md``), else wod's own text, with the branding's names filled in."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from markdown_it import MarkdownIt
from markupsafe import Markup

from wod.i18n import DEFAULT
from wod.settings import Settings

PAGES = ("terms", "privacy")
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_jinja = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


class LegalPageError(Exception):
    """A page of the content that cannot be rendered: which file, and what is wrong."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


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
    try:
        text = _jinja.from_string(path.read_text(encoding="utf-8")).render(dict(values))
    except TemplateError as exc:
        line = getattr(exc, "lineno", None) or _template_line(exc)
        where = f"line {line}: " if line else ""
        known = ", ".join(name for name, _value in values)
        raise LegalPageError(path, f"{where}{exc.message} (known names: {known})") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise LegalPageError(path, f"cannot be read: {exc}") from exc
    lines = text.lstrip().splitlines()
    title = lines[0].lstrip("#").strip() if lines and lines[0].startswith("#") else ""
    body = "\n".join(lines[1:]) if title else text
    return LegalText(title, Markup(_markdown.render(body)))  # noqa: S704 - raw html is off


def _template_line(exc: BaseException) -> int | None:
    """The line of the template a rendering error happened on (Jinja2 rewrites the traceback
    so that the template's frames carry its own line numbers)."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def render(name: str, language: str, settings: Settings) -> LegalText:
    """Page ``name`` in ``language``: its first ``# heading`` is the title. The text may use
    ``{{ organisation }}``, ``{{ platform }}``, ``{{ contact }}`` and ``{{ website }}``;
    :class:`LegalPageError` says what is wrong with a page that cannot be rendered."""
    path = source(name, language, list(settings.content.paths))
    branding = settings.branding
    values = (
        ("organisation", branding.name),
        ("platform", branding.wod_name),
        ("contact", branding.sender),
        ("website", branding.url),
    )
    return _render(path, path.stat().st_mtime, values)
