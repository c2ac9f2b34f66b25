"""Content from git on the real stack (api with its loops, agent, JupyterHub, SMTP): a push,
then a signed webhook delivery, and the new revision reaches the next seat on the hub while the
live seat keeps the one it started with — down to its cleanup."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from tests.content_repos import Repo, make_repo
from tests.e2e.conftest import wait_for
from tests.e2e.test_end_to_end import credentials, login
from tests.stack import LocalStack, local_stack, stack_settings
from wod.context import build_context
from wod.domain.clock import FakeClock
from wod.services import content
from wod.settings import ContentSettings, Settings

pytestmark = pytest.mark.hub
SECRET = "e2e-webhook-secret"
WORKSHOP = "WKSHP-Git101"


def git_settings(tmp_path: Path, database_url: str, repo: Repo) -> Settings:
    settings = stack_settings(tmp_path, database_url)
    layers = ContentSettings.model_validate(
        {
            "layers": [{"name": "public", "git": repo.url}],
            "checkout_dir": tmp_path / "checkout",
            "auto_apply": True,
        }
    ).model_copy(update={"webhook_secret": SecretStr(SECRET)})
    return settings.model_copy(update={"content": layers})


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return make_repo(tmp_path / "repo")


@pytest.fixture
def git_stack(
    tmp_path: Path, database_url: str, clock: FakeClock, repo: Repo
) -> Iterator[LocalStack]:
    settings = git_settings(tmp_path, database_url, repo)
    first = build_context(settings, clock=clock)
    assert content.sync_content(first, apply=True).applied  # revision 1 in service
    first.close()
    with local_stack(settings, clock) as stack:
        yield stack


def mails(stack: LocalStack) -> list[dict[str, str]]:
    answer: list[dict[str, str]] = httpx.get(f"{stack.api.url}/api/v1/dev/mail").json()
    return answer


def register(stack: LocalStack, email: str) -> tuple[str, str]:
    body = {"workshop": WORKSHOP, "email": email, "name": "P", "company": "C", "accept_terms": True}
    assert httpx.post(f"{stack.api.url}/api/v1/registrations", json=body).status_code == 201
    found = wait_for(
        lambda: next(
            (m for m in mails(stack) if m["to"] == email and "credentials" in m["subject"]), None
        ),
        90,
        f"the credentials of {email}",
    )
    return credentials(found["text"])


def final_mail(stack: LocalStack, email: str) -> dict[str, str]:
    def find() -> dict[str, str] | None:
        return next(
            (m for m in mails(stack) if m["to"] == email and "Thanks" in m["subject"]), None
        )

    return wait_for(find, 90, f"the final email of {email}")


def readme(stack: LocalStack, user: str, password: str) -> str:
    web = login(stack.ctx.settings.hub.public_url, user, password)
    try:
        answer = web.get(f"/user/{user}/api/contents/{WORKSHOP}/0-ReadMeFirst.ipynb")
        assert answer.status_code == 200, answer.text
        return json.dumps(answer.json()["content"]["cells"])
    finally:
        web.close()


def test_a_push_and_its_webhook_reach_the_next_seat_the_live_one_keeps_its_own(
    git_stack: LocalStack, repo: Repo, clock: FakeClock
) -> None:
    stack = git_stack
    first = content.content_status(stack.ctx).revision
    live = register(stack, "first@example.org")
    assert "version 1" in readme(stack, *live)

    repo.set_version("2")
    body = json.dumps({"ref": "refs/heads/main"}).encode()
    signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    forged = httpx.post(
        f"{stack.api.url}/api/v1/content/webhook",
        content=body,
        headers={"X-Hub-Signature-256": "sha256=" + "0" * 64},
    )
    assert forged.status_code == 401
    delivered = httpx.post(
        f"{stack.api.url}/api/v1/content/webhook",
        content=body,
        headers={"X-Hub-Signature-256": f"sha256={signature}"},
    )
    assert delivered.status_code == 202
    second = wait_for(
        lambda: (r := content.content_status(stack.ctx).revision) != first and r,
        90,
        "the webhook's sync to put a new revision in service",
    )

    newer = register(stack, "second@example.org")
    assert "version 2" in readme(stack, *newer)
    assert "version 1" in readme(stack, *live)  # the live seat keeps its revision

    clock.advance(timedelta(hours=3))
    stack.wake()
    for person in ("first@example.org", "second@example.org"):
        final_mail(stack, person)
    cache = stack.ctx.settings.backend.content_cache
    assert {p.name for p in cache.iterdir() if p.is_dir()} >= {first or "", second}
