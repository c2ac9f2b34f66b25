"""The REST api: one module per resource in :mod:`.routes`, their bodies in :mod:`.schemas`
and :mod:`wod.wire`; it sits on :mod:`wod.web` beside the portal and the console."""
