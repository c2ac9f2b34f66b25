"""The FastAPI application: REST api, portal pages, and the background loops."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from wod import __version__, i18n
from wod.api.errors import install_error_handlers
from wod.api.routes import backend, dev, health, registrations, seats, stats, workshops
from wod.api.routes.workshops import to_public
from wod.context import AppContext
from wod.i18n import LanguageMiddleware
from wod.mail.catcher import MailCatcher
from wod.scheduler.loop import Loop, start_loops
from wod.services.catalogue import CatalogueCache, WorkshopView
from wod.settings import Mode

log = logging.getLogger(__name__)


def create_app(ctx: AppContext, *, background: bool = True) -> FastAPI:
    """The api of one process. ``background`` starts the scheduler and outbox loops (and the
    dev mail catcher when enabled) for the lifetime of the app."""
    loops: list[Loop] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        catcher = None
        if background and ctx.settings.dev.mail_catcher:
            smtp = ctx.settings.smtp
            catcher = MailCatcher(ctx.settings.dev.maildir, smtp.host, smtp.port)
            catcher.start()
            log.info("dev mail catcher on %s:%s", smtp.host, smtp.port)
        if background:
            loops.extend(start_loops(ctx))
        try:
            yield
        finally:
            for loop in loops:
                loop.stop()
            if catcher is not None:
                catcher.stop()

    app = FastAPI(
        title="wod",
        version=__version__,
        summary="Hands-on Jupyter-notebook workshops on demand.",
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    app.state.ctx = ctx

    def wake() -> None:
        for loop in loops:
            loop.wake()

    app.state.wake = wake

    def public(view: WorkshopView) -> dict[str, object]:
        return to_public(view, ctx.settings).model_dump(mode="json")

    app.state.catalogue = CatalogueCache(ctx.db, public, ctx.settings.api.catalogue_ttl)
    from wod.admin.web import PATH as ADMIN_PATH

    # the admin console is in English only: its refusals too, whatever the browser asks
    app.add_middleware(LanguageMiddleware, fixed={ADMIN_PATH: i18n.DEFAULT})
    install_error_handlers(app)
    for router in (
        workshops.router,
        registrations.router,
        backend.router,
        stats.router,
        seats.router,
    ):
        app.include_router(router, prefix="/api/v1")
    if ctx.settings.mode is Mode.development:
        app.include_router(dev.router, prefix="/api/v1")
    app.include_router(health.router)

    from wod.admin.routes import router as admin_router
    from wod.portal.pages import router as portal_router

    app.include_router(portal_router)
    app.include_router(admin_router)
    static = files("wod.portal") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    return app
