"""Dependencies of the routes, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from wod.context import AppContext
from wod.db.models import Location
from wod.errors import NotAuthenticated
from wod.services.locations import location_for_token

_bearer = HTTPBearer(auto_error=False)


def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]


def get_location(
    ctx: Ctx,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Location:
    """The location whose agent token is presented."""
    if credentials is None:
        raise NotAuthenticated("A location token is required (Authorization: Bearer …).")
    with ctx.db.read() as session:
        location = location_for_token(session, credentials.credentials)
    if location is None:
        raise NotAuthenticated("This location token is not valid.")
    return location


AgentLocation = Annotated[Location, Depends(get_location)]
