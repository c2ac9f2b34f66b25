"""``POST /api/v1/registrations``."""

from __future__ import annotations

from fastapi import APIRouter, Request

from wod.api.deps import Ctx
from wod.api.schemas import RegistrationCreate, RegistrationCreated
from wod.services.registration import RegistrationRequest, register

router = APIRouter(tags=["registrations"])


@router.post("/registrations", status_code=201, response_model=RegistrationCreated)
def create_registration(
    ctx: Ctx, body: RegistrationCreate, request: Request
) -> RegistrationCreated:
    """Register for a workshop: a seat is reserved and the emails follow."""
    registration = register(
        ctx,
        RegistrationRequest(
            workshop=body.workshop,
            email=body.email,
            name=body.name,
            company=body.company,
            accept_terms=body.accept_terms,
        ),
    )
    request.app.state.wake()
    return RegistrationCreated(
        id=registration.id,
        workshop=body.workshop.strip(),
        status=registration.state,
        created_at=registration.created_at,
    )
