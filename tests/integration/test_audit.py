"""The audit log: the console's logins and actions (done or refused), the ``wod admins`` and
``wod tokens`` commands, admin tokens; the page with its filters and pages, and its export."""

from __future__ import annotations

import csv
import getpass
import io
import re
import socket
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from wod.cli.main import app as cli
from wod.context import AppContext
from wod.db.models import AuditEvent, Email, Job, Location, Workshop
from wod.domain.clock import FakeClock
from wod.domain.roles import Role
from wod.domain.states import JobState, Verb
from wod.services.admin import audit, tokens
from wod.services.admin import users as admin_users
from wod.services.mail import outbox
from wod.services.provisioning.jobs import claim_job, lease_duration
from wod.services.registrations import RegistrationRequest, register
from wod.services.registrations.outcomes import record_report
from wod.web.app import create_app
from wod.wire import JobReport

PASSWORD = "correct horse battery"
CLIENT = "testclient"  # the client address of Starlette's test client


def run_next(ctx: AppContext, ok: bool = True, **report: Any) -> Job:
    with ctx.db.write() as s:
        location = s.scalars(select(Location).where(Location.name == "local")).one()
        job = claim_job(s, location, ctx.clock.now(), lease_duration(ctx))
        assert job is not None, "no job to run"
        values = {"password": "Seat-Passw0rd-123"} if ok and job.verb is Verb.CREATE else {}
        record_report(ctx, s, location, job.id, JobReport(ok=ok, **(values | report)))
        return job


def login(client: TestClient, username: str, password: str = PASSWORD) -> httpx.Response:
    if "wod_csrf" not in client.cookies:
        client.get("/admin/login")
    form = {"username": username, "password": password, "csrf_token": client.cookies["wod_csrf"]}
    answer: httpx.Response = client.post("/admin/login", data=form, follow_redirects=False)
    return answer


def act(client: TestClient, path: str, **data: str) -> httpx.Response:
    """Post an action's form, irreversible ones confirmed (as the dialog or page does)."""
    form = {"csrf_token": client.cookies["wod_csrf"], "confirmed": "yes", **data}
    answer: httpx.Response = client.post(path, data=form, follow_redirects=False)
    return answer


def events(ctx: AppContext, since: int = 0) -> list[AuditEvent]:
    with ctx.db.read() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.id > since).order_by("id")))


def last_id(ctx: AppContext) -> int:
    found = events(ctx)
    return found[-1].id if found else 0


@pytest.fixture
def app(ctx: AppContext, token: str) -> FastAPI:
    admin_users.create_user(ctx, "alice", PASSWORD, Role.admin)
    admin_users.create_user(ctx, "victor", PASSWORD, Role.viewer)
    return create_app(ctx, background=False)


@pytest.fixture
def alice(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        assert login(client, "alice").status_code == 303
        yield client


def test_logins_failed_logins_and_logouts(app: FastAPI, ctx: AppContext) -> None:
    with TestClient(app) as client:
        assert login(client, "alice", "not the password").status_code == 401
        assert login(client, "mallory", "hunter2 typed as a name").status_code == 401
        assert login(client, "victor").status_code == 303
        assert act(client, "/admin/logout").status_code == 303
    found = [(e.action, e.actor, e.role, e.outcome, e.address) for e in events(ctx)]
    assert found == [
        ("login.failed", "alice", "admin", "refused", CLIENT),
        ("login.failed", "(unknown user)", None, "refused", CLIENT),
        ("login", "victor", "viewer", "done", CLIENT),
        ("logout", "victor", "viewer", "done", CLIENT),
    ]
    written = repr([vars(e) for e in events(ctx)])
    assert "mallory" not in written and "hunter2" not in written and PASSWORD not in written


def test_each_console_action_is_recorded_done_or_refused(
    alice: TestClient, ctx: AppContext, clock: FakeClock
) -> None:
    rid = register(ctx, RegistrationRequest("WKSHP-Python101", "p@example.org", "P", "C", True)).id
    run_next(ctx)
    outbox.send_due(ctx)
    start = last_id(ctx)
    back = {"back": "/admin/registrations"}
    act(alice, f"/admin/registrations/{rid}/extend", **back)
    act(alice, f"/admin/registrations/{rid}/extend", **back)  # the second is refused
    act(alice, f"/admin/registrations/{rid}/end", **back)
    for _ in range(ctx.settings.scheduler.job_attempts):  # its CLEANUP fails: seat broken
        run_next(ctx, ok=False, error="hook failed")
        clock.advance(timedelta(minutes=5))
    with ctx.db.read() as s:
        cleanup = s.scalars(select(Job).where(Job.verb == Verb.CLEANUP)).one()
        welcome = s.scalars(select(Email).where(Email.kind == "welcome")).one()
    assert cleanup.state is JobState.failed
    act(alice, f"/admin/jobs/{cleanup.id}/retry")
    act(alice, f"/admin/jobs/{cleanup.id}/retry")  # not the latest job of its seat any more
    act(alice, f"/admin/emails/{welcome.id}/resend")  # its registration holds no seat: refused
    act(alice, f"/admin/registrations/{rid}/purge", **back)
    act(alice, "/admin/seats/local/5/purge")
    act(alice, "/admin/workshops/import", plan="0" * 64)  # a plan never shown: refused
    found = [(e.action, e.target, e.outcome, e.detail) for e in events(ctx, start)]
    assert [f[:3] for f in found] == [
        ("registration.extend", f"registration {rid}", "done"),
        ("registration.extend", f"registration {rid}", "refused"),
        ("registration.end", f"registration {rid}", "done"),
        ("job.retry", f"job {cleanup.id}", "done"),
        ("job.retry", f"job {cleanup.id}", "refused"),
        ("email.resend", f"email {welcome.id}", "refused"),
        ("registration.purge", f"registration {rid}", "done"),
        ("seat.purge", "seat 5 at local", "done"),
        ("workshops.import", "plan 0000000000000000", "refused"),
    ]
    assert found[0][3].startswith(f"Registration {rid} extended: it now ends at")
    assert found[1][3] == "This registration was already extended once."
    assert found[3][3].startswith(f"Job {cleanup.id} retried as job")
    assert found[5][3].startswith("The welcome email is not resent")
    assert found[8][3].startswith("The content or the database changed")
    assert {(e.actor, e.role, e.actor_kind, e.address) for e in events(ctx, start)} == {
        ("alice", "admin", "console", CLIENT)
    }


def test_an_import_applied(alice: TestClient, ctx: AppContext) -> None:
    with ctx.db.write() as s:  # the database differs from the content: one update to apply
        s.scalars(select(Workshop).where(Workshop.slug == "WKSHP-Shell101")).one().capacity = 3
    shown = alice.get("/admin/workshops/import").text
    digest = re.search(r'name="plan" value="([0-9a-f]+)"', shown)
    assert digest is not None
    start = last_id(ctx)
    assert act(alice, "/admin/workshops/import", plan=digest[1]).status_code == 303
    (event,) = events(ctx, start)
    assert (event.action, event.target, event.outcome, event.detail) == (
        "workshops.import",
        f"plan {digest[1][:16]}",
        "done",
        "Imported: 1 workshop(s) changed.",
    )


def test_a_refused_action_of_a_viewer_is_not_an_action(app: FastAPI, ctx: AppContext) -> None:
    with TestClient(app) as victor:
        login(victor, "victor")
        start = last_id(ctx)
        assert act(victor, "/admin/seats/local/5/purge").status_code == 403
        assert victor.get("/admin/audit").status_code == 200  # viewers read the log
    assert events(ctx, start) == []


def test_the_admins_and_tokens_commands(ctx: AppContext) -> None:
    env = {"WOD_DATABASE_URL": ctx.settings.resolved_database_url}
    runner = CliRunner()

    def wod(*args: str, stdin: str | None = None) -> str:
        done = runner.invoke(cli, list(args), stdin, env=env)
        assert done.exit_code == 0, done.output
        return done.output

    wod("admins", "add", "ops", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    wod("admins", "role", "ops", "viewer")
    wod("admins", "unlock", "ops")
    wod("admins", "passwd", "ops", "--password-stdin", stdin="another good password\n")
    wod("admins", "list")  # reads: not recorded
    secret = wod("tokens", "add", "ci", "--role", "admin").split()[-1]
    wod("tokens", "revoke", "ci")
    wod("admins", "remove", "ops")
    assert runner.invoke(cli, ["admins", "remove", "ops"], env=env).exit_code == 1  # not done
    found = [(e.action, e.target, e.detail) for e in events(ctx)]
    assert found == [
        ("admin.add", "admin ops", "admin"),
        ("admin.role", "admin ops", "viewer"),
        ("admin.unlock", "admin ops", ""),
        ("admin.passwd", "admin ops", ""),
        ("token.add", "token ci", "admin"),
        ("token.revoke", "token ci", ""),
        ("admin.remove", "admin ops", ""),
    ]
    who = {(e.actor_kind, e.actor, e.address) for e in events(ctx)}
    assert who == {("cli", getpass.getuser(), socket.gethostname())}
    written = repr([vars(e) for e in events(ctx)])
    assert secret.startswith("woda_") and secret not in written and PASSWORD not in written


def test_an_admin_token_is_named_by_its_name(ctx: AppContext) -> None:
    secret = tokens.create_token(ctx, "deploy bot", Role.admin)
    assert audit.token_who(ctx, secret, "198.51.100.4") == audit.Who(
        audit.ActorKind.token, "deploy bot", "admin", "198.51.100.4"
    )
    assert audit.token_who(ctx, "woda_nope", "x").name == "(unknown token)"
    audit.record(
        ctx,
        audit.token_who(ctx, secret, "198.51.100.4"),
        audit.Action.seat_purge,
        "seat 3 at local",
    )
    (event,) = events(ctx)
    assert (event.actor_kind, event.actor, event.action) == ("token", "deploy bot", "seat.purge")


def page_ids(client: TestClient, query: str) -> list[int]:
    answer = client.get(f"/admin/audit?{query}")
    assert answer.status_code == 200
    return [int(n) for n in re.findall(r'<tr id="event-(\d+)">', answer.text)]


def csv_rows(answer: httpx.Response) -> list[dict[str, str]]:
    assert answer.status_code == 200, answer.text
    return list(csv.DictReader(io.StringIO(answer.text)))


def test_the_page_filters_and_pages_and_its_export_follows(
    alice: TestClient, ctx: AppContext, clock: FakeClock
) -> None:
    bob = audit.Who(audit.ActorKind.console, "bob", "admin", "192.0.2.1")
    for n in range(60):
        if n == 30:
            clock.advance(timedelta(days=2))  # 2026-11-30
        outcome = audit.Outcome.refused if n % 3 == 0 else audit.Outcome.done
        action = audit.Action.seat_purge if n % 2 else audit.Action.job_retry
        audit.record(ctx, bob, action, f"thing {n}", outcome=outcome, detail=f"n={n}")
    clock.advance(-timedelta(days=2))  # back to when alice logged in: her session holds
    everyone = page_ids(alice, "")
    assert len(everyone) == 50 and everyone == sorted(everyone, reverse=True)
    assert "page 1 of 2" in alice.get("/admin/audit").text
    second = page_ids(alice, "page=2")
    assert len(second) == 11 and not set(second) & set(everyone)  # 60 and alice's login
    with ctx.db.read() as s:
        stored = {e.id: e for e in s.scalars(select(AuditEvent))}
    refused_purges = page_ids(alice, "action=seat.purge&outcome=refused")
    assert refused_purges and all(
        stored[i].action == "seat.purge" and stored[i].outcome == "refused" for i in refused_purges
    )
    assert len(refused_purges) == len([n for n in range(60) if n % 2 and n % 3 == 0])
    assert {stored[i].actor for i in page_ids(alice, "actor=BO")} == {"bob"}
    first_day = sorted((i for i, e in stored.items() if e.at.day == 28 and e.actor == "bob"))
    assert page_ids(alice, "to=2026-11-28&actor=bob") == first_day[::-1]
    assert len(page_ids(alice, "from=2026-11-29&to=2026-11-30&actor=bob")) == 30
    assert page_ids(alice, "from=2026-12-01") == []
    assert page_ids(alice, "from=not-a-date&actor=bob")[:50] == page_ids(alice, "actor=bob")

    query = "action=seat.purge&outcome=refused"
    answer = alice.get(f"/admin/audit.csv?{query}")
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="audit-\d{8}-\d{4}\.csv"', answer.headers["content-disposition"]
    )
    rows = csv_rows(answer)
    assert [int(r["id"]) for r in rows] == refused_purges
    assert rows[0]["actor"] == "bob" and rows[0]["address"] == "192.0.2.1"
    assert rows[0]["at"] == "2026-11-30 09:00:00"
    exported = events(ctx)[-1]
    assert (exported.action, exported.actor, exported.address) == (
        "export.audit",
        "alice",
        CLIENT,
    )
    assert exported.detail == (f"{len(rows)} row(s); filters: action=seat.purge, outcome=refused")
    assert (
        f'href="/admin/audit.csv?{query.replace("&", "&amp;")}"'
        in alice.get(f"/admin/audit?{query}").text
    )


@pytest.mark.parametrize(
    "detail", ['=HYPERLINK("http://x")', "+1", "-1+2", "@SUM(A1)", "\tx", "\rx"]
)
def test_the_export_never_holds_a_formula(alice: TestClient, ctx: AppContext, detail: str) -> None:
    who = audit.Who(audit.ActorKind.console, "bob", "admin", "192.0.2.1")
    audit.record(ctx, who, audit.Action.seat_purge, detail=detail)
    rows = csv_rows(alice.get("/admin/audit.csv?action=seat.purge"))
    assert [r["detail"] for r in rows] == ["'" + detail]
