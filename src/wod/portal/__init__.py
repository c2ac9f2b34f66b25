"""The participants' pages: one module per page, on :mod:`wod.web` beside the api and the
admin console (:mod:`.router` gathers them)."""
