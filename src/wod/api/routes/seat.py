"""A seat's own routes: ``/api/v1/seat/…`` with the seat's lab token (its JupyterLab
extension): the status, Extend, End now of the registration holding the seat."""

from __future__ import annotations

from fastapi import APIRouter

from wod.api.schemas import SeatStatusPublic
from wod.services.registrations.lab import LabStatus, lab_end, lab_extend, lab_status
from wod.web.deps import Ctx, SeatHolder
from wod.web.problems import problem_responses

router = APIRouter(prefix="/seat", tags=["seat"])

_NO_SEAT = "`not_authenticated`: no lab token, an unknown one, or its seat has ended."
_READ_REFUSALS = problem_responses(401, meaning={401: _NO_SEAT})
_ACT_REFUSALS = problem_responses(
    401,
    409,
    meaning={
        401: _NO_SEAT,
        409: "`invalid_state`: the registration is not running (or, to extend, its workshop "
        "cannot be extended or it was extended already).",
    },
)


def _public(status: LabStatus) -> SeatStatusPublic:
    return SeatStatusPublic.model_validate(status, from_attributes=True)


@router.get("/status", response_model=SeatStatusPublic, responses=_READ_REFUSALS)
def seat_status(ctx: Ctx, holder: SeatHolder) -> SeatStatusPublic:
    """The seat's time left by the server's clock, its state and the badge rule."""
    return _public(lab_status(ctx, holder))


@router.post("/extend", response_model=SeatStatusPublic, responses=_ACT_REFUSALS)
def seat_extend(ctx: Ctx, holder: SeatHolder) -> SeatStatusPublic:
    """Extend the running workshop once by ``registration.extend_by``."""
    return _public(lab_extend(ctx, holder))


@router.post("/end", response_model=SeatStatusPublic, responses=_ACT_REFUSALS)
def seat_end(ctx: Ctx, holder: SeatHolder) -> SeatStatusPublic:
    """End the running workshop now: the seat is cleaned and the final email follows."""
    return _public(lab_end(ctx, holder))
