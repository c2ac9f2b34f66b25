"""What one web app holds for its requests, typed: the process's context and the catalogue
snapshot its pages and api answers are served from."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import HTTPConnection

from wod.context import AppContext
from wod.services.catalogue import CatalogueCache

_KEY = "wod"


@dataclass(frozen=True)
class WebState:
    ctx: AppContext
    catalogue: CatalogueCache


def attach(app: Starlette, state: WebState) -> None:
    """Keep ``state`` on ``app`` for its requests."""
    setattr(app.state, _KEY, state)


def app_state(app: Starlette) -> WebState:
    """The state kept on ``app``."""
    state: WebState = getattr(app.state, _KEY)
    return state


def web_state(connection: HTTPConnection) -> WebState:
    """The state of the app that serves this request."""
    return app_state(connection.app)
