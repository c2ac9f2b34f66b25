"""Refusals at the HTTP edge: the one table of their statuses (:data:`STATUS`), used by the api
(every refusal becomes ``application/problem+json`` with a ``code``) and by the pages."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from wod.db.session import UNAVAILABLE_ERRORS, first_line, unavailable
from wod.errors import (
    AlreadyRegistered,
    Forbidden,
    InvalidInput,
    InvalidState,
    NotAuthenticated,
    NotFound,
    RateLimited,
    Refusal,
    WorkshopFull,
    WorkshopNotFound,
)
from wod.logs import route_of

log = logging.getLogger(__name__)

STATUS: dict[type[Refusal], int] = {
    InvalidInput: 422,
    WorkshopNotFound: 404,
    NotFound: 404,
    WorkshopFull: 409,
    AlreadyRegistered: 409,
    InvalidState: 409,
    NotAuthenticated: 401,
    Forbidden: 403,
    RateLimited: 429,
}
_HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "body_too_large",
}


def status_of(error: Refusal) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def problem(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """An RFC 9457 problem document."""
    body = {
        "type": "about:blank",
        "title": code.replace("_", " "),
        "status": status,
        "code": code,
        "detail": detail,
        **extra,
    }
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(
        body, status_code=status, media_type="application/problem+json", headers=headers
    )


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


async def _refusal(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Refusal)
    extra: dict[str, Any] = {}
    headers = None
    if isinstance(exc, InvalidInput):
        extra["errors"] = [{"field": p.field, "message": p.message} for p in exc.problems]
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(exc.retry_after)}
    return problem(status_of(exc), exc.code, exc.message, headers, **extra)


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"field": _field(tuple(e["loc"])), "message": e["msg"]} for e in exc.errors()]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return problem(422, "invalid_input", detail, errors=errors)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    # the headers of the refusal stay (a 405's Allow, a 401's WWW-Authenticate)
    return problem(exc.status_code, code, str(exc.detail), dict(exc.headers or {}))


#: Seconds a client is told to wait when the database cannot answer (a restart takes a few).
UNAVAILABLE_RETRY_AFTER = 2


async def _database(request: Request, exc: Exception) -> JSONResponse:
    if not unavailable(exc):
        return await _unexpected(request, exc)
    where = route_of(request.scope) or "an unrouted path"
    log.warning("database unavailable on %s %s: %s", request.method, where, first_line(exc))
    return problem(
        503,
        "database_unavailable",
        "The service cannot reach its database just now; try again in a moment.",
        {"Retry-After": str(UNAVAILABLE_RETRY_AFTER)},
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # the route's template, not the path: a path may hold a manage token
    where = route_of(request.scope) or "an unrouted path"
    log.exception("unexpected error on %s %s", request.method, where)
    return problem(500, "internal_error", "Something went wrong on our side.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Refusal, _refusal)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    for error in UNAVAILABLE_ERRORS:
        app.add_exception_handler(error, _database)
    app.add_exception_handler(Exception, _unexpected)
    _document_problems(app)


# ------------------------------------------------------------- the problems in the OpenAPI document


class FieldError(BaseModel):
    """One problem with one input field."""

    field: str = Field(description="The field, dotted for nested ones (`body` for the whole).")
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem document: the body of every error answer of the api."""

    type: str = Field("about:blank", description="Always `about:blank`: `code` tells them apart.")
    title: str = Field(description="`code` in words.")
    status: int = Field(ge=400, le=599, description="The HTTP status of the answer.")
    code: str = Field(description="Stable and machine-readable, e.g. `workshop_not_found`.")
    detail: str = Field(description="For people, in the language of the request.")
    errors: list[FieldError] = Field(
        default_factory=list, description="Input errors (422) only: every field refused."
    )


PROBLEM_MEDIA_TYPE = "application/problem+json"
_PROBLEM = {"schema": {"$ref": "#/components/schemas/Problem"}}
#: What each status means wherever it is answered; a route may say more of its own.
_MEANING = {
    400: "`bad_request`: the body could not be read as text (not UTF-8).",
    401: "`not_authenticated`: no token, or not a valid one (with `WWW-Authenticate: Bearer`).",
    403: "`forbidden`: the token is valid but does not allow this.",
    404: "`not_found`: no such object, or none the token may see.",
    408: "`request_timeout`: the client paused longer than `api.request_timeout` while "
    "sending its body.",
    409: "`invalid_state`: the object is not in a state that allows this.",
    413: "The body is over `api.max_body_size`: refused as announced (`Content-Length`, plain "
    "text, before it is read) or as it is read (`body_too_large`).",
    422: "`invalid_input`: a malformed body, a field or a parameter out of its rules; `errors` "
    "lists every field.",
    429: "`rate_limited`: too many attempts; `Retry-After` gives the seconds to wait.",
    500: "`internal_error`: something unexpected (logged on the server).",
    503: "`database_unavailable`: the database cannot be reached just now (restarting, "
    "failing over); `Retry-After` gives the seconds to wait.",
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "`Bearer`: the token goes in `Authorization: Bearer …`.",
            "required": True,
            "schema": {"type": "string"},
        }
    },
    429: {
        "Retry-After": {
            "description": "Seconds to wait before trying again.",
            "required": True,
            "schema": {"type": "integer"},
        }
    },
}
_HEADERS[503] = _HEADERS[429]
#: What every operation may answer, declared on each: 500 and, from any route that reads or
#: writes, 503 while the database is away.
ANY_OPERATION = (500, 503)


def problem_responses(
    *statuses: int, meaning: dict[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route: the problem documents it answers with ``statuses``, each
    described by its general meaning or by the route's own (``meaning``)."""
    own = meaning or {}
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        content: dict[str, Any] = {PROBLEM_MEDIA_TYPE: _PROBLEM}
        if status == 413:
            content["text/plain"] = {"schema": {"type": "string"}}
        response: dict[str, Any] = {"description": own.get(status, _MEANING[status])}
        response["content"] = content
        if status in _HEADERS:
            response["headers"] = _HEADERS[status]
        responses[status] = response
    return responses


def _document_problems(app: FastAPI) -> None:
    """The OpenAPI document carries the schema of the problem documents the routes declare
    (``problem_responses``), which no route returns as its model, and the answers any
    operation may give (:data:`ANY_OPERATION`: the unexpected, the database away)."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = build()  # kept by FastAPI as app.openapi_schema: completed once
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(problem.pop("$defs", {}))
        schemas["Problem"] = problem
        anywhere = problem_responses(*ANY_OPERATION)
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                answers = operation.setdefault("responses", {})
                for status, response in anywhere.items():
                    answers.setdefault(str(status), response)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
