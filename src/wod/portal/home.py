"""The catalogue page (``/``): a tab (all, latest, popular, or one category) and a search.

A page already rendered from the current snapshot is answered from the event loop; anything
else (a new snapshot, a new search) is rendered in a worker thread and kept with the snapshot.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from wod import i18n
from wod.portal.filters import Filter, filter_views, searchable
from wod.portal.page import local, render, snapshot
from wod.services import links
from wod.web.deps import State
from wod.web.state import web_state

router = APIRouter(include_in_schema=False)
#: Rendered catalogue pages kept per snapshot (common tab and language combinations).
PAGE_CACHE_SIZE = 64


def _page_key(request: Request, chosen: Filter) -> tuple[str, ...]:
    return (i18n.current(), chosen.tab_value, chosen.query, str(request.url.query))


@router.get("/", response_class=HTMLResponse)
async def catalogue(request: Request, state: State, tab: str = "all", q: str = "") -> Response:
    current = state.catalogue.fresh()
    if current is not None:
        chosen = Filter.parse(tab, q, current.categories)
        body = current.pages.get(_page_key(request, chosen))
        if body is not None:
            return HTMLResponse(body, headers={"content-language": i18n.current()})
    return await run_in_threadpool(_catalogue_page, request, tab, q)


def _catalogue_page(request: Request, tab: str, q: str) -> Response:
    settings = web_state(request).ctx.settings
    current = snapshot(request)
    if current is None:
        return render(request, "catalogue.html", 503, with_csrf=False, unavailable=True)
    chosen = Filter.parse(tab, q, current.categories)
    key = _page_key(request, chosen)
    body = current.pages.get(key)
    if body is not None:
        return HTMLResponse(body, headers={"content-language": i18n.current()})
    response = render(
        request,
        "catalogue.html",
        with_csrf=False,
        snapshot=current,
        filter=chosen,
        views=filter_views(current, chosen),
        unavailable=False,
        searchable=searchable,
        avatar_of=lambda w: local(settings, links.avatar_url(settings, w)),
        cover_of=lambda w: local(settings, links.workshop_cover(settings, w)),
    )
    if len(current.pages) < PAGE_CACHE_SIZE and len(chosen.query) <= 40:
        current.pages[key] = bytes(response.body)
    return response
