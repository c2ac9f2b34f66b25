"""CSRF protection of the portal's forms: a random token in a cookie and in the form, which
must match (double submit); the cookie is ``SameSite=Lax`` and never readable by scripts."""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request, Response

COOKIE = "wod_csrf"
FIELD = "csrf_token"


def token_for(request: Request) -> str:
    """The request's token, or a new one (set on the answer by :func:`set_cookie`)."""
    existing = request.cookies.get(COOKIE, "")
    return existing if len(existing) >= 32 else secrets.token_urlsafe(32)


def set_cookie(response: Response, token: str, *, secure: bool) -> None:
    response.set_cookie(COOKIE, token, httponly=True, samesite="lax", secure=secure, path="/")


def valid(request: Request, submitted: str | None) -> bool:
    cookie = request.cookies.get(COOKIE, "")
    return bool(cookie) and bool(submitted) and hmac.compare_digest(cookie, submitted or "")
