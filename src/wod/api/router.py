"""The REST api (``/api/v1``, ARCHITECTURE §9): one router of its resources, and the
development helpers' router (mounted only in development mode)."""

from __future__ import annotations

from fastapi import APIRouter

from wod.api.routes import backend, content, dev, registrations, seat, seats, stats, workshops

router = APIRouter()
for resource in (workshops, registrations, seat, backend, content, stats, seats):
    router.include_router(resource.router)
dev_router = dev.router
