"""Every page of the admin console on one router under ``/admin`` (one module per page or
resource in this package), each answer with the console's security headers."""

from __future__ import annotations

from fastapi import APIRouter

from wod.admin import (
    audit,
    dashboard,
    emails,
    exports,
    health,
    jobs,
    login,
    registrations,
    seats,
    static,
    workshops,
)
from wod.admin.page import PATH

__all__ = ["PAGES", "PATH", "router"]

#: The console's modules, each with its ``router``.
PAGES = (
    static,
    login,
    dashboard,
    registrations,
    seats,
    jobs,
    emails,
    workshops,
    health,
    audit,
    exports,
)
router = APIRouter(include_in_schema=False)
for page in PAGES:
    router.include_router(page.router, include_in_schema=False)
