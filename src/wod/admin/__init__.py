"""The admin console's pages (``/admin``): one module per page or resource, on :mod:`wod.web`
beside the api and the portal (:mod:`.router` gathers them). English only."""
