"""Each request's language: negotiated from the query, the cookie and ``Accept-Language``
(:func:`wod.i18n.negotiate`), remembered in a cookie when chosen, and set as the current
language of :mod:`wod.i18n` while the request is handled."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import URL
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wod.i18n import COOKIE, LANGUAGES, QUERY, negotiate, use


def switch_url(url: URL, language: str) -> str:
    """The current page in another language (the visible switch; works without script)."""
    target = url.include_query_params(**{QUERY: language})
    return f"{target.path}?{target.query}"


class LanguageMiddleware:
    """Pick each request's language, and remember an explicit ``?lang=`` in a cookie. Paths
    under a prefix of ``fixed`` always get that prefix's language (a part of the site that is
    not translated), with no negotiation and no cookie."""

    def __init__(self, app: ASGIApp, fixed: Mapping[str, str] | None = None) -> None:
        self.app = app
        self.fixed = dict(fixed or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for prefix, fixed_language in self.fixed.items():
            if scope["path"] == prefix or scope["path"].startswith(prefix + "/"):
                with use(fixed_language):
                    await self.app(scope, receive, send)
                return
        connection = HTTPConnection(scope)
        chosen = connection.query_params.get(QUERY)
        language = negotiate(
            chosen=chosen,
            cookie=connection.cookies.get(COOKIE),
            accept=connection.headers.get("accept-language"),
        )
        scope.setdefault("state", {})["language"] = language
        remember = chosen in LANGUAGES and connection.cookies.get(COOKIE) != chosen

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"content-language", language.encode()))
                vary = b"accept-language, cookie"
                headers.append((b"vary", vary))
                if remember:
                    cookie = f"{COOKIE}={language}; Path=/; Max-Age=31536000; SameSite=Lax"
                    headers.append((b"set-cookie", cookie.encode()))
                message = {**message, "headers": headers}
            await send(message)

        with use(language):
            await self.app(scope, receive, send_with_cookie)
