"""Level badges of repeat participants (ARCHITECTURE §4)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Level:
    number: int
    name: str
    count: int  # distinct completed workshops needed


LEVELS = (
    Level(1, "Apprentice", 3),
    Level(2, "Expert", 5),
    Level(3, "Hero", 7),
    Level(4, "Super Hero", 10),
    Level(5, "Legend", 15),
)


def level(number: int) -> Level | None:
    return next((lv for lv in LEVELS if lv.number == number), None)


def badge_earned(completion: int | None, min_completion: int) -> bool:
    """Whether a completion earns the workshop badge (and counts towards the levels)."""
    return completion is not None and completion >= min_completion
