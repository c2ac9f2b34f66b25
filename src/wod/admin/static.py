"""The console's own style sheet and scripts (``/admin/static``; Chart.js is vendored: no CDN)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from wod.admin.page import PATH, AdminRoute

router = APIRouter(prefix=PATH, route_class=AdminRoute)
STATIC = files("wod.admin") / "static"


@router.get("/static/{name:path}")
def static(name: str) -> Response:
    root = Path(str(STATIC)).resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return Response("not found", status_code=404, media_type="text/plain")
    return FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})
