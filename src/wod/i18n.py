"""Languages: every participant-facing text (pages, emails, refusals) goes through gettext.

The catalogues are ``wod/locale/<lang>/LC_MESSAGES/messages.po``, read with Babel when first
needed (no compile step). English is the source language. The current language is a context
variable: the web layer sets it per request (:class:`wod.web.language.LanguageMiddleware`), the
outbox per email (:func:`use`), so ``gettext`` anywhere — Python code or Jinja2's
``{% trans %}`` — answers in it.

This is the core: it imports no web framework, and Babel only when a catalogue other than
the source language is read or a date is formatted, so that a process that never translates
(the backend agent) never loads it.
"""

from __future__ import annotations

import contextvars
import gettext as _gettext
import io
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, available_timezones

if TYPE_CHECKING:
    import jinja2

#: The languages that ship complete, with their own names (for the switch).
LANGUAGES: Mapping[str, str] = {"en": "English", "fr": "Français"}
DEFAULT = "en"
COOKIE = "wod_lang"
QUERY = "lang"

_current: contextvars.ContextVar[str] = contextvars.ContextVar("wod_language", default=DEFAULT)


def catalogue_path(language: str) -> Path:
    return Path(str(files("wod") / "locale" / language / "LC_MESSAGES" / "messages.po"))


@cache
def translations(language: str) -> _gettext.NullTranslations:
    """The compiled catalogue of ``language`` (English and unknown languages: the source)."""
    path = catalogue_path(language)
    if language == DEFAULT or not path.is_file():
        return _gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with path.open("rb") as po:
        catalog = read_po(po, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)


def current() -> str:
    """The language of the request or email being handled."""
    return _current.get()


@contextmanager
def use(language: str | None) -> Iterator[str]:
    """Run a block in ``language`` (an unknown one falls back to the default)."""
    chosen = language if language is not None and language in LANGUAGES else DEFAULT
    token = _current.set(chosen)
    try:
        yield chosen
    finally:
        _current.reset(token)


def gettext(message: str, /, **variables: Any) -> str:
    """``message`` in the current language, ``%(name)s`` placeholders filled from ``variables``
    (the form Jinja2's new-style gettext calls too)."""
    text = translations(_current.get()).gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, /, **variables: Any) -> str:
    """Singular or plural by ``n``, in the current language; ``%(num)s`` is ``n``."""
    text = translations(_current.get()).ngettext(singular, plural, n)
    return text % {"num": n, **variables}


_ = gettext


def install(env: jinja2.Environment) -> None:
    """Give an environment's templates ``{% trans %}``, ``_()`` and ``ngettext()`` in the
    current language (Jinja2 fills the placeholders itself, escaping them in HTML)."""
    env.add_extension("jinja2.ext.i18n")
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda message: translations(_current.get()).gettext(message),
        lambda singular, plural, n: translations(_current.get()).ngettext(singular, plural, n),
        newstyle=True,
    )


def N_(message: str) -> str:
    """Mark a string for the catalogues where it is defined; translate it where it is shown."""
    return message


def when(moment: datetime, *, language: str | None = None, zone: str | None = None) -> str:
    """A date and time as people of the current language write it, in UTC; with a time zone
    (a valid :func:`time_zone`), first in that zone and then in UTC beside it."""
    from babel.dates import format_datetime

    locale = language or _current.get()
    pattern = "HH:mm 'UTC', d MMM y" if locale == "fr" else "HH:mm 'UTC' 'on' d MMM y"
    utc = format_datetime(moment, pattern, tzinfo=None, locale=locale)
    if not zone or time_zone(zone) in (None, "UTC"):
        return utc
    local = "HH:mm, d MMM y" if locale == "fr" else "HH:mm 'on' d MMM y"
    there = format_datetime(moment, local, tzinfo=ZoneInfo(zone), locale=locale)
    return f"{there} ({zone}) · {utc}"


#: The longest time zone name accepted (the IANA names are far shorter).
ZONE_MAX = 64


def time_zone(name: str) -> str | None:
    """``name`` when it is a time zone of the IANA database (as browsers name them, e.g.
    ``Europe/Paris``); None otherwise (never raises)."""
    name = name.strip()
    if not name or len(name) > ZONE_MAX or name not in _zones():
        return None
    return name


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones() | {"UTC"})


# --------------------------------------------------------------------------- negotiation


def parse_accept_language(header: str) -> list[str]:
    """The primary language tags of an ``Accept-Language`` header, best first."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _sep, params = part.strip().partition(";")
        tag = tag.strip().lower()
        if not tag:
            continue
        quality = 1.0
        for param in params.split(";"):
            key, _eq, value = param.strip().partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            ranked.append((-quality, position, tag.split("-")[0]))
    return [tag for _q, _p, tag in sorted(ranked)]


def negotiate(*, chosen: str | None, cookie: str | None, accept: str | None) -> str:
    """The language of a request: an explicit choice, then the remembered one, then the
    browser's preference, then the default."""
    for candidate in (chosen, cookie):
        if candidate is not None and candidate in LANGUAGES:
            return candidate
    for tag in parse_accept_language(accept or ""):
        if tag == "*":
            return DEFAULT
        if tag in LANGUAGES:
            return tag
    return DEFAULT
