"""Content from git, timed on this machine with a real repository (file://) of generated
workshops, the api (uvicorn, with its scheduler, outbox and content loops) and an agent in a
thread (real seat files, a fake hub: the hub is not what is measured here).

Prints:
  - the first sync of N workshops (clone, export, check, import, archives in the database),
  - a no-op sync (nothing changed upstream),
  - a sync after one notebook changed,
  - a push and its signed webhook → the revision in service, → a new seat holding the new version,
  - a workshop's bundle on a hub host: cold (built by the api, fetched, checked, unpacked),
    built already on the api, and cached on the hub host.

Run: .venv/bin/python -m bench.content_sync [--workshops 50] [--runs 5]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from pydantic import SecretStr
from tests.content_repos import Repo, git, make_repo, notebook_text, readme
from tests.factories import make_workshop
from tests.servers import ApiServer

from wod.backend.agent import Agent
from wod.backend.client import ApiClient
from wod.backend.content import AgentContent
from wod.backend.verbs import Verbs
from wod.context import AppContext, build_context
from wod.db.migrate import upgrade
from wod.hub.client import FakeHub
from wod.hub.credentials import MemoryCredentialStore
from wod.hub.modes.files import LocalSeatFiles
from wod.hub.modes.hub import HubAccounts
from wod.services import content
from wod.services.content.bundles import bundle_of
from wod.services.provisioning.locations import ensure_location, rotate_token
from wod.settings import ContentSettings, Settings
from wod.web.app import create_app
from wod.wire import ContentRef

SECRET = "bench-webhook-secret"


def timed(step: Callable[[], object]) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def generated(folder: Path, count: int) -> Repo:
    """A repository of ``count`` workshops, 10 seats each, three notebooks per workshop."""
    repo = make_repo(folder)
    for n in range(count):
        slug = f"WKSHP-Gen{n:03d}"
        low = 10 + n * 10
        made = make_workshop(repo.work, slug, (low, low + 9), readme=readme("1"))
        for lab in ("1-Lab", "2-Lab"):
            (made / f"{lab}.ipynb").write_text(readme(f"{lab} of {slug}"))
        (made / "picture.png").write_bytes(hashlib.sha256(slug.encode()).digest() * 256)
    repo.commit(f"{count} workshops")
    return repo


def context(folder: Path, repo: Repo) -> AppContext:
    layers = ContentSettings.model_validate(
        {
            "layers": [{"name": "public", "git": repo.url}],
            "checkout_dir": folder / "checkout",
            "auto_apply": True,
        }
    ).model_copy(update={"webhook_secret": SecretStr(SECRET)})
    settings = Settings(
        database_url=f"sqlite:///{folder / 'wod.sqlite3'}",
        data_dir=folder / "data",
        content=layers,
        backend={"students_dir": folder / "students", "content_cache": folder / "cache"},
        scheduler={"interval": 0.2},
        outbox={"enabled": False},
    )
    ctx = build_context(settings)
    upgrade(ctx.db)
    with ctx.db.write() as s:
        location = ensure_location(
            s,
            name="local",
            hub_public_url="http://127.0.0.1:9",
            hub_api_url="http://127.0.0.1:9/hub/api",
            seat_min=1,
            seat_max=2000,
            now=ctx.clock.now(),
        )
        rotate_token(s, location)
    return ctx


def agent(ctx: AppContext, url: str, cache: Path) -> tuple[Agent, AgentContent]:
    from wod.services.provisioning import new_location_token

    client = ApiClient(url, new_location_token(ctx, "local"))
    contents = AgentContent(ctx.content, client.bundle, cache)
    verbs = Verbs(
        ctx.settings,
        contents,
        LocalSeatFiles(ctx.settings.backend.students_dir),
        FakeHub(),
        HubAccounts(MemoryCredentialStore()),
    )
    return Agent(client, verbs, poll_interval=0.01, workers=2), contents


def webhook_to_seat(ctx: AppContext, repo: Repo, api: str) -> tuple[float, float]:
    """Seconds from a push's webhook to the revision in service, and to a new seat holding it."""
    before = content.content_status(ctx).revision
    repo.set_version("2", "WKSHP-Gen000")
    body = json.dumps({"ref": "refs/heads/main"}).encode()
    signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    started = time.perf_counter()
    answer = httpx.post(
        f"{api}/api/v1/content/webhook",
        content=body,
        headers={"X-Hub-Signature-256": f"sha256={signature}"},
    )
    assert answer.status_code == 202, answer.text
    while content.content_status(ctx).revision == before:
        time.sleep(0.01)
    synced = time.perf_counter() - started
    person = {"name": "P", "company": "C", "accept_terms": True, "email": "p@example.org"}
    made = httpx.post(f"{api}/api/v1/registrations", json={"workshop": "WKSHP-Gen000", **person})
    assert made.status_code == 201, made.text
    home = ctx.settings.backend.students_dir / "student10" / "WKSHP-Gen000"
    while not (home / "0-ReadMeFirst.ipynb").is_file() or "version 2" not in notebook_text(
        home / "0-ReadMeFirst.ipynb"
    ):
        time.sleep(0.01)
    return synced, time.perf_counter() - started


def bundles(ctx: AppContext, contents: AgentContent, runs: int) -> dict[str, list[float]]:
    revision = content.content_status(ctx).revision
    assert revision is not None
    found: dict[str, list[float]] = {"cold": [], "built on the api": [], "cached": []}
    for n in range(1, runs + 1):
        slug = f"WKSHP-Gen{n:03d}"
        shutil.rmtree(ctx.settings.content.checkout_dir / "bundles", ignore_errors=True)
        started = time.perf_counter()
        ref = ContentRef(revision=revision, bundle=bundle_of(ctx, revision, slug).digest)
        contents.ensure(ref, slug)
        found["cold"].append(time.perf_counter() - started)
        shutil.rmtree(contents.folder(revision, slug))
        found["built on the api"].append(timed(lambda: contents.ensure(ref, slug)))  # noqa: B023
        found["cached"].append(timed(lambda: contents.ensure(ref, slug)))  # noqa: B023
    return found


def ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:.1f} ms (min {min(values) * 1000:.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workshops", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="wod-bench-content-"))
    try:
        repo = generated(folder / "repo", args.workshops)
        files = len(git(repo.work, "ls-files").splitlines())
        print(f"repository: {args.workshops} workshops, {files} files")
        ctx = context(folder, repo)
        first = timed(lambda: content.sync_content(ctx, apply=True))
        print(f"first sync (clone, export, check, import, archive): {first:.2f} s")
        noop = [timed(lambda: content.sync_content(ctx, apply=True)) for _ in range(args.runs)]
        print(f"no-op sync: {ms(noop)}")
        changed = []
        for n in range(args.runs):
            repo.set_version(f"1.{n}", "WKSHP-Gen001")
            changed.append(timed(lambda: content.sync_content(ctx, apply=True)))
        print(f"sync after one changed notebook: {ms(changed)}")
        server = ApiServer(create_app(ctx))
        server.start()
        running, contents = agent(ctx, server.url, folder / "cache")
        thread = threading.Thread(target=running.run, daemon=True)
        thread.start()
        try:
            synced, seat = webhook_to_seat(ctx, repo, server.url)
            print(f"push + webhook → revision in service: {synced:.2f} s; → new seat: {seat:.2f} s")
            for kind, values in bundles(ctx, contents, args.runs).items():
                print(f"bundle of one workshop, {kind}: {ms(values)}")
        finally:
            running.stop()
            thread.join(30)
            server.stop()
            ctx.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
