"""Content layers from git, for real: a bare repository over file://, a private one over SSH to
an sshd on 127.0.0.1 with a deploy key. A sync fetches, checks, shows its diff and, applied,
records the content revision; seats get their revision's bundle from the api; a signed push
webhook asks for a sync; whatever goes wrong changes nothing and says which layer and why."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from tests.content_repos import Repo, git, keypair, make_repo, notebook_text, sshd
from tests.servers import ApiServer, serve
from wod.backend.agent import Agent
from wod.backend.client import ApiClient
from wod.backend.content import AgentContent
from wod.backend.verbs import Verbs
from wod.context import AppContext, build_context
from wod.db.models import ContentRevision, ContentSync, Registration, Workshop
from wod.domain.clock import FakeClock
from wod.errors import ContentSyncError, VerbError
from wod.hub.client import FakeHub
from wod.hub.credentials import MemoryCredentialStore
from wod.hub.modes.files import LocalSeatFiles
from wod.hub.modes.hub import HubAccounts
from wod.mail.sender import MemoryMailer
from wod.services import content
from wod.services.provisioning.locations import ensure_location, rotate_token
from wod.services.registrations import RegistrationRequest, register
from wod.settings import ContentSettings, Settings
from wod.web.app import create_app
from wod.wire import ContentRef

SECRET = "webhook-secret-for-tests"


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return make_repo(tmp_path / "repo")


def layered(settings: Settings, tmp_path: Path, layers: Sequence[Mapping[str, object]]) -> Settings:
    layer_settings = ContentSettings.model_validate(
        {"layers": layers, "checkout_dir": tmp_path / "checkout"}
    )
    content_settings = layer_settings.model_copy(
        update={"webhook_secret": SecretStr(SECRET), "auto_apply": True}
    )
    return settings.model_copy(update={"content": content_settings})


@pytest.fixture
def git_ctx(
    settings: Settings, tmp_path: Path, repo: Repo, clock: FakeClock, mailer: MemoryMailer
) -> Iterator[AppContext]:
    """The platform with one git layer, the repository's ``main``."""
    ctx = build_context(
        layered(settings, tmp_path, [{"name": "public", "git": repo.url}]),
        clock=clock,
        mailer=mailer,
    )
    with ctx.db.write() as s:
        location = ensure_location(
            s,
            name="local",
            hub_public_url="http://127.0.0.1:9",
            hub_api_url="http://127.0.0.1:9/hub/api",
            seat_min=1,
            seat_max=10,
            now=clock.now(),
        )
        rotate_token(s, location)
    yield ctx
    ctx.close()


def revisions(ctx: AppContext) -> int:
    with ctx.db.read() as s:
        return s.scalar(select(func.count()).select_from(ContentRevision)) or 0


def test_a_dry_run_changes_nothing_then_apply_records_the_revision(git_ctx: AppContext) -> None:
    dry = content.sync_content(git_ctx, apply=False)
    assert not dry.applied and [w.slug for w in dry.plan.workshops] == ["WKSHP-Git101"]
    with git_ctx.db.read() as s:
        assert s.scalar(select(Workshop.id)) is None
    assert revisions(git_ctx) == 0
    done = content.sync_content(git_ctx, apply=True)
    assert done.applied and done.layers[0].kind == "git" and len(done.layers[0].source) == 40
    with git_ctx.db.read() as s:
        assert s.scalars(select(Workshop.slug)).all() == ["WKSHP-Git101"]
    served = git_ctx.settings.content.paths[0] / "WKSHP-Git101" / "0-ReadMeFirst.ipynb"
    assert "version 1" in notebook_text(served)  # the api's own view follows the revision
    again = content.sync_content(git_ctx, apply=True)
    assert again.unchanged and revisions(git_ctx) == 1
    status = content.content_status(git_ctx)
    assert status.revision == done.digest and status.layers[0]["source"] == done.layers[0].source


@pytest.fixture
def server(git_ctx: AppContext) -> Iterator[ApiServer]:
    with serve(create_app(git_ctx, background=False)) as running:
        yield running


def agent_of(ctx: AppContext, server: ApiServer, cache: Path) -> tuple[Agent, AgentContent]:
    token = content_token(ctx)
    client = ApiClient(server.url, token)
    contents = AgentContent(ctx.content, client.bundle, cache)
    verbs = Verbs(
        ctx.settings,
        contents,
        LocalSeatFiles(ctx.settings.backend.students_dir),
        FakeHub(),
        HubAccounts(MemoryCredentialStore()),
    )
    return Agent(client, verbs, poll_interval=0.01, workers=1), contents


def content_token(ctx: AppContext) -> str:
    from wod.services.provisioning import new_location_token

    return new_location_token(ctx, "local")


def person(n: int) -> RegistrationRequest:
    return RegistrationRequest("WKSHP-Git101", f"p{n}@example.org", f"P {n}", "C", True)


def seat_notebook(ctx: AppContext, seat: int) -> str:
    home = ctx.settings.backend.students_dir / f"student{seat}"
    return notebook_text(home / "WKSHP-Git101" / "0-ReadMeFirst.ipynb")


def test_a_new_seat_gets_the_new_revision_a_live_seat_keeps_its_own(
    git_ctx: AppContext, server: ApiServer, repo: Repo, tmp_path: Path
) -> None:
    first = content.sync_content(git_ctx, apply=True)
    agent, contents = agent_of(git_ctx, server, tmp_path / "cache")
    live = register(git_ctx, person(1)).id
    assert agent.run_once()  # CREATE from revision 1, fetched as a bundle
    assert "student1: version 1" in seat_notebook(git_ctx, 1)
    repo.set_version("2")
    second = content.sync_content(git_ctx, apply=True)
    assert second.applied and second.digest != first.digest
    newer = register(git_ctx, person(2)).id
    assert agent.run_once()
    assert "student2: version 2" in seat_notebook(git_ctx, 2)
    assert "student1: version 1" in seat_notebook(git_ctx, 1)  # untouched
    with git_ctx.db.read() as s:
        ids = {r.id: r.content_revision_id for r in s.scalars(select(Registration))}
        by_id = {r.id: r.digest for r in s.scalars(select(ContentRevision))}
    assert by_id[ids[live] or 0] == first.digest and by_id[ids[newer] or 0] == second.digest
    assert sorted(contents.held()) == sorted({first.digest, second.digest})
    agent.close()


def test_the_heartbeat_fetches_the_revision_in_service_ahead(
    git_ctx: AppContext, server: ApiServer, tmp_path: Path
) -> None:
    done = content.sync_content(git_ctx, apply=True)
    agent, contents = agent_of(git_ctx, server, tmp_path / "cache")
    assert contents.held() == []
    agent.beat()  # nothing is registered yet: the bundles come ahead of the first seat
    assert contents.held() == [done.digest]
    agent.beat()  # now it says it holds the revision in service
    (location,) = content.content_status(git_ctx).locations
    assert location.revision == done.digest and not location.lags
    agent.close()


def test_a_bundle_changed_on_the_way_is_refused(
    git_ctx: AppContext, server: ApiServer, tmp_path: Path
) -> None:
    done = content.sync_content(git_ctx, apply=True)
    client = ApiClient(server.url, content_token(git_ctx))
    bundle = content.bundle_of(git_ctx, done.digest, "WKSHP-Git101")

    def tampered(revision: str, folder: str) -> bytes:
        return client.bundle(revision, folder) + b"\0"

    contents = AgentContent(git_ctx.content, tampered, tmp_path / "cache")
    ref = ContentRef(revision=done.digest, bundle=bundle.digest)
    with pytest.raises(VerbError, match="not the one the job names"):
        contents.ensure(ref, "WKSHP-Git101")
    assert not contents.folder(done.digest, "WKSHP-Git101").exists()
    missing = httpx.get(
        f"{server.url}/api/v1/backend/content/{'0' * 64}/WKSHP-Git101",
        headers={"Authorization": f"Bearer {content_token(git_ctx)}"},
    )
    assert missing.status_code == 404 and missing.json()["code"] == "content_not_found"
    client.close()


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "X-GitHub-Event": "push"}


def test_a_signed_push_webhook_syncs_a_forged_one_does_nothing(
    git_ctx: AppContext, server: ApiServer, repo: Repo
) -> None:
    body = json.dumps({"ref": "refs/heads/main"}).encode()
    url = f"{server.url}/api/v1/content/webhook"
    for headers in (
        signed(body, "not-the-secret"),
        {"X-Gitlab-Token": "not-the-secret"},
        {},
    ):
        refused = httpx.post(url, content=body, headers=headers)
        assert refused.status_code == 401, refused.text
    assert content.sync_due(git_ctx) == 0 and revisions(git_ctx) == 0  # nothing asked for
    accepted = httpx.post(url, content=body, headers=signed(body))
    assert accepted.status_code == 202 and accepted.json()["provider"] == "github"
    assert content.sync_due(git_ctx) == 1 and revisions(git_ctx) == 1  # auto_apply
    repo.set_version("2")
    gitlab = httpx.post(url, content=body, headers={"X-Gitlab-Token": SECRET})
    assert gitlab.status_code == 202
    assert content.sync_due(git_ctx) == 1 and revisions(git_ctx) == 2
    assert content.sync_due(git_ctx) == 0  # asked once, synced once


def test_a_forced_push_is_refused_until_forced(git_ctx: AppContext, repo: Repo) -> None:
    content.sync_content(git_ctx, apply=True)
    git(repo.work, "reset", "-q", "--hard", "HEAD")
    git(repo.work, "commit", "-q", "--amend", "-m", "history rewritten")
    git(repo.work, "push", "-q", "--force", "origin", "HEAD:main")
    with pytest.raises(ContentSyncError, match="layer public: main was forced past"):
        content.sync_content(git_ctx, apply=True)
    assert revisions(git_ctx) == 1  # the revision in service stays
    assert content.sync_content(git_ctx, apply=True, force=True).applied


def test_a_broken_wod_yml_changes_nothing(git_ctx: AppContext, repo: Repo) -> None:
    first = content.sync_content(git_ctx, apply=True)
    (repo.work / "WKSHP-Git101" / "wod.yml").write_text("name: [unclosed\n")
    repo.commit("broken")
    broken = content.sync_content(git_ctx, apply=True)
    assert not broken.applied and broken.refused and broken.report.errors
    assert content.content_status(git_ctx).revision == first.digest


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        ({"git": "file:///nonexistent/repo.git"}, "layer public: cannot fetch"),
        ({"ref": "no-such-branch"}, "no branch, tag or commit 'no-such-branch'"),
        ({"ssh_key_file": "/nonexistent/key"}, "its ssh_key_file /nonexistent/key does not exist"),
        ({"token_env": "WOD_TEST_NO_SUCH_TOKEN"}, "WOD_TEST_NO_SUCH_TOKEN (its token_env) is not"),
    ],
    ids=["unreachable", "ref", "deploy-key", "token"],
)
def test_each_bad_layer_is_named_and_changes_nothing(
    settings: Settings,
    tmp_path: Path,
    repo: Repo,
    clock: FakeClock,
    layer: dict[str, object],
    message: str,
) -> None:
    bad = layered(settings, tmp_path, [{"name": "public", "git": repo.url, **layer}])
    ctx = build_context(bad, clock=clock, mailer=MemoryMailer())
    try:
        with pytest.raises(ContentSyncError, match=re.escape(message)):
            content.sync_content(ctx, apply=True)
        assert revisions(ctx) == 0
    finally:
        ctx.close()


def test_a_failed_scheduled_sync_tells_the_admins_and_keeps_the_revision(
    git_ctx: AppContext, repo: Repo
) -> None:
    git_ctx.settings.alerts.recipients.append("ops@example.org")
    content.request_sync(git_ctx)
    assert content.sync_due(git_ctx) == 1 and revisions(git_ctx) == 1
    for path in sorted(repo.remote.rglob("*"), reverse=True):  # the remote is gone
        path.unlink() if path.is_file() else path.rmdir()
    content.request_sync(git_ctx)
    assert content.sync_due(git_ctx) == 1
    with git_ctx.db.read() as s:
        state = s.get(ContentSync, 1)
    assert state is not None and "cannot fetch" in (state.last_error or "")
    assert revisions(git_ctx) == 1 and content.content_status(git_ctx).revision is not None


@pytest.mark.skipif(os.geteuid() != 0, reason="the test's sshd runs as root (CI runs as root)")
def test_a_private_repository_over_ssh_with_a_deploy_key(
    settings: Settings, tmp_path: Path, repo: Repo, clock: FakeClock
) -> None:
    deploy = keypair(tmp_path, "deploy_key")
    stranger = keypair(tmp_path, "other_key")
    with sshd(tmp_path / "sshd", deploy) as port:
        url = f"ssh://root@127.0.0.1:{port}{repo.remote}"
        for key, ok in ((stranger, False), (deploy, True)):
            layers = [{"name": "private", "git": url, "ssh_key_file": str(key)}]
            ctx = build_context(
                layered(settings, tmp_path / f"with-{key.name}", layers),
                clock=clock,
                mailer=MemoryMailer(),
            )
            try:
                if ok:
                    assert content.sync_content(ctx, apply=True).applied
                else:
                    with pytest.raises(ContentSyncError, match="refused its credentials"):
                        content.sync_content(ctx, apply=True)
            finally:
                ctx.close()


def test_the_console_shows_the_revision_and_a_location_that_lags(
    git_ctx: AppContext, server: ApiServer, repo: Repo, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from tests.integration.test_admin_console import PASSWORD, login
    from wod.domain.roles import Role
    from wod.services.admin import users

    first = content.sync_content(git_ctx, apply=True)
    agent, _ = agent_of(git_ctx, server, tmp_path / "cache")
    agent.beat()
    agent.beat()
    repo.set_version("2")
    second = content.sync_content(git_ctx, apply=True)
    users.create_user(git_ctx, "alice", PASSWORD, Role.admin)
    with TestClient(create_app(git_ctx, background=False)) as console:
        assert login(console, "alice").status_code == 303
        page = console.get("/admin/workshops").text
    assert f"Revision <code>{second.digest[:12]}</code> in service" in page
    assert f"holds <code>{first.digest[:12]}</code>" in page and "lags behind" in page
    agent.beat()  # it fetches the new revision, and says so at its next beat
    agent.beat()
    assert not content.content_status(git_ctx).locations[0].lags
    agent.close()
