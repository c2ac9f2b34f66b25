"""Languages: negotiation, catalogues complete for every language, translated emails."""

from __future__ import annotations

import typing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from wod import i18n
from wod.api.schemas import RegistrationCreate
from wod.branding import contrast, readable_on_white
from wod.locale import catalogs


@pytest.mark.parametrize(
    ("chosen", "cookie", "accept", "expected"),
    [
        (None, None, None, "en"),
        (None, None, "fr-FR,fr;q=0.9,en;q=0.8", "fr"),
        (None, None, "de-DE, fr;q=0.5, en;q=0.7", "en"),  # best supported by quality
        (None, None, "de, fr;q=0.1", "fr"),
        (None, None, "en;q=0, fr;q=0", "en"),  # q=0: not acceptable; default
        (None, None, "fr;q=garbage, en", "en"),
        (None, "fr", "en", "fr"),  # the remembered choice beats the browser
        ("en", "fr", "fr", "en"),  # an explicit choice beats everything
        ("xx", "yy", "fr", "fr"),  # unknown choices are ignored
    ],
)
def test_negotiation(
    chosen: str | None, cookie: str | None, accept: str | None, expected: str
) -> None:
    assert i18n.negotiate(chosen=chosen, cookie=cookie, accept=accept) == expected


@pytest.mark.parametrize("language", [code for code in i18n.LANGUAGES if code != i18n.DEFAULT])
def test_every_message_is_translated(language: str) -> None:
    """Fails when a catalogue misses a string of the sources or templates (run
    ``wod i18n update`` and translate what it reports)."""
    problems = catalogs.problems(language)
    assert problems == [], "\n".join(str(p) for p in problems)


def test_extraction_finds_templates_code_and_refusals() -> None:
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in catalogs.extract() if m.id}
    assert "Register for the workshop" in ids  # a portal template
    assert "Hello %(name)s," in ids  # an email template
    assert "is required" in ids  # Python code
    assert "%(num)s seat left" in ids  # a plural
    assert "No such workshop is open for registration." in ids  # a refusal's default


def test_a_missing_or_broken_translation_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    template = Catalog()
    template.add("Hello %(name)s,")
    template.add("Goodbye")
    template.add(("%(num)s seat left", "%(num)s seats left"))
    po = Catalog(locale="fr")
    po.add("Hello %(name)s,", "Bonjour %(nom)s,")
    po.add(  # a plural form may say "one" instead of the number
        ("%(num)s seat left", "%(num)s seats left"),
        ("une place", "%(num)s places", "%(num)s places"),
    )
    path = tmp_path / "messages.po"
    with path.open("wb") as out:
        write_po(out, po)
    monkeypatch.setattr(catalogs, "catalogue_path", lambda language: path)
    found = {(p.message, p.reason) for p in catalogs.problems("fr", template)}
    assert found == {
        ("Hello %(name)s,", "placeholders differ from the source"),
        ("Goodbye", "missing"),
    }


def test_gettext_follows_the_current_language() -> None:
    assert i18n.gettext("Workshops") == "Workshops"
    with i18n.use("fr"):
        assert i18n.current() == "fr"
        assert i18n.gettext("Workshops") == "Ateliers"
        assert i18n.ngettext("%(num)s hour", "%(num)s hours", 3) == "3 heures"
        assert i18n.ngettext("%(num)s hour", "%(num)s hours", 1) == "1 heure"
        with i18n.use("xx"):
            assert i18n.current() == "en"
    assert i18n.current() == "en"


def test_dates_in_each_language() -> None:
    moment = datetime(2026, 11, 28, 14, 5, tzinfo=UTC)
    assert i18n.when(moment, language="en") == "14:05 UTC on 28 Nov 2026"
    assert i18n.when(moment, language="fr") == "14:05 UTC, 28 nov. 2026"


def test_the_api_accepts_exactly_the_shipped_languages() -> None:
    field = RegistrationCreate.model_fields["language"]
    literal = next(a for a in typing.get_args(field.annotation) if a is not type(None))
    assert set(typing.get_args(literal)) == set(i18n.LANGUAGES)


def test_branding_colours_stay_readable() -> None:
    assert readable_on_white("#1f2328") == "#1f2328"  # dark enough: unchanged
    fixed = readable_on_white("#01a982")  # the default green fails with white text
    assert contrast("#01a982", "#ffffff") < 4.5 <= contrast(fixed, "#ffffff")
    assert readable_on_white("#ffffff") != "#ffffff"
