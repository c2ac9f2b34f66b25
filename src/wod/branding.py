"""Branding colours made readable: an organisation's colour is kept as it is when white text
on it (and it on white) passes WCAG AA, and darkened just enough when it does not."""

from __future__ import annotations

import re
from functools import lru_cache

AA_RATIO = 4.5
_HEX = re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


def _rgb(color: str) -> tuple[int, int, int]:
    match = _HEX.match(color.strip())
    if match is None:
        raise ValueError(f"{color!r} is not a #rrggbb colour")
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def _luminance(rgb: tuple[int, int, int]) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(first: str, second: str) -> float:
    """The WCAG contrast ratio of two colours (1 to 21)."""
    a, b = sorted((_luminance(_rgb(first)), _luminance(_rgb(second))), reverse=True)
    return (a + 0.05) / (b + 0.05)


@lru_cache(maxsize=64)
def readable_on_white(color: str, ratio: float = AA_RATIO) -> str:
    """``color``, darkened in small steps until it contrasts with white by ``ratio``."""
    r, g, b = _rgb(color)
    for _step in range(100):
        candidate = f"#{r:02x}{g:02x}{b:02x}"
        if contrast(candidate, "#ffffff") >= ratio:
            return candidate
        r, g, b = (int(v * 0.95) for v in (r, g, b))
    return "#000000"
