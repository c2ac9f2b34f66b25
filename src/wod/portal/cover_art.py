"""Catalogue covers drawn here (SVG) for the workshops without their own ``workshopImg``: the
workshop's name on a gradient whose colours come from its slug, so a cover never changes
between two imports and two workshops rarely look alike."""

from __future__ import annotations

import hashlib
import textwrap
from functools import lru_cache
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 640, 320
LINE_CHARS = 22
MAX_LINES = 3


def cover_colours(slug: str) -> tuple[str, str]:
    """Two dark colours of one family (white text reads on both), from the slug."""
    digest = hashlib.sha256(slug.encode()).digest()
    hue = int.from_bytes(digest[:2], "big") % 360
    shift = 30 + digest[2] % 60
    return f"hsl({hue} 70% 28%)", f"hsl({(hue + shift) % 360} 65% 22%)"


def _lines(name: str, slug: str) -> list[str]:
    title = name.split(":")[0].strip() or slug
    lines = textwrap.wrap(title, width=LINE_CHARS) or [slug]
    if len(lines) > MAX_LINES:
        lines = [
            *lines[: MAX_LINES - 1],
            textwrap.shorten(" ".join(lines[MAX_LINES - 1 :]), LINE_CHARS, placeholder="…"),
        ]
    return lines


@lru_cache(maxsize=256)
def workshop_cover(slug: str, name: str) -> bytes:
    """The cover of a workshop as an SVG document (no script, no external reference)."""
    start, end = cover_colours(slug)
    lines = _lines(name, slug)
    size = 44 if len(lines) < MAX_LINES else 38
    top = HEIGHT / 2 - (len(lines) - 1) * size * 0.6
    texts = "".join(
        f'<text x="40" y="{top + i * size * 1.2:.0f}" font-size="{size}">{escape(line)}</text>'
        for i, line in enumerate(lines)
    )
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}">'
        f'<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">'
        f'<stop offset="0" stop-color="{start}"/><stop offset="1" stop-color="{end}"/>'
        f"</linearGradient></defs>"
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="url(#g)"/>'
        f'<circle cx="{WIDTH - 70}" cy="70" r="120" fill="#fff" fill-opacity=".08"/>'
        f'<circle cx="{WIDTH - 20}" cy="{HEIGHT - 10}" r="90" fill="#fff" fill-opacity=".06"/>'
        f'<g fill="#fff" font-family="system-ui, sans-serif" font-weight="700" '
        f'dominant-baseline="middle">{texts}</g></svg>'
    )
    return svg.encode()
