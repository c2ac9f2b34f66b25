"""A catalogue that invites: covers (the content's or drawn), the workshop page's outline, what
it teaches and asks for, the badge rule, and the share links."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import code, make_workshop, markdown, notebook
from wod.context import AppContext, build_context
from wod.db.migrate import upgrade
from wod.db.models import Workshop
from wod.domain.clock import FakeClock
from wod.services.catalogue.importer import import_content
from wod.settings import Settings

PUBLIC = "http://127.0.0.1:8000"


def card(page: str, slug: str) -> str:
    match = re.search(rf'<li class="card" data-slug="{slug}".*?</li>', page, re.DOTALL)
    assert match is not None, slug
    return match[0]


def test_a_card_without_workshop_img_has_a_drawn_cover_served_safely(
    client: TestClient, token: str
) -> None:
    python = card(client.get("/").text, "WKSHP-Python101")
    assert '<img class="cover" src="/covers/workshop/WKSHP-Python101.svg" alt=""' in python
    cover = client.get("/covers/workshop/WKSHP-Python101.svg")
    assert cover.status_code == 200 and cover.headers["content-type"] == "image/svg+xml"
    assert cover.content.startswith(b"<svg") and b"Python 101" in cover.content
    assert "sandbox" in cover.headers["content-security-policy"]
    assert cover.headers["x-content-type-options"] == "nosniff"
    assert client.get("/covers/workshop/WKSHP-Nothing.svg").status_code == 404


def test_workshop_img_names_a_picture_of_a_layer_and_nothing_else_is_served(
    client: TestClient, ctx: AppContext, token: str, tmp_path: Path
) -> None:
    with ctx.db.write() as s:
        workshop = s.scalars(select(Workshop).where(Workshop.slug == "WKSHP-Python101")).one()
        workshop.workshop_img = "python.png"
    client.app.state.wod.catalogue.invalidate()  # type: ignore[attr-defined]
    assert '<img class="cover" src="/covers/files/python.png"' in client.get("/").text
    api = client.get("/api/v1/workshops/WKSHP-Python101").json()
    assert api["cover_url"] == f"{PUBLIC}/covers/files/python.png"
    assert client.get("/covers/files/python.png").status_code == 404
    private = tmp_path / "private"
    (private / "covers").mkdir(parents=True)
    (private / "covers" / "python.png").write_bytes(b"\x89PNG fake")
    (private / "covers" / "page.html").write_text("<script>alert(1)</script>")
    (private / "covers" / "python.PNG.txt").write_text("text")
    ctx.settings.content.paths = [*ctx.settings.content.paths, private]
    served = client.get("/covers/files/python.png")
    assert served.status_code == 200 and served.content == b"\x89PNG fake"
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    for name in ["page.html", "python.PNG.txt", "..%2Fwod.yml", ".hidden.png"]:
        assert client.get(f"/covers/files/{name}").status_code == 404, name


def test_the_workshop_page_shows_learn_prerequisites_outline_and_the_badge_rule(
    client: TestClient, ctx: AppContext, token: str
) -> None:
    page = client.get("/workshops/WKSHP-Python101").text
    assert "<h2>What you will learn</h2>" in page
    assert "<li>Write and call your own functions</li>" in page
    assert "<h2>Before you start</h2>" in page
    outline = re.search(r'<ol class="outline">(.*?)</ol>', page, re.DOTALL)
    assert outline is not None
    assert re.findall(r"<li>(.*?)</li>", outline[1])[:2] == [
        "Lab 1: values, variables, types and strings",
        "Lab 2: lists, dictionaries, loops and functions",
    ]
    assert "Run at least 50 % of the code cells" in page
    assert '<img class="cover cover-page" src="/covers/workshop/WKSHP-Python101.svg"' in page
    ctx.settings.registration.badge_min_completion = 70
    assert "Run at least 70 % of the code cells" in client.get("/workshops/WKSHP-Python101").text
    french = client.get("/workshops/WKSHP-Python101", headers={"accept-language": "fr"}).text
    assert "Ce que vous apprendrez" in french and "Exécutez au moins 70 %" in french
    api = client.get("/api/v1/workshops/WKSHP-Python101").json()
    assert api["outline"][0] == "Lab 1: values, variables, types and strings"
    assert api["learn"][0] == "Store values in variables and tell their types apart"


def test_a_workshop_without_those_fields_shows_no_empty_section(
    client: TestClient, ctx: AppContext, token: str
) -> None:
    with ctx.db.write() as s:
        workshop = s.scalars(select(Workshop).where(Workshop.slug == "WKSHP-Shell101")).one()
        workshop.learn, workshop.prerequisites, workshop.outline = [], [], []
    client.app.state.wod.catalogue.invalidate()  # type: ignore[attr-defined]
    page = client.get("/workshops/WKSHP-Shell101").text
    for heading in ["What you will learn", "Before you start", "Outline"]:
        assert f"<h2>{heading}</h2>" not in page


def test_the_outline_is_read_at_import_and_follows_the_notebooks(
    settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    layer = tmp_path / "layer"
    folder = make_workshop(layer, "WKSHP-Outlined", (1, 2))
    lab = folder / "1-WKSHP-Lab.ipynb"
    lab.write_text(notebook(markdown("# First title", "m"), code("x = 1", "c")))
    content = settings.content.model_copy(update={"paths": [layer]})
    ctx = build_context(settings.model_copy(update={"content": content}), clock=clock)
    upgrade(ctx.db)
    assert import_content(ctx, apply=True).applied

    def stored() -> list[str]:
        with ctx.db.read() as s:
            row = s.scalars(select(Workshop).where(Workshop.slug == "WKSHP-Outlined")).one()
            return row.outline

    assert stored() == ["First title"]
    lab.write_text(notebook(markdown("# Second title", "m")))
    outcome = import_content(ctx, apply=True)
    change = next(c for p in outcome.plan.workshops for c in p.changes if c.field == "outline")
    assert (change.old, change.new) == (["First title"], ["Second title"])
    assert stored() == ["Second title"]
    ctx.close()


def test_cards_workshop_and_badge_pages_carry_plain_share_links(
    client: TestClient, token: str
) -> None:
    url = f"{PUBLIC}/workshops/WKSHP-Python101"
    for page in [
        card(client.get("/").text, "WKSHP-Python101"),
        client.get("/workshops/WKSHP-Python101").text,
    ]:
        assert "https://www.linkedin.com/sharing/share-offsite/?url=" + quote(url, safe="") in page
        assert f'href="/share/mastodon?url={quote(url, safe="")}&amp;title=' in page
        assert f'class="copy" data-copy="{url}"' in page and " hidden>" in page
    badge = client.get("/badges/workshop/WKSHP-Python101").text
    assert quote(f"{PUBLIC}/badges/workshop/WKSHP-Python101", safe="") in badge
    assert '<script src="/static/share.js" defer></script>' in badge
    script = client.get("/static/share.js")
    assert script.status_code == 200 and "clipboard" in script.text
    assert not re.search(r'<script[^>]+src="https?://', badge)  # no third-party script


def test_mastodon_share_asks_the_server_then_goes_there(client: TestClient, token: str) -> None:
    url = f"{PUBLIC}/workshops/WKSHP-Python101"
    form = client.get("/share/mastodon", params={"url": url, "title": "Python 101"})
    assert form.status_code == 200 and 'name="instance"' in form.text
    gone = client.get(
        "/share/mastodon",
        params={"url": url, "title": "Python 101", "instance": "@ada@Fosstodon.org"},
        follow_redirects=False,
    )
    assert gone.status_code == 303
    target = urlsplit(gone.headers["location"])
    assert (target.scheme, target.netloc, target.path) == ("https", "fosstodon.org", "/share")
    assert parse_qs(target.query)["text"] == [f"Python 101 {url}"]
    wrong = client.get("/share/mastodon", params={"url": url, "instance": "evil.org/x?"})
    assert wrong.status_code == 400 and 'aria-invalid="true"' in wrong.text
    assert "for example mastodon.social" in wrong.text
    foreign = client.get(
        "/share/mastodon",
        params={"url": "https://evil.org/", "instance": "mastodon.social"},
        follow_redirects=False,
    )
    assert foreign.status_code == 400 and "location" not in foreign.headers
    assert json.dumps("Only a page of this site")[1:-1] in foreign.text


def test_a_presenter_avatar_of_a_layer_replaces_the_initials(
    client: TestClient, ctx: AppContext, token: str, tmp_path: Path
) -> None:
    before = card(client.get("/").text, "WKSHP-Python101")
    assert '<span class="avatar initials" aria-hidden="true">ML</span>' in before
    private = tmp_path / "private"
    (private / "avatars").mkdir(parents=True)
    (private / "avatars" / "maya.jpg").write_bytes(b"\xff\xd8\xff fake")
    ctx.settings.content.paths = [*ctx.settings.content.paths, private]
    with ctx.db.write() as s:
        workshop = s.scalars(select(Workshop).where(Workshop.slug == "WKSHP-Python101")).one()
        workshop.avatar = "maya.jpg"
    client.app.state.wod.catalogue.invalidate()  # type: ignore[attr-defined]
    after = card(client.get("/").text, "WKSHP-Python101")
    assert '<img class="avatar" src="/avatars/files/maya.jpg" alt=""' in after
    assert "initials" not in after
    served = client.get("/avatars/files/maya.jpg")
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
