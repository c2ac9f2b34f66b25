"""Every page of the portal on one router (one module per page in this package)."""

from __future__ import annotations

from fastapi import APIRouter

from wod.portal import badges, confirm, devmail, home, keep, legal, manage, waitlist, workshop

router = APIRouter(include_in_schema=False)
for page in (home, workshop, waitlist, confirm, keep, devmail, legal, manage, badges):
    router.include_router(page.router)
