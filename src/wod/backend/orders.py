"""Jobs built on the hub host itself (``wod test-action``, mail orders): the workshop's flags
come from its ``wod.yml`` in the content, not from the api."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import get_args

from wod.content.layers import Content
from wod.content.variables import content_folder_name
from wod.content.wodyml import parse_wod_yml
from wod.errors import ContentError, ContentProblem, FieldProblem, InvalidInput
from wod.wire import JobOrder, SeatOrder, VerbName, WorkshopOrder

VERBS: tuple[VerbName, ...] = get_args(VerbName)
_local_ids = itertools.count(1)


@dataclass(frozen=True)
class LocalOrder:
    """A job built on the hub host, as the api would send it; a RESET may name a range."""

    job: JobOrder
    seats: tuple[int, int] | None = None


def workshop_flags(content: Content, slug: str) -> WorkshopOrder:
    """What a job tells the agent about a workshop, read from the content."""
    # a challenge's own wod.yml (its range, its flags), else its workshop's
    source = content.workshop(slug) or content.workshop(content_folder_name(slug))
    if source is None:
        raise InvalidInput([FieldProblem("workshop", f"no workshop {slug} in the content")])
    spec, problems = parse_wod_yml(source.folder / "wod.yml")
    if spec is None:
        raise ContentError(
            [p for p in problems if not p.warning]
            or [ContentProblem(str(source.folder), "wod.yml", "cannot be read")]
        )
    low, high = spec.seat_range or (0, -1)
    return WorkshopOrder(
        id=None,
        slug=slug,
        seat_min=low,
        seat_max=high,
        reset=spec.reset,
        varpass=spec.varpass,
        ldap=spec.ldap,
        compile=spec.compile,
        monoappliance=spec.monoappliance,
        multiappliance=spec.multiappliance,
    )


def parse_seats(text: str) -> tuple[int, int]:
    """``N`` or ``min,max``."""
    parts = text.split(",")
    if len(parts) > 2 or not all(p.strip().isdigit() for p in parts):
        raise InvalidInput([FieldProblem("seats", f"{text!r} is not N or MIN,MAX")])
    low, high = int(parts[0]), int(parts[-1])
    if not 1 <= low <= high:
        raise InvalidInput([FieldProblem("seats", f"{text!r} is not a range of seat numbers")])
    return low, high


def local_orders(
    content: Content,
    verb: VerbName,
    slug: str | None,
    seats: tuple[int, int],
    registration: int | None = None,
) -> list[LocalOrder]:
    """The job order(s) of one request: one per seat, one for a RESET range."""
    if verb not in VERBS:
        raise InvalidInput([FieldProblem("verb", f"{verb!r} is not one of {', '.join(VERBS)}")])
    low, high = seats
    if verb == "PURGE" and low != high:
        raise InvalidInput([FieldProblem("seats", "PURGE takes one seat, not a range")])
    workshop = workshop_flags(content, slug) if slug and verb != "PURGE" else None
    if workshop is not None and not workshop.seat_min <= low <= high <= workshop.seat_max:
        span = f"{workshop.seat_min}-{workshop.seat_max}"
        raise InvalidInput(
            [FieldProblem("seats", f"{low}-{high} is outside the range {span} of {slug}")]
        )
    if verb in ("CREATE", "CLEANUP") and workshop is None:
        raise InvalidInput([FieldProblem("workshop", f"{verb} needs a workshop")])

    def order(number: int | None, span: tuple[int, int] | None) -> LocalOrder:
        seat = SeatOrder(number=number, username=f"student{number}") if number else None
        job = JobOrder(
            id=-next(_local_ids),
            verb=verb,
            attempt=1,
            seat=seat,
            registration=registration,
            workshop=workshop,
        )
        return LocalOrder(job, span)

    if verb == "RESET" and low != high:
        return [order(None, (low, high))]
    return [order(n, None) for n in range(low, high + 1)]
