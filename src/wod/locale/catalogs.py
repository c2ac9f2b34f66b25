"""Maintaining the gettext catalogues: extract the messages of the sources, update the ``.po``
files, and check that each language translates every message (``wod i18n update|check``).

Messages come from ``_()``, ``gettext()``, ``ngettext()`` and ``N_()`` calls in the Python
sources, ``{% trans %}`` blocks and ``_()`` calls in the portal's and the emails' templates,
and the default messages of the refusals participants may meet (the first docstring line of
each :class:`wod.errors.Refusal`).
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from wod import __version__, errors
from wod.i18n import DEFAULT, LANGUAGES, catalogue_path

KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
METHODS = [
    ("admin/**", "ignore"),  # the admins' console is in English
    ("**.py", "python"),
    ("portal/templates/**.html", "jinja2"),
    ("mail/templates/**.j2", "jinja2"),
]
JINJA_OPTIONS = {"extensions": "jinja2.ext.i18n", "trimmed": "true"}
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def source_root() -> Path:
    return Path(str(files("wod")))


def template_path() -> Path:
    return source_root() / "locale" / "messages.pot"


def refusal_messages() -> list[str]:
    """The default messages of the refusals (each class's first docstring line)."""
    found = []
    for _name, cls in inspect.getmembers(errors, inspect.isclass):
        if issubclass(cls, errors.Refusal) and cls.__doc__:
            found.append(cls.__doc__.strip().splitlines()[0])
    return sorted(found)


def extract() -> Catalog:
    """Every message of the sources, as a template catalogue."""
    catalog = Catalog(project="wod", version=__version__, fuzzy=False)
    root = source_root()
    options = {"**.html": JINJA_OPTIONS, "**.j2": JINJA_OPTIONS}
    for filename, lineno, message, comments, context in extract_from_dir(
        str(root), METHODS, options, KEYWORDS, comment_tags=("Translators:",)
    ):
        catalog.add(
            message,
            None,
            [(filename, lineno)],
            auto_comments=comments,
            context=context,
            flags=("python-format",) if _PLACEHOLDER.search(_text(message)) else (),
        )
    for message in refusal_messages():
        catalog.add(message, None, [("errors.py", 0)])
    return catalog


def _text(message: Any) -> str:
    return " ".join(message) if isinstance(message, tuple | list) else str(message)


def read(language: str) -> Catalog:
    with catalogue_path(language).open("rb") as po:
        return read_po(po, locale=language)


def update() -> dict[str, int]:
    """Write the template and merge it into each language's catalogue. Returns, per language,
    how many messages still need a translation."""
    template = extract()
    path = template_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        write_po(out, template, width=100, omit_header=False, sort_output=True)
    missing = {}
    for language in LANGUAGES:
        if language == DEFAULT:
            continue
        po_path = catalogue_path(language)
        if po_path.is_file():
            catalog = read(language)
        else:
            po_path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=language, project="wod", version=__version__)
        catalog.update(template, update_header_comment=False)
        catalog.obsolete.clear()
        with po_path.open("wb") as out:
            write_po(out, catalog, width=100, sort_output=True, ignore_obsolete=True)
        missing[language] = len(problems(language, template))
    return missing


@dataclass(frozen=True)
class Problem:
    language: str
    message: str
    reason: str

    def __str__(self) -> str:
        return f"{self.language}: {self.message!r}: {self.reason}"


def problems(language: str, template: Catalog | None = None) -> list[Problem]:
    """What keeps ``language`` from being complete: untranslated, fuzzy, or with other
    placeholders than the source."""
    template = template or extract()
    path = catalogue_path(language)
    if not path.is_file():
        return [Problem(language, str(path), "no catalogue")]
    catalog = read(language)
    found = []
    for message in template:
        if not message.id:
            continue
        key = _text(message.id)
        translated = catalog.get(message.id, context=message.context)
        if translated is None:
            found.append(Problem(language, key, "missing"))
            continue
        raw = translated.string
        strings = tuple(str(s or "") for s in (raw if isinstance(raw, tuple | list) else (raw,)))
        if not all(strings):
            found.append(Problem(language, key, "not translated"))
        elif translated.fuzzy:
            found.append(Problem(language, key, "fuzzy"))
        elif not _placeholders_match(key, strings, plural=isinstance(message.id, tuple)):
            found.append(Problem(language, key, "placeholders differ from the source"))
    return found


def _placeholders_match(source: str, strings: tuple[str, ...], *, plural: bool) -> bool:
    """A translation uses the source's placeholders: all of them, or, for a plural form, no
    other (one form may say "one" instead of ``%(num)s``)."""
    expected = set(_PLACEHOLDER.findall(source))
    for string in strings:
        used = set(_PLACEHOLDER.findall(string))
        if not used <= expected or (not plural and used != expected):
            return False
    return True
