"""A real browser for the page tests: Debian's Chromium driven by Playwright, screenshots at
desktop and phone widths into a folder the run keeps, and axe-core's accessibility check."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
#: Screenshots land here (kept after the run; CI may publish the folder).
ARTIFACTS = Path(os.environ.get("WOD_TEST_ARTIFACTS", ROOT / ".test-artifacts")) / "screenshots"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
#: Resolves after three frames: resize observers, the redraws they schedule, their layout.
SETTLED = (
    "() => new Promise(r => { let n = 3;"
    " const f = () => (--n ? requestAnimationFrame(f) : r()); requestAnimationFrame(f); })"
)
PHONE: ViewportSize = {"width": 390, "height": 844}


@contextmanager
def chromium() -> Iterator[Browser]:
    """The system's Chromium (``scripts/bootstrap --test`` installs it)."""
    executable = shutil.which("chromium") or str(CHROMIUM)
    if not Path(executable).exists():
        raise RuntimeError("Chromium is missing: run scripts/bootstrap --test")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


class Screens:
    """Screenshots of each page at both widths, named in the order they were taken."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        self.count = 0

    def take(self, page: Page, name: str) -> None:
        self.count += 1
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        size = page.viewport_size or DESKTOP
        for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(viewport)
            page.evaluate(SETTLED)  # let scripts that follow the width (charts) lay out again
            page.screenshot(
                path=str(self.folder / f"{self.count:02d}-{slug}-{label}.png"), full_page=True
            )
        page.set_viewport_size(size)


def axe_violations(
    page: Page, impacts: tuple[str, ...] = ("serious", "critical"), within: str | None = None
) -> list[str]:
    """axe-core's violations of the page (or of the element ``within`` selects) at or above
    the given impacts, one line each."""
    page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate(
        "async (within) => await axe.run(within ? document.querySelector(within) : document,"
        " {resultTypes: ['violations']})",
        within,
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(n["target"][0] for n in v["nodes"][:5])
        for v in result["violations"]
        if v["impact"] in impacts
    ]
