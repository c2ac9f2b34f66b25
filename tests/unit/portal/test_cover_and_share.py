"""The drawn covers and the Mastodon server a person types."""

from __future__ import annotations

from xml.etree import ElementTree

from wod.portal.cover_art import cover_colours, workshop_cover
from wod.portal.share import host_of


def test_a_cover_is_the_same_for_a_slug_and_differs_between_slugs() -> None:
    assert cover_colours("WKSHP-A") == cover_colours("WKSHP-A")
    assert len({cover_colours(f"WKSHP-{n}") for n in range(20)}) > 15
    assert workshop_cover("WKSHP-A", "A") == workshop_cover("WKSHP-A", "A")


def test_a_cover_is_well_formed_svg_with_the_name_escaped_and_no_script() -> None:
    svg = workshop_cover(
        "WKSHP-X",
        '<script>alert("x")</script> & a very long name indeed, '
        "that takes more than three lines to write out in full",
    )
    root = ElementTree.fromstring(svg)  # noqa: S314 - our own output
    texts = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert texts[0].startswith('<script>alert("x")')
    assert len(texts) == 3 and texts[-1].endswith("…")
    assert b"<script" not in svg and b"href" not in svg.replace(b"url(#g)", b"")


def test_a_mastodon_server_is_read_as_a_bare_host_name() -> None:
    assert host_of("mastodon.social") == "mastodon.social"
    assert host_of(" https://Fosstodon.org/ ") == "fosstodon.org"
    assert host_of("@ada@hachyderm.io") == "hachyderm.io"
    for bad in [
        "",
        "localhost",
        "evil.org/path",
        "evil.org:8080",
        "a b.org",
        "javascript:x",
        "http://",
        "x.y.z-",
    ]:
        assert host_of(bad) is None, bad
