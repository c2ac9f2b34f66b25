"""Dependencies of the routes, as ``Annotated`` aliases: the context, the app's state, and who
is calling (a location's agent, a participant's manage token, an admin token)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from wod.context import AppContext
from wod.db.models import Location
from wod.domain.limits import ID_MAX
from wod.domain.roles import Role
from wod.domain.secrets import ADMIN_PREFIX, MANAGE_PREFIX
from wod.errors import NotAuthenticated
from wod.services.admin.tokens import role_for_token
from wod.services.provisioning import agent_location
from wod.services.registrations import registration_id_for_token
from wod.services.registrations.lab import registration_id_for_lab_token
from wod.web.state import WebState, web_state

#: A row id or a seat number in a path: a positive integer the database can hold.
RowId = Annotated[int, Path(ge=1, le=ID_MAX)]

_bearer = HTTPBearer(auto_error=False)
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def get_state(request: Request) -> WebState:
    return web_state(request)


State = Annotated[WebState, Depends(get_state)]


def get_ctx(request: Request) -> AppContext:
    return web_state(request).ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]


def get_location(ctx: Ctx, credentials: Bearer) -> Location:
    """The location whose agent token is presented."""
    if credentials is None:
        raise NotAuthenticated("A location token is required (Authorization: Bearer …).")
    location = agent_location(ctx, credentials.credentials)
    if location is None:
        raise NotAuthenticated("This location token is not valid.")
    return location


AgentLocation = Annotated[Location, Depends(get_location)]


@dataclass(frozen=True)
class Caller:
    """Who calls a participant route: the holder of one registration's manage token, or an
    admin token with its role."""

    registration_id: int | None = None
    role: Role | None = None

    def may_read(self, registration_id: int) -> bool:
        return self.role is not None or self.registration_id == registration_id

    def may_act(self, registration_id: int) -> bool:
        return self.role is Role.admin or self.registration_id == registration_id


def get_caller(ctx: Ctx, credentials: Bearer) -> Caller:
    """The manage token (``wodm_…``) or admin token (``woda_…``) presented."""
    if credentials is None:
        raise NotAuthenticated("A manage token or an admin token is required.")
    token = credentials.credentials
    if token.startswith(MANAGE_PREFIX + "_"):
        registration_id = registration_id_for_token(ctx, token)
        if registration_id is not None:
            return Caller(registration_id=registration_id)
    elif token.startswith(ADMIN_PREFIX + "_"):
        role = role_for_token(ctx, token)
        if role is not None:
            return Caller(role=role)
    raise NotAuthenticated("This token is not valid.")


Authenticated = Annotated[Caller, Depends(get_caller)]


def get_seat_holder(ctx: Ctx, credentials: Bearer) -> int:
    """The active registration whose seat's lab token (``wods_…``) is presented."""
    if credentials is None:
        raise NotAuthenticated("A seat's lab token is required (Authorization: Bearer …).")
    registration_id = registration_id_for_lab_token(ctx, credentials.credentials)
    if registration_id is None:
        raise NotAuthenticated("This lab token is not valid (or its seat has ended).")
    return registration_id


#: The id of the registration whose seat calls (its lab token).
SeatHolder = Annotated[int, Depends(get_seat_holder)]


def client_address(request: Request) -> str:
    """The caller's address (behind trusted proxies, uvicorn puts the forwarded one here)."""
    return request.client.host if request.client else "unknown"
