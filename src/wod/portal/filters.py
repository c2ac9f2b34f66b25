"""What the catalogue page shows: a tab (all, latest, popular, or one category) and a search.

The same filtering runs in the browser (``catalogue.js``) for instant feedback; without
script the tabs are links and the search is a form, answered here.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from wod.services.catalogue import Snapshot, WorkshopView

TABS = ("all", "latest", "popular")
CATEGORY_PREFIX = "category:"


def fold(text: str) -> str:
    """Lower case without accents, for matching ("Données" matches "donnees")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@dataclass(frozen=True)
class Filter:
    tab: str = "all"
    category: str | None = None
    query: str = ""

    @classmethod
    def parse(cls, tab: str, query: str, categories: list[str]) -> Filter:
        """A filter from the page's query parameters; an unknown tab shows everything."""
        query = " ".join(query.split())[:100]
        if tab.startswith(CATEGORY_PREFIX):
            wanted = fold(tab.removeprefix(CATEGORY_PREFIX))
            for category in categories:
                if fold(category) == wanted:
                    return cls("category", category, query)
            return cls("all", None, query)
        return cls(tab if tab in TABS else "all", None, query)

    @property
    def tab_value(self) -> str:
        return f"{CATEGORY_PREFIX}{self.category}" if self.category else self.tab


def searchable(view: WorkshopView) -> str:
    w = view.workshop
    return fold(" ".join([w.name, w.description, w.presenter, w.role, *w.categories]))


def filter_views(snapshot: Snapshot, chosen: Filter) -> list[WorkshopView]:
    views = snapshot.views
    if chosen.tab == "latest":
        views = [v for v in views if v.workshop.slug in snapshot.latest]
    elif chosen.tab == "popular":
        views = [v for v in views if v.popular]
    elif chosen.category is not None:
        views = [v for v in views if chosen.category in v.workshop.categories]
    words = fold(chosen.query).split()
    if words:
        views = [v for v in views if all(word in searchable(v) for word in words)]
    return views
