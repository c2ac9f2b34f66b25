"""Every page of the portal on one router (one module per page in this package)."""

from __future__ import annotations

from fastapi import APIRouter

from wod.portal import (
    badges,
    confirm,
    covers,
    devmail,
    home,
    keep,
    legal,
    manage,
    share,
    status,
    timesup,
    waitlist,
    workshop,
)

router = APIRouter(include_in_schema=False)
pages = (
    home,
    workshop,
    waitlist,
    confirm,
    keep,
    devmail,
    legal,
    manage,
    status,
    timesup,
    badges,
    covers,
    share,
)
for page in pages:
    router.include_router(page.router)
