"""The web application of one api process: the REST api, the portal's pages and the admin
console on one FastAPI app, with the scheduler and outbox loops in the background.

This is the only module that knows the three routers; they never import each other."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from wod import __version__, i18n, logs, metrics
from wod.admin.router import PATH as ADMIN_PATH
from wod.admin.router import router as admin_router
from wod.api.router import dev_router
from wod.api.router import router as api_router
from wod.api.routes.health import router as health_router
from wod.api.routes.workshops import to_public
from wod.context import AppContext
from wod.mail.catcher import MailCatcher
from wod.notify import Topic
from wod.portal.router import router as portal_router
from wod.scheduler.loop import Loop, start_loops
from wod.services.catalogue import CatalogueCache, WorkshopView
from wod.settings import Mode, Settings
from wod.web import apidocs
from wod.web.language import LanguageMiddleware
from wod.web.limits import RequestTimeout
from wod.web.problems import install_error_handlers
from wod.web.state import WebState, attach

log = logging.getLogger(__name__)
#: Routes whose answers are logged at DEBUG unless they fail: the agents' polls, the probes.
QUIET_ROUTES = ("/healthz", "/metrics", "/static", "/admin/static", "/api/v1/backend/")


def create_app(ctx: AppContext, *, background: bool = True) -> FastAPI:
    """The app of one process. ``background`` starts the scheduler and outbox loops (and the
    dev mail catcher when enabled) for the lifetime of the app."""

    def public(view: WorkshopView) -> dict[str, object]:
        return to_public(view, ctx.settings).model_dump(mode="json")

    catalogue = CatalogueCache(ctx.db, public, ctx.settings.api.catalogue_ttl)
    unsubscribe = ctx.notifier.subscribe(Topic.seats, catalogue.invalidate)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loops: list[Loop] = []
        catcher = start_catcher(ctx.settings) if background else None
        if background:
            loops.extend(start_loops(ctx))
        try:
            yield
        finally:
            for loop in loops:
                loop.stop()
            if catcher is not None:
                catcher.stop()
            unsubscribe()

    app = FastAPI(
        title="wod",
        version=__version__,
        summary="Hands-on Jupyter-notebook workshops on demand.",
        lifespan=lifespan,
        docs_url=None,  # wod.web.apidocs: Swagger UI from the platform's own assets
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
        max_body_size=ctx.settings.api.max_body_size,
    )
    attach(app, WebState(ctx, catalogue))
    # the admin console is in English only: its refusals too, whatever the browser asks
    app.add_middleware(LanguageMiddleware, fixed={ADMIN_PATH: i18n.DEFAULT})
    app.add_middleware(RequestTimeout, seconds=ctx.settings.api.request_timeout)
    app.add_middleware(metrics.HttpMetrics, login=ADMIN_PATH + "/login")
    # outermost: whatever is logged while a request is handled carries the request's id
    app.add_middleware(logs.RequestContext, quiet=QUIET_ROUTES)
    install_error_handlers(app)
    app.include_router(api_router, prefix="/api/v1")
    if ctx.settings.mode is Mode.development:
        app.include_router(dev_router, prefix="/api/v1")
    app.include_router(health_router)
    app.include_router(portal_router)
    app.include_router(admin_router)
    apidocs.install(app, "/api/v1/openapi.json", "wod")
    static = files("wod.portal") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    return app


def start_catcher(settings: Settings) -> MailCatcher | None:
    """The dev mail catcher, started, when the settings turn it on."""
    if not settings.dev.mail_catcher:
        return None
    smtp = settings.smtp
    catcher = MailCatcher(settings.dev.maildir, smtp.host, smtp.port)
    catcher.start()
    log.info("dev mail catcher on %s:%s", smtp.host, smtp.port)
    return catcher
