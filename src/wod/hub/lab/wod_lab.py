"""The seat's Jupyter server extension of wod (installed into the seats' environment as the
module ``wod_lab``; it imports nothing of wod, which the seats' environment does not hold).

It answers the lab's front end on the server's own origin, behind the server's own login:

- ``GET  <base>/wod/status``: the api's ``/api/v1/seat/status`` and the seat's progress;
- ``POST <base>/wod/extend``, ``POST <base>/wod/end``: the api's seat actions;
- ``GET  <base>/wod/progress``: code cells run over the cells that count.

It calls the api with the lab token the agent wrote into ``~/.wod/lab.json``: the token never
reaches the browser, and the api needs no cross-origin rule for the hub's origin. An api that
refuses the token (the seat ended) is answered ``410``; one that cannot be reached, ``502``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jupyter_server.base.handlers import APIHandler
from jupyter_server.serverapp import ServerApp
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

LAB_FILE = Path(".wod") / "lab.json"
TIMEOUT = 10.0


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "wod_lab"}]


def read_lab(root: Path) -> dict[str, Any] | None:
    """The seat's lab file, or None when this server is no wod seat (or it is unreadable)."""
    try:
        data = json.loads((root / LAB_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("token"), str) else None


def _code_cells(notebook: Any) -> list[dict[str, Any]]:
    cells = notebook.get("cells", []) if isinstance(notebook, dict) else []
    return [c for c in cells if isinstance(c, dict) and c.get("cell_type") == "code"]


def progress(root: Path, lab: dict[str, Any]) -> dict[str, int]:
    """Code cells run over the cells that count, matched as the completion at the end matches
    them (by id when both sides have ids, else by position)."""
    done = total = 0
    folder = root / str(lab.get("folder", ""))
    for path, countable in dict(lab.get("cells", {})).items():
        try:
            cells = _code_cells(json.loads((folder / path).read_text(encoding="utf-8")))
        except (OSError, ValueError):
            cells = []
        by_id = {c["id"]: c for c in cells if isinstance(c.get("id"), str)}
        for cell_id, position in countable:
            total += 1
            if cell_id is not None and by_id:
                twin = by_id.get(cell_id)
            else:
                twin = cells[position] if position < len(cells) else None
            done += twin is not None and twin.get("execution_count") is not None
    percent = (done * 100) // total if total else 0
    return {"done": done, "total": total, "percent": percent}


class _SeatHandler(APIHandler):
    @property
    def root(self) -> Path:
        return Path(self.settings["wod_lab_root"])

    def _lab(self) -> dict[str, Any]:
        lab = read_lab(self.root)
        if lab is None:
            raise web.HTTPError(404, "this server is no wod seat")
        return lab

    async def _api(self, lab: dict[str, Any], method: str, path: str) -> dict[str, Any]:
        request = HTTPRequest(
            f"{lab['api_url']}/api/v1/seat/{path}",
            method=method,
            headers={"Authorization": f"Bearer {lab['token']}", "Accept": "application/json"},
            body=b"" if method == "POST" else None,
            request_timeout=TIMEOUT,
        )
        try:
            response = await AsyncHTTPClient().fetch(request)
        except HTTPClientError as exc:
            self._refused(exc)
        except OSError as exc:
            raise web.HTTPError(502, f"the api cannot be reached: {exc}") from exc
        answer: dict[str, Any] = json.loads(response.body)
        return answer

    def _refused(self, exc: HTTPClientError) -> None:
        if exc.code == 401:
            raise web.HTTPError(410, "the seat has ended") from exc
        body = exc.response.body if exc.response is not None else b""
        if exc.code in (409, 422) and body:
            self.set_status(exc.code)
            self.finish(body)
            raise web.Finish()
        raise web.HTTPError(502, f"the api answered {exc.code}") from exc

    def _answer(self, status: dict[str, Any], lab: dict[str, Any]) -> None:
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps({**status, "progress": progress(self.root, lab)}))


class StatusHandler(_SeatHandler):
    @web.authenticated
    async def get(self) -> None:
        lab = self._lab()
        self._answer(await self._api(lab, "GET", "status"), lab)


class ActionHandler(_SeatHandler):
    @web.authenticated
    async def post(self, action: str) -> None:
        lab = self._lab()
        self._answer(await self._api(lab, "POST", action), lab)


class ProgressHandler(_SeatHandler):
    @web.authenticated
    async def get(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(progress(self.root, self._lab())))


def _load_jupyter_server_extension(server: ServerApp) -> None:
    app = server.web_app
    app.settings["wod_lab_root"] = str(Path(server.root_dir).expanduser())
    base = url_path_join(app.settings["base_url"], "wod")
    app.add_handlers(  # type: ignore[no-untyped-call]
        ".*$",
        [
            (url_path_join(base, "status"), StatusHandler),
            (url_path_join(base, "(extend|end)"), ActionHandler),
            (url_path_join(base, "progress"), ProgressHandler),
        ],
    )
