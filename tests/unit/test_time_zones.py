"""Times in the participant's time zone beside UTC: only IANA names are taken, in both
languages."""

from __future__ import annotations

from datetime import UTC, datetime

from wod import i18n

MOMENT = datetime(2026, 12, 2, 0, 44, tzinfo=UTC)


def test_a_time_is_shown_in_its_zone_beside_utc() -> None:
    assert i18n.when(MOMENT, language="en") == "00:44 UTC on 2 Dec 2026"
    assert i18n.when(MOMENT, language="en", zone="Europe/Paris") == (
        "01:44 on 2 Dec 2026 (Europe/Paris) · 00:44 UTC on 2 Dec 2026"
    )
    assert i18n.when(MOMENT, language="fr", zone="America/New_York") == (
        "19:44, 1 déc. 2026 (America/New_York) · 00:44 UTC, 2 déc. 2026"
    )
    assert i18n.when(MOMENT, language="en", zone="UTC") == "00:44 UTC on 2 Dec 2026"
    assert i18n.when(MOMENT, language="en", zone="Mars/Olympus") == "00:44 UTC on 2 Dec 2026"


def test_only_known_time_zones_are_taken() -> None:
    assert i18n.time_zone(" Asia/Kolkata ") == "Asia/Kolkata"
    assert i18n.time_zone("UTC") == "UTC"
    for bad in ("", "Nowhere/Land", "../../etc/passwd", "Europe/" + "x" * 100, "europe/paris"):
        assert i18n.time_zone(bad) is None, bad
