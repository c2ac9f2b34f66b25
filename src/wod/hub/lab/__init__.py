"""The seats' JupyterLab extension, as the hub host installs and feeds it.

Three parts, installed into the seats' environment by :func:`install_lab` (``wod hub venv``,
``wod up``'s own environment, and scripts/bootstrap for the checkout's ``.venv``):

- the front end, a prebuilt JupyterLab extension that scripts/bootstrap builds from the
  checkout's ``labextension/`` folder into ``labextension/`` here (no CDN at run time);
- ``wod_lab.py``, a small Jupyter server extension that answers the front end at
  ``<server>/wod/…`` (same origin, the server's own login) and calls the api's
  ``/api/v1/seat/…`` with the seat's lab token, which the browser never sees;
- the lab's settings overrides (no news or update pop-up).

The agent's CREATE writes the seat's file (:func:`seat_lab_file`) into ``~/.wod/lab.json``:
the lab token, the api's URL, the workshop folder and the code cells that count.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath

from wod.content.completion import countable_cells, load_notebook
from wod.content.render import RenderedFile

#: The folder of the seat's home the agent writes the lab file into.
LAB_FOLDER = ".wod"
LAB_FILE = "lab.json"
HERE = Path(__file__).parent
#: The built front end (scripts/bootstrap builds it; not in git).
BUILT = HERE / "labextension"
EXTENSION_NAME = "wod-lab"
SERVER_MODULE = HERE / "wod_lab.py"
#: JupyterLab's settings overrides of every seat: no news, no update check.
OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {
        "checkForUpdates": False,
        "fetchNews": "false",
    }
}
SERVER_CONFIG = {"ServerApp": {"jpserver_extensions": {"wod_lab": True}}}


def seat_lab_file(
    token: str, api_url: str, folder: str, rendered: Sequence[RenderedFile]
) -> RenderedFile:
    """The seat's ``lab.json``: what its lab extension needs to reach the api and to count
    the code cells as the completion at the end will."""
    cells: dict[str, list[list[str | int | None]]] = {}
    for item in rendered:
        if item.path.suffix != ".ipynb":
            continue
        content = item.content if item.content is not None else item.source.read_bytes()
        notebook = load_notebook(content.decode("utf-8", "replace"))
        if notebook is not None:
            cells[str(item.path)] = [[cid, pos] for cid, pos in countable_cells(notebook)]
    data = {"token": token, "api_url": api_url.rstrip("/"), "folder": folder, "cells": cells}
    return RenderedFile(
        path=PurePosixPath(LAB_FILE), source=Path(LAB_FILE), content=json.dumps(data).encode()
    )


def _files() -> Iterable[Path]:
    yield SERVER_MODULE
    if BUILT.is_dir():
        yield from sorted(p for p in BUILT.rglob("*") if p.is_file())


def lab_digest() -> str:
    """What the installed extension is made of (folded into the seats' environment stamp,
    so that a change of the extension rebuilds it)."""
    digest = hashlib.sha256(json.dumps([OVERRIDES, SERVER_CONFIG]).encode())
    for path in _files():
        digest.update(str(path.relative_to(HERE)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def is_built() -> bool:
    return (BUILT / "package.json").is_file()


def install_lab(prefix: Path, site_packages: Path) -> None:
    """Install the extension into the environment at ``prefix`` (its ``site-packages``)."""
    shutil.copyfile(SERVER_MODULE, site_packages / "wod_lab.py")
    config = prefix / "etc" / "jupyter" / "jupyter_server_config.d"
    config.mkdir(parents=True, exist_ok=True)
    (config / "wod_lab.json").write_text(json.dumps(SERVER_CONFIG, indent=2) + "\n")
    settings = prefix / "share" / "jupyter" / "lab" / "settings"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "overrides.json").write_text(json.dumps(OVERRIDES, indent=2) + "\n")
    if is_built():
        target = prefix / "share" / "jupyter" / "labextensions" / EXTENSION_NAME
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(BUILT, target)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m wod.hub.lab`` installs the extension into the running environment (what
    scripts/bootstrap does for the checkout's ``.venv``)."""
    import sys
    import sysconfig

    del argv
    install_lab(Path(sys.prefix), Path(sysconfig.get_path("purelib")))
    return 0
