"""Registrations: ``POST /api/v1/registrations`` (anyone), then the participant's own routes
(manage token) which admins may use too (admin token)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from wod import i18n
from wod.api.schemas import RegistrationCreate, RegistrationCreated, RegistrationPublic
from wod.errors import Forbidden, NotFound
from wod.services import registrations
from wod.services.registrations import RegistrationRequest, RegistrationStatus
from wod.web.deps import Authenticated, Caller, Ctx, RowId, client_address
from wod.web.problems import problem_responses

router = APIRouter(tags=["registrations"])

_REGISTER_REFUSALS = problem_responses(
    400,
    404,
    408,
    409,
    413,
    422,
    429,
    meaning={
        404: "`workshop_not_found`: no active workshop with that slug.",
        409: "`already_registered`: the email has a live registration (its manage link is "
        "emailed to it); `workshop_full`: no seat left.",
        422: "`invalid_input`: a field missing, of the wrong type, too long, empty, with control "
        "characters, an invalid email, or an unknown field, with `errors`; `terms_not_accepted`: "
        "`accept_terms` is false; `email_rejected`: a disposable-email or denied domain.",
        429: "`rate_limited`: too many attempts for this email or from this address; "
        "`Retry-After` gives the seconds to wait.",
    },
)
#: The answers of a participant's routes that the manage token or admin token may not give.
_READ_REFUSALS = problem_responses(
    401, 404, 422, meaning={404: "`not_found`: no such registration, or not the token's."}
)
_ACT_REFUSALS = problem_responses(
    401,
    403,
    404,
    409,
    422,
    meaning={
        403: "`forbidden`: a `viewer` admin token.",
        404: "`not_found`: no such registration, or not the token's.",
        409: "`invalid_state`: the registration is not running (or, to extend, its workshop "
        "cannot be extended or it was extended already).",
    },
)


@router.post(
    "/registrations",
    status_code=201,
    response_model=RegistrationCreated,
    responses=_REGISTER_REFUSALS,
)
def create_registration(
    ctx: Ctx, body: RegistrationCreate, request: Request
) -> RegistrationCreated:
    """Register for a workshop: a seat is reserved and the emails follow. With
    `registration.confirm_email`, the registration is `unconfirmed` instead: no seat is held
    until the address confirms through the link it is emailed (the same request again answers
    that registration and sends the link again)."""
    registration = registrations.register(
        ctx,
        RegistrationRequest(
            workshop=body.workshop,
            email=body.email,
            name=body.name,
            company=body.company,
            accept_terms=body.accept_terms,
            language=body.language or i18n.current(),
        ),
        client=client_address(request),
    )
    return RegistrationCreated(
        id=registration.id,
        workshop=body.workshop.strip(),
        status=registration.state,
        created_at=registration.created_at,
    )


def _public(status: RegistrationStatus) -> RegistrationPublic:
    return RegistrationPublic.model_validate(status, from_attributes=True)


@router.get(
    "/registrations/{registration_id}", response_model=RegistrationPublic, responses=_READ_REFUSALS
)
def get_registration(ctx: Ctx, caller: Authenticated, registration_id: RowId) -> RegistrationPublic:
    """A registration's status (its manage token, or an admin or viewer token)."""
    if not caller.may_read(registration_id):
        raise NotFound(f"No registration {registration_id}.")
    return _public(registrations.get_status(ctx, registration_id))


@router.post(
    "/registrations/{registration_id}/end",
    response_model=RegistrationPublic,
    responses=_ACT_REFUSALS,
)
def end_registration(ctx: Ctx, caller: Authenticated, registration_id: RowId) -> RegistrationPublic:
    """End a running workshop now; the seat is cleaned and the final email follows."""
    _check_act(caller, registration_id)
    status = registrations.end_now(ctx, registration_id, by_admin=caller.role is not None)
    return _public(status)


@router.post(
    "/registrations/{registration_id}/extend",
    response_model=RegistrationPublic,
    responses=_ACT_REFUSALS,
)
def extend_registration(
    ctx: Ctx, caller: Authenticated, registration_id: RowId
) -> RegistrationPublic:
    """Extend a running workshop once by ``registration.extend_by``."""
    _check_act(caller, registration_id)
    return _public(registrations.extend(ctx, registration_id))


def _check_act(caller: Caller, registration_id: int) -> None:
    if caller.may_act(registration_id):
        return
    if caller.may_read(registration_id):
        raise Forbidden("A viewer token cannot change registrations.")
    raise NotFound(f"No registration {registration_id}.")
