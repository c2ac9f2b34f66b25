"""Badges (workshop badge in the final email, level badges once each, images and public pages)
and a content layer overriding an email's template (every kind: test_email_kinds.py)."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from tests.mail import part_text
from tests.servers import ApiServer
from wod.context import AppContext, build_context
from wod.db.models import BadgeAward, Email, Workshop
from wod.domain.clock import FakeClock
from wod.mail.sender import MemoryMailer
from wod.scheduler.loop import run_pass
from wod.services.mail import outbox
from wod.services.registrations import RegistrationRequest, register
from wod.settings import Settings


def finish(
    ctx: AppContext,
    server: ApiServer,
    token: str,
    clock: FakeClock,
    email: str,
    slug: str,
    completion: int,
) -> int:
    """One registration run to its end through the api, its CLEANUP reporting ``completion``."""
    rid = register(ctx, RegistrationRequest(slug, email, "Ada", "Engines", True)).id
    auth = {"Authorization": f"Bearer {token}"}
    claim = f"{server.url}/api/v1/backend/jobs/claim"
    create = httpx.post(claim, headers=auth).json()
    httpx.post(
        f"{server.url}/api/v1/backend/jobs/{create['id']}/report",
        headers=auth,
        json={"ok": True, "password": "P" * 16},
    )
    clock.advance(timedelta(hours=5))
    run_pass(ctx)
    cleanup = httpx.post(claim, headers=auth).json()
    assert cleanup["verb"] == "CLEANUP"
    httpx.post(
        f"{server.url}/api/v1/backend/jobs/{cleanup['id']}/report",
        headers=auth,
        json={"ok": True, "completion": completion},
    )
    return rid


def more_workshops(ctx: AppContext, count: int) -> list[str]:
    """Extra active workshops sharing Shell101's seats (tests only)."""
    slugs = []
    with ctx.db.write() as s:
        base = s.scalar(select(Workshop).where(Workshop.slug == "WKSHP-Shell101"))
        assert base is not None
        for n in range(count):
            slug = f"WKSHP-Extra{n}"
            s.add(
                Workshop(
                    slug=slug,
                    name=f"Extra {n}",
                    duration_hours=2,
                    capacity=10,
                    seat_min=11,
                    seat_max=20,
                    active=True,
                    categories=[],
                    compile=[],
                    alternate_locations=[],
                    created_at=base.created_at,
                    updated_at=base.updated_at,
                )
            )
            slugs.append(slug)
    return slugs


def final_text(mailer: MemoryMailer, to: str) -> str:
    message = [m for m in mailer.sent if m["To"] == to][-1]
    return part_text(message, "plain")


@pytest.mark.parametrize(("completion", "earned"), [(50, True), (49, False)])
def test_final_email_shows_the_badge_from_the_minimum_completion(
    ctx: AppContext,
    server: ApiServer,
    token: str,
    clock: FakeClock,
    mailer: MemoryMailer,
    completion: int,
    earned: bool,
) -> None:
    finish(ctx, server, token, clock, "ada@example.org", "WKSHP-Python101", completion)
    outbox.send_due(ctx)
    text = final_text(mailer, "ada@example.org")
    assert f"Completion: {completion} %" in text
    assert ("earned the workshop badge" in text) is earned
    assert ("linkedin.com/sharing" in text) is earned
    if earned:
        html = [m for m in mailer.sent if m["Subject"].startswith("Thanks")][-1]
        body = part_text(html, "html")
        assert "/badges/workshop/WKSHP-Python101.png" in body


def test_level_badges_are_awarded_once_each_with_their_email(
    ctx: AppContext, server: ApiServer, token: str, clock: FakeClock, mailer: MemoryMailer
) -> None:
    extra = more_workshops(ctx, 4)
    person = "ada@example.org"
    finish(ctx, server, token, clock, person, "WKSHP-Python101", 80)
    finish(ctx, server, token, clock, person, "WKSHP-Python101", 90)  # same workshop again
    finish(ctx, server, token, clock, person, extra[0], 10)  # not completed enough
    with ctx.db.read() as s:
        assert list(s.scalars(select(BadgeAward))) == []
    finish(ctx, server, token, clock, person, extra[1], 100)
    finish(ctx, server, token, clock, person, extra[2], 60)  # third distinct completed
    with ctx.db.read() as s:
        assert [(b.email, b.level) for b in s.scalars(select(BadgeAward))] == [(person, 1)]
    finish(ctx, server, token, clock, person, extra[3], 70)  # fourth: no new level
    with ctx.db.read() as s:
        levels = list(s.scalars(select(Email).where(Email.kind == "level_badge")))
    assert len(levels) == 1 and levels[0].payload == {"level": 1, "count": 3}
    outbox.send_due(ctx)
    badge = next(m for m in mailer.sent if "Apprentice" in m["Subject"])
    text = part_text(badge, "plain")
    assert "completed 3 different workshops" in text and "/badges/level/1" in text
    assert "5 completed workshops make you Expert" in text


def test_badge_images_and_public_pages(client: TestClient, token: str) -> None:
    for path in ("/badges/workshop/WKSHP-Python101.png", "/badges/level/5.png"):
        answer = client.get(path)
        assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(answer.content)).size == (600, 600)
    assert client.get("/badges/workshop/WKSHP-Nope.png").status_code == 404
    assert client.get("/badges/level/6.png").status_code == 404
    page = client.get("/badges/level/1")
    assert page.status_code == 200
    assert (
        '<meta property="og:image" content="http://127.0.0.1:8000/badges/level/1.png">' in page.text
    )
    assert "Apprentice" in page.text
    workshop_page = client.get("/badges/workshop/WKSHP-Shell101")
    assert "og:title" in workshop_page.text and "Linux shell 101" in workshop_page.text


def test_a_private_layer_overrides_an_email_template(
    settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    from tests.conftest import SAMPLE_CONTENT
    from tests.factories import seed

    private = tmp_path / "private"
    (private / "templates" / "email").mkdir(parents=True)
    (private / "templates" / "email" / "welcome.subject.j2").write_text(
        "Bienvenue, {{ registration.name }}!\n"
    )
    layered = settings.model_copy(
        update={"content": settings.content.model_copy(update={"paths": [SAMPLE_CONTENT, private]})}
    )
    mailer = MemoryMailer()
    ctx = build_context(layered, clock=clock, mailer=mailer)
    try:
        seed(ctx)
        register(ctx, RegistrationRequest("WKSHP-Python101", "ada@example.org", "Ada", "E", True))
        outbox.send_due(ctx)
    finally:
        ctx.close()
    assert mailer.sent[0]["Subject"] == "Bienvenue, Ada!"
    assert "Thank you for registering" in part_text(mailer.sent[0], "plain")


def test_the_api_and_the_emails_use_the_same_badge(
    client: TestClient, ctx: AppContext, token: str, tmp_path: Path
) -> None:
    drawn = client.get("/api/v1/workshops/WKSHP-Python101").json()["badge_url"]
    assert drawn == "http://127.0.0.1:8000/badges/workshop/WKSHP-Python101.png"
    layer = ctx.settings.content.paths[0]
    with ctx.db.write() as s:
        workshop = s.scalar(select(Workshop).where(Workshop.slug == "WKSHP-Python101"))
        assert workshop is not None
        workshop.badge_img = "python-badge.png"
    assert client.get("/api/v1/workshops/WKSHP-Python101").json()["badge_url"] == (
        "http://127.0.0.1:8000/badges/files/python-badge.png"
    )
    assert client.get("/badges/files/python-badge.png").status_code == 404
    private = tmp_path / "private"
    (private / "badges").mkdir(parents=True)
    (private / "badges" / "python-badge.png").write_bytes(b"\x89PNG fake")
    ctx.settings.content.paths = [layer, private]
    served = client.get("/badges/files/python-badge.png")
    assert served.status_code == 200 and served.content == b"\x89PNG fake"
    assert client.get("/badges/files/..%2Fwod.yml").status_code == 404
