"""Badge images drawn here (PNG, which every mail client shows): one per workshop without its
own ``badgeImg``, generated from its name, and one per level."""

from __future__ import annotations

import hashlib
import io
import math
import textwrap
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from wod.domain.levels import Level

SIZE = 600
PALETTE = (
    ("#01a982", "#e6f7f2"),
    ("#425563", "#eef1f3"),
    ("#7630ea", "#f1eafd"),
    ("#ff8300", "#fff2e5"),
    ("#0d5265", "#e7f0f2"),
    ("#c54e4b", "#faeceb"),
    ("#00739d", "#e5f3f8"),
    ("#6b8e23", "#f0f4e9"),
)
LEVEL_COLOURS = ("#cd7f32", "#a8a9ad", "#d4af37", "#01a982", "#7630ea")


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _centered(
    draw: ImageDraw.ImageDraw, lines: list[str], size: int, top: float, fill: str
) -> None:
    font = _font(size)
    y = top
    for line in lines:
        left, _, right, bottom = draw.textbbox((0, 0), line, font=font)
        draw.text(((SIZE - (right - left)) / 2, y), line, font=font, fill=fill)
        y += bottom + size * 0.25


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


@lru_cache(maxsize=256)
def workshop_badge(slug: str, name: str) -> bytes:
    """A round badge in a colour chosen from the slug, with the workshop's name."""
    index = int(hashlib.sha256(slug.encode()).hexdigest(), 16) % len(PALETTE)
    strong, light = PALETTE[index]
    image = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((10, 10, SIZE - 10, SIZE - 10), fill=strong)
    draw.ellipse((45, 45, SIZE - 45, SIZE - 45), fill=light)
    draw.ellipse((60, 60, SIZE - 60, SIZE - 60), outline=strong, width=4)
    title = name.split(":")[0].strip() or slug
    lines = textwrap.wrap(title, width=14)[:3]
    _centered(draw, ["WORKSHOP"], 34, 150, strong)
    _centered(draw, lines, 56, 230 - (len(lines) - 1) * 30, "#1f2328")
    _centered(draw, ["COMPLETED"], 34, 420, strong)
    return _png(image)


def _star(cx: float, cy: float, outer: float, inner: float) -> list[tuple[float, float]]:
    points = []
    for i in range(10):
        radius = outer if i % 2 == 0 else inner
        angle = math.pi / 2 + i * math.pi / 5
        points.append((cx + radius * math.cos(angle), cy - radius * math.sin(angle)))
    return points


@lru_cache(maxsize=8)
def level_badge(level: Level) -> bytes:
    """A star badge, one colour per level, with the level's name and count."""
    colour = LEVEL_COLOURS[(level.number - 1) % len(LEVEL_COLOURS)]
    image = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((10, 10, SIZE - 10, SIZE - 10), fill="#1f2328")
    draw.polygon(_star(SIZE / 2, SIZE / 2 - 40, 190, 80), fill=colour)
    _centered(draw, [level.name.upper()], 52, 420, "#ffffff")
    _centered(draw, [f"{level.count} workshops"], 32, 490, colour)
    return _png(image)
