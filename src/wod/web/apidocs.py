"""``/api/docs``: Swagger UI over the api's OpenAPI document, from assets the platform serves
itself (``/api/docs/assets``, copied from the ``swagger-ui-dist`` npm package by
``scripts/bootstrap``): the page works on a machine without internet, and the browser asks no
other site for anything (no CDN, no validator badge)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, swagger_ui_default_parameters
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

PATH = "/api/docs"
ASSETS = PATH + "/assets"
#: Where scripts/bootstrap copies the package's files (not in git, like Chart.js).
VENDOR = Path(str(files("wod.web") / "static" / "vendor" / "swagger-ui"))
#: Swagger UI would otherwise show a badge fetched from the validator of its authors.
PARAMETERS = {**swagger_ui_default_parameters, "validatorUrl": None}


def install(app: FastAPI, openapi_url: str, title: str) -> None:
    """Serve the docs page and its assets on ``app`` (whose own ``docs_url`` is None)."""
    router = APIRouter(include_in_schema=False)

    @router.get(PATH, response_class=HTMLResponse)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} · API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
            swagger_ui_parameters=PARAMETERS,
        )

    app.include_router(router)
    # check_dir off: a checkout not bootstrapped still starts (its docs page is then bare)
    app.mount(ASSETS, StaticFiles(directory=str(VENDOR), check_dir=False), name="apidocs")
