"""Refusals at the HTTP edge: the one table of their statuses (:data:`STATUS`), used by the api
(every refusal becomes ``application/problem+json`` with a ``code``) and by the pages."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

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


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return problem(500, "internal_error", "Something went wrong on our side.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Refusal, _refusal)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
