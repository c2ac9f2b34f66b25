"""The catalogue: the workshops as participants see them, with their seats left (:mod:`.read`),
the per-process snapshot the api serves them from (:mod:`.cache`), and the import of workshops
from the content into the database (:mod:`.importer`)."""

from wod.services.catalogue.cache import CatalogueCache, Snapshot
from wod.services.catalogue.read import (
    WorkshopView,
    catalogue,
    find_any_workshop,
    find_workshop,
    seat_bounds,
    serving_locations,
    workshop_named,
)

__all__ = [
    "CatalogueCache",
    "Snapshot",
    "WorkshopView",
    "catalogue",
    "find_any_workshop",
    "find_workshop",
    "seat_bounds",
    "serving_locations",
    "workshop_named",
]
