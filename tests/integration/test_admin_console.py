"""The admin console (/admin) through HTTP: login, lockout, sessions, the guard of every route
(taken from the router, so a new route is covered without a new test), CSRF on every form,
the viewer role, each action, the dashboard, and the ``wod admins`` commands."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypedDict, TypeVar, Unpack

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.factories import make_workshop
from wod.admin.router import PAGES
from wod.cli.main import app as cli
from wod.content.layers import Content
from wod.context import AppContext
from wod.db.models import (
    AdminSession,
    AdminUser,
    Email,
    Job,
    Location,
    Registration,
    Seat,
    Workshop,
)
from wod.domain.clock import FakeClock
from wod.domain.roles import Role
from wod.domain.secrets import manage_token
from wod.domain.states import EmailState, JobState, RegistrationState, SeatState, Verb
from wod.mail.sender import MemoryMailer
from wod.services.admin import sessions
from wod.services.admin import users as admin_users
from wod.services.mail import outbox
from wod.services.provisioning.jobs import claim_job, lease_duration
from wod.services.registrations import RegistrationRequest, register
from wod.services.registrations.manage import end_now, registration_for_token
from wod.services.registrations.outcomes import record_report
from wod.web.app import create_app
from wod.wire import JobReport

T = TypeVar("T")
PASSWORD = "correct horse battery"


def methods(route: APIRoute) -> set[str]:
    assert route.methods is not None
    return route.methods


ROUTES = sorted(
    (method, route.path)
    for page in PAGES
    for route in page.router.routes
    if isinstance(route, APIRoute)
    for method in methods(route)
    if method != "HEAD"
)
PUBLIC = {("GET", "/admin/login"), ("POST", "/admin/login"), ("GET", "/admin/static/{name:path}")}
GUARDED = [r for r in ROUTES if r not in PUBLIC]
FORMS = [r for r in ROUTES if r[0] == "POST"]
ACTIONS = [r for r in FORMS if r[1] not in ("/admin/login", "/admin/logout")]
PARAMS = {
    "registration_id": "1",
    "job_id": "1",
    "email_id": "1",
    "location": "local",
    "number": "1",
    "name:path": "admin.css",
}


def url(path: str) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: PARAMS[m[1]], path)


# --------------------------------------------------------------------- helpers


def person(n: int, workshop: str = "WKSHP-Python101") -> RegistrationRequest:
    return RegistrationRequest(workshop, f"person{n}@example.org", f"Person {n}", "Acme", True)


class Report(TypedDict, total=False):
    """What :func:`run_next` reports beyond ``ok`` (the fields of :class:`JobReport`)."""

    log: str
    error: str | None
    password: str | None
    completion: int | None


def run_next(ctx: AppContext, ok: bool = True, **report: Unpack[Report]) -> Job:
    """Claim the next job of location ``local`` and report it as the agent would."""
    with ctx.db.write() as s:
        location = s.scalars(select(Location).where(Location.name == "local")).one()
        job = claim_job(s, location, ctx.clock.now(), lease_duration(ctx))
        assert job is not None, "no job to run"
        values: Report = {"password": "Seat-Passw0rd-123"} if ok and job.verb is Verb.CREATE else {}
        values |= report
        record_report(ctx, s, location, job.id, JobReport(ok=ok, **values))
        return job


def fail_for_good(ctx: AppContext, clock: FakeClock) -> Job:
    """The next job fails every attempt."""
    for _ in range(ctx.settings.scheduler.job_attempts):
        job = run_next(ctx, ok=False, error="hook failed")
        clock.advance(timedelta(minutes=5))
    return job


def active(ctx: AppContext, n: int) -> int:
    rid = register(ctx, person(n)).id
    run_next(ctx)
    return rid


def row(ctx: AppContext, model: type[T], key: object) -> T:
    with ctx.db.read() as s:
        found = s.get(model, key)
        assert found is not None
        return found


def fingerprint(ctx: AppContext) -> list[tuple[object, ...]]:
    """Every row the console's actions could change (not when a session was last seen)."""
    with ctx.db.read() as s:
        rows: list[tuple[object, ...]] = []
        for model in (Registration, Seat, Job, Email, Workshop, AdminSession):
            for item in s.scalars(select(model).order_by(model.id)):
                values = vars(item).items()
                kept = [(k, repr(v)) for k, v in values if k[0] != "_" and k != "last_seen_at"]
                rows.append(tuple(sorted(kept)))
        return rows


def csrf_token(client: TestClient) -> str:
    if "wod_csrf" not in client.cookies:
        client.get("/admin/login")
    token: str = client.cookies["wod_csrf"]
    return token


def login(
    client: TestClient, username: str, password: str = PASSWORD, next: str = "/admin"
) -> httpx.Response:
    answer: httpx.Response = client.post(
        "/admin/login",
        data={
            "username": username,
            "password": password,
            "next": next,
            "csrf_token": csrf_token(client),
        },
        follow_redirects=False,
    )
    return answer


def act(client: TestClient, path: str, **data: str) -> httpx.Response:
    """Post an action's form, irreversible ones confirmed (as the dialog or page does)."""
    form = {"csrf_token": csrf_token(client), "confirmed": "yes", **data}
    answer: httpx.Response = client.post(path, data=form, follow_redirects=False)
    return answer


def flash(client: TestClient, answer: httpx.Response) -> str:
    assert answer.status_code == 303, answer.text
    page = client.get(answer.headers["location"])
    assert page.status_code == 200
    found = re.search(r'<div id="flash" class="flash ([^"]+)"[^>]*>([^<]*)</div>', page.text)
    assert found is not None
    return f"{found[1]}: {found[2]}"


@pytest.fixture
def users(ctx: AppContext, token: str) -> None:
    admin_users.create_user(ctx, "alice", PASSWORD, Role.admin)
    admin_users.create_user(ctx, "victor", PASSWORD, Role.viewer)


@pytest.fixture
def app(ctx: AppContext, users: None) -> FastAPI:
    return create_app(ctx, background=False)


@pytest.fixture
def anonymous(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def alice(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        assert login(client, "alice").status_code == 303
        yield client


@pytest.fixture
def victor(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        assert login(client, "victor").status_code == 303
        yield client


@pytest.fixture
def world(ctx: AppContext, clock: FakeClock, users: None) -> dict[str, int]:
    """Registration 1 active, a failed CLEANUP that left seat student2 broken, sent emails."""
    first = active(ctx, 1)
    second = active(ctx, 2)
    end_now(ctx, second, by_admin=True)
    cleanup = fail_for_good(ctx, clock)
    outbox.send_due(ctx)
    return {"active": first, "ended": second, "failed_job": cleanup.id}


# --------------------------------------------------------------------- login and sessions


def test_login_sets_a_strict_session_cookie_and_goes_to_next(
    anonymous: TestClient, ctx: AppContext
) -> None:
    form = anonymous.get("/admin/login?next=/admin/jobs%3Fstate%3Dfailed")
    assert form.status_code == 200 and '<html lang="en">' in form.text
    assert 'id="username"' in form.text and 'name="password"' in form.text
    assert 'value="/admin/jobs?state=failed"' in form.text
    answer = login(anonymous, "alice", next="/admin/jobs?state=failed")
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/jobs?state=failed"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("wod_admin=") and "HttpOnly" in cookie and "Path=/admin" in cookie
    assert "SameSite=strict" in cookie and "Secure" not in cookie
    token = anonymous.cookies["wod_admin"]
    with ctx.db.read() as s:
        stored = s.scalars(select(AdminSession.token_hash)).one()
    assert token not in stored
    assert anonymous.get("/admin").status_code == 200
    assert anonymous.get("/admin/login", follow_redirects=False).headers["location"] == "/admin"


def test_session_cookie_is_secure_behind_https(ctx: AppContext, users: None) -> None:
    ctx.settings.api.public_url = "https://wod.example.org"
    with TestClient(create_app(ctx, background=False)) as client:
        assert "Secure" in login(client, "alice").headers["set-cookie"]


@pytest.mark.parametrize(
    "elsewhere", ["https://evil.example/", "//evil.example/admin", "/manage/x"]
)
def test_login_never_leaves_the_console(anonymous: TestClient, elsewhere: str) -> None:
    assert login(anonymous, "alice", next=elsewhere).headers["location"] == "/admin"


def test_wrong_password_and_unknown_user_get_the_same_answer(
    anonymous: TestClient, ctx: AppContext
) -> None:
    wrong = login(anonymous, "alice", "not the password")
    unknown = login(anonymous, "mallory", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert admin_users.LOGIN_REFUSED in wrong.text and admin_users.LOGIN_REFUSED in unknown.text
    assert 'value="alice"' in wrong.text  # the name is kept, never the password
    assert "not the password" not in wrong.text
    assert "wod_admin" not in anonymous.cookies
    assert anonymous.get("/admin", follow_redirects=False).status_code == 303


def test_lockout_after_n_failures_then_unlock(anonymous: TestClient, ctx: AppContext) -> None:
    # the cli below reads the wall clock: lock the account at the real time
    assert isinstance(ctx.clock, FakeClock)
    ctx.clock.set(datetime.now(UTC))
    for _ in range(ctx.settings.admin.lockout_attempts):
        assert login(anonymous, "alice", "not the password").status_code == 401
    locked = login(anonymous, "alice")
    assert locked.status_code == 401 and "locked" in locked.text
    env = {"WOD_DATABASE_URL": ctx.settings.resolved_database_url}
    listed = CliRunner().invoke(cli, ["admins", "list"], env=env)
    assert "locked until" in listed.output
    assert CliRunner().invoke(cli, ["admins", "unlock", "alice"], env=env).exit_code == 0
    assert login(anonymous, "alice").status_code == 303


def test_one_address_trying_many_accounts_is_slowed_down(
    anonymous: TestClient, ctx: AppContext
) -> None:
    ctx.settings.admin.login_attempts_per_address = 3
    for name in ("mallory", "trent", "victor"):  # no account reaches its own lockout
        assert login(anonymous, name, "not the password").status_code == 401
    refused = login(anonymous, "alice")  # even the right password
    assert refused.status_code == 429 and "Too many logins from your address" in refused.text
    assert int(refused.headers["retry-after"]) == 15 * 60
    assert "wod_admin" not in anonymous.cookies
    with ctx.db.read() as s:
        assert s.scalars(select(AdminUser.failed_attempts).order_by(AdminUser.id)).all() == [0, 1]
    assert isinstance(ctx.clock, FakeClock)
    ctx.clock.advance(ctx.settings.admin.login_window)
    assert login(anonymous, "alice").status_code == 303


def test_logout_ends_the_session_on_the_server(app: FastAPI, ctx: AppContext) -> None:
    with TestClient(app) as client:
        login(client, "alice")
        stolen = client.cookies["wod_admin"]
        answer = act(client, "/admin/logout")
        assert answer.status_code == 303 and answer.headers["location"] == "/admin/login"
    with ctx.db.read() as s:
        assert s.scalar(select(func.count()).select_from(AdminSession)) == 0
    with TestClient(app, cookies={"wod_admin": stolen}) as replay:
        assert replay.get("/admin", follow_redirects=False).status_code == 303


def test_an_expired_session_is_refused(
    alice: TestClient, ctx: AppContext, clock: FakeClock
) -> None:
    assert alice.get("/admin", follow_redirects=False).status_code == 200
    clock.advance(ctx.settings.admin.session_lifetime)
    answer = alice.get("/admin/jobs", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/admin/login?next=/admin/jobs"


# --------------------------------------------------------------------- the guard of every route


def test_the_route_table_is_what_the_tests_cover() -> None:
    """The lists the guard tests run over come from the router: a sample must be in them."""
    assert ("GET", "/admin/jobs/{job_id}") in GUARDED
    assert ("POST", "/admin/workshops/import") in ACTIONS
    assert ("POST", "/admin/logout") in FORMS and ("POST", "/admin/login") in FORMS
    assert all(r[0] in ("GET", "POST") for r in ROUTES)


@pytest.mark.parametrize(("method", "path"), GUARDED, ids=lambda r: str(r))
def test_anonymous_requests_are_sent_to_login_or_refused(
    anonymous: TestClient, world: dict[str, int], ctx: AppContext, method: str, path: str
) -> None:
    before = fingerprint(ctx)
    if method == "GET":
        answer = anonymous.get(url(path), follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/admin/login?next=/admin")
    else:
        answer = act(anonymous, url(path), back="/admin", plan="x")
        assert answer.status_code == 403 and "Log in first" in answer.text
    assert fingerprint(ctx) == before


@pytest.mark.parametrize(("method", "path"), FORMS, ids=lambda r: str(r))
@pytest.mark.parametrize("bad", ["", "x" * 43], ids=["missing", "wrong"])
def test_every_form_refuses_a_missing_or_wrong_csrf_token(
    alice: TestClient, world: dict[str, int], ctx: AppContext, method: str, path: str, bad: str
) -> None:
    before = fingerprint(ctx)
    data = {"csrf_token": bad, "back": "/admin", "plan": "x", "username": "alice"}
    answer = alice.post(url(path), data=data | {"password": PASSWORD}, follow_redirects=False)
    assert answer.status_code == 403
    assert fingerprint(ctx) == before
    assert alice.get("/admin", follow_redirects=False).status_code == 200  # still logged in


@pytest.mark.parametrize(("method", "path"), ACTIONS, ids=lambda r: str(r))
def test_a_viewer_cannot_act(
    victor: TestClient, world: dict[str, int], ctx: AppContext, method: str, path: str
) -> None:
    before = fingerprint(ctx)
    answer = act(victor, url(path), back="/admin", plan="x")
    assert answer.status_code == 403 and "viewer" in answer.text
    assert fingerprint(ctx) == before


BUTTONS = re.compile(r"<button[^>]*>(End|Extend|Purge|Retry|Resend|Apply)</button>")


def test_a_viewer_sees_every_page_without_action_buttons(
    victor: TestClient, alice: TestClient, world: dict[str, int]
) -> None:
    pages = [url(p) for m, p in GUARDED if m == "GET"] + [
        f"/admin/jobs/{world['failed_job']}",
        "/admin/emails/1",
    ]
    for page in pages:
        answer = victor.get(page)
        assert answer.status_code == 200, page
        assert not BUTTONS.search(answer.text), page
    shown = {m[1] for p in pages for m in BUTTONS.finditer(alice.get(p).text)}
    assert shown == {"End", "Extend", "Purge", "Retry", "Resend"}  # Apply: nothing to import


# --------------------------------------------------------------------- registrations


def test_end_and_extend_a_registration(alice: TestClient, ctx: AppContext) -> None:
    rid = active(ctx, 1)
    page = alice.get("/admin/registrations?state=active")
    assert f'id="end-{rid}"' in page.text and f'id="extend-{rid}"' in page.text
    back = "/admin/registrations?state=active"
    ends = row(ctx, Registration, rid).ends_at
    assert ends is not None
    extended = act(alice, f"/admin/registrations/{rid}/extend", back=back)
    assert extended.headers["location"] == back
    assert flash(alice, extended).startswith("flash-ok: Registration 1 extended")
    assert row(ctx, Registration, rid).ends_at == ends + ctx.settings.registration.extend_by
    again = flash(alice, act(alice, f"/admin/registrations/{rid}/extend", back=back))
    assert again == "flash-error: This registration was already extended once."
    ended = flash(alice, act(alice, f"/admin/registrations/{rid}/end", back=back))
    assert ended.startswith("flash-ok: Registration 1 is ending")
    reg = row(ctx, Registration, rid)
    assert reg.state is RegistrationState.ending and reg.ended_reason == "ended_by_admin"
    with ctx.db.read() as s:
        assert s.scalars(select(Job.verb).order_by(Job.id.desc())).first() is Verb.CLEANUP
    refused = flash(alice, act(alice, f"/admin/registrations/{rid}/end", back=back))
    assert refused.startswith("flash-error:")
    missing = flash(alice, act(alice, "/admin/registrations/999/end", back=back))
    assert missing == "flash-error: No registration 999."


def test_irreversible_actions_look_dangerous_and_are_asked_first(
    alice: TestClient, ctx: AppContext, world: dict[str, int]
) -> None:
    rid = world["active"]
    page = alice.get("/admin/registrations?state=active").text
    for action in ("end", "purge"):
        form = re.search(rf'<form [^>]*id="{action}-{rid}"[^>]*>.*?</form>', page, re.DOTALL)
        assert form is not None and 'data-confirm="' in form[0] and 'class="danger"' in form[0]
        assert 'name="confirmed" value=""' in form[0]
    extend = re.search(rf'<form [^>]*id="extend-{rid}"[^>]*>.*?</form>', page, re.DOTALL)
    assert extend is not None and "data-confirm" not in extend[0]  # it undoes nothing
    assert 'id="purge-seat-local-2" class="action" data-confirm="Purge seat 2 at local?' in (
        alice.get("/admin/seats").text
    )
    for path, question in [
        (f"/admin/registrations/{rid}/end", f"End registration {rid} now?"),
        (f"/admin/registrations/{rid}/purge", f"Purge registration {rid}?"),
        ("/admin/seats/local/2/purge", "Purge seat 2 at local?"),
    ]:
        back = "/admin/registrations?state=active"
        asked = act(alice, path, back=back, confirmed="")  # no script: the server asks
        assert asked.status_code == 200 and question in asked.text, path
        assert f'<form method="post" action="{path}" id="confirm-form">' in asked.text
        assert 'name="confirmed" value="yes"' in asked.text and 'class="danger"' in asked.text
        assert 'id="confirm-cancel">' in asked.text
        assert 'name="csrf_token" value="' in asked.text
    assert row(ctx, Registration, rid).state is RegistrationState.active  # nothing was done
    assert row(ctx, Seat, 2).state is SeatState.broken
    forged = alice.post(
        f"/admin/registrations/{rid}/end", data={"confirmed": "yes"}, follow_redirects=False
    )
    assert forged.status_code == 403  # confirmed is no substitute for the CSRF token
    done = flash(alice, act(alice, f"/admin/registrations/{rid}/end"))
    assert done.startswith(f"flash-ok: Registration {rid} is ending")


def test_filters_and_search_of_registrations(alice: TestClient, ctx: AppContext) -> None:
    active(ctx, 1)
    register(ctx, person(2, "WKSHP-Shell101"))
    found = alice.get("/admin/registrations?q=PERSON2%40example").text
    assert "person2@example.org" in found and "person1@example.org" not in found
    assert "person1@" in alice.get("/admin/registrations?state=active").text
    assert "person1@" not in alice.get("/admin/registrations?workshop=WKSHP-Shell101").text
    assert 'id="none"' in alice.get("/admin/registrations?q=%25").text  # % is not a wildcard
    assert alice.get("/admin/registrations?state=nonsense").status_code == 200
    assert alice.get("/admin/registrations?page=0").status_code == 422


def test_purge_a_live_registration(alice: TestClient, ctx: AppContext) -> None:
    rid = register(ctx, person(1)).id
    assert outbox.send_due(ctx) == 1  # the welcome; the credentials are pending
    run_next(ctx)
    nonce = row(ctx, Registration, rid).manage_nonce
    message = flash(alice, act(alice, f"/admin/registrations/{rid}/purge"))
    assert message.startswith("flash-ok: Registration 1 stopped and erased; its seat is being")
    reg = row(ctx, Registration, rid)
    assert reg.state is RegistrationState.ended and reg.ended_reason == "purged_by_admin"
    assert (reg.name, reg.company, reg.email) == ("", "", "erased-1@erased.invalid")
    assert reg.erased_at == ctx.clock.now() and reg.password_enc is None
    assert reg.completion is None
    secret = manage_token(ctx.settings.secret_key.get_secret_value(), nonce)
    with ctx.db.read() as s:
        assert registration_for_token(s, secret) is None
        emails = s.scalars(select(Email).where(Email.registration_id == rid)).all()
        # the welcome went out: kept, with the address erased; the credentials never will
        assert [(e.kind, e.recipient) for e in emails] == [("welcome", "erased-1@erased.invalid")]
    assert row(ctx, Seat, reg.seat_id).state is SeatState.cleaning
    purge = run_next(ctx)
    assert purge.verb is Verb.PURGE and row(ctx, Seat, reg.seat_id).state is SeatState.free
    with ctx.db.read() as s:  # no final email, no badge for a purged registration
        assert s.scalar(select(Email.id).where(Email.kind == "final")) is None
    page = alice.get("/admin/registrations").text
    assert "person1@example.org" not in page and "erased" in page
    assert f'id="purge-{rid}"' not in page
    assert flash(alice, act(alice, f"/admin/registrations/{rid}/purge")).startswith(
        "flash-error: Registration 1 was already purged"
    )


def test_purge_a_waiting_and_an_ended_registration(
    alice: TestClient, ctx: AppContext, clock: FakeClock
) -> None:
    waiting = register(ctx, person(1)).id
    flash(alice, act(alice, f"/admin/registrations/{waiting}/purge"))
    reg = row(ctx, Registration, waiting)
    assert reg.state is RegistrationState.failed and reg.erased_at is not None
    with ctx.db.read() as s:
        jobs = s.scalars(select(Job).order_by(Job.id)).all()
        assert [(j.verb, j.state) for j in jobs] == [
            (Verb.CREATE, JobState.failed),
            (Verb.PURGE, JobState.queued),
        ]
        assert s.scalar(select(Email.id).where(Email.kind == "apology")) is None
    run_next(ctx)
    over = active(ctx, 2)
    act(alice, f"/admin/registrations/{over}/end")
    run_next(ctx, completion=80)  # CLEANUP: ended, final email queued
    before = [(j.id, j.state) for j in _jobs(ctx)]
    message = flash(alice, act(alice, f"/admin/registrations/{over}/purge"))
    assert message == f"flash-ok: Registration {over} erased."
    reg = row(ctx, Registration, over)
    assert reg.state is RegistrationState.ended and reg.completion == 80  # figures kept
    assert reg.email == f"erased-{over}@erased.invalid"
    assert [(j.id, j.state) for j in _jobs(ctx)] == before  # nothing to clean


def test_purge_while_its_cleanup_runs_leaves_the_seat_to_the_cleanup(
    alice: TestClient, ctx: AppContext
) -> None:
    rid = active(ctx, 1)
    act(alice, f"/admin/registrations/{rid}/end")
    with ctx.db.write() as s:  # the agent claims the CLEANUP
        location = s.scalars(select(Location)).one()
        cleanup = claim_job(s, location, ctx.clock.now(), lease_duration(ctx))
        assert cleanup is not None
    message = flash(alice, act(alice, f"/admin/registrations/{rid}/purge"))
    assert message == "flash-ok: Registration 1 stopped and erased."
    with ctx.db.write() as s:
        location = s.scalars(select(Location)).one()
        record_report(ctx, s, location, cleanup.id, JobReport(ok=True, completion=90))
    reg = row(ctx, Registration, rid)
    assert reg.completion is None and row(ctx, Seat, reg.seat_id).state is SeatState.free
    assert [j.verb for j in _jobs(ctx)] == [Verb.CREATE, Verb.CLEANUP]


def _jobs(ctx: AppContext) -> list[Job]:
    with ctx.db.read() as s:
        return list(s.scalars(select(Job).order_by(Job.id)))


# --------------------------------------------------------------------- seats and jobs


def test_purge_a_broken_seat(alice: TestClient, ctx: AppContext, world: dict[str, int]) -> None:
    page = alice.get("/admin/seats?state=broken").text
    assert 'id="seat-local-2"' in page and 'id="seat-local-1"' not in page
    assert 'id="purge-seat-local-2"' in page
    held = alice.get("/admin/seats?state=ready").text
    assert 'id="seat-local-1"' in held and 'id="purge-seat-local-1"' not in held
    message = flash(
        alice, act(alice, "/admin/seats/local/2/purge", back="/admin/seats?state=broken")
    )
    assert re.fullmatch(r"flash-ok: Seat 2 at local: PURGE queued as job \d+\.", message)
    refused = flash(alice, act(alice, "/admin/seats/local/1/purge"))
    assert refused == "flash-error: seat student1 holds registration 1: end it first"
    run_next(ctx)
    with ctx.db.read() as s:
        assert s.scalars(select(Seat.state).where(Seat.number == 2)).one() is SeatState.free


def test_jobs_list_filters_and_a_job_page_with_its_log(
    alice: TestClient, world: dict[str, int]
) -> None:
    failed = alice.get("/admin/jobs?state=failed&verb=CLEANUP&location=local").text
    assert f'id="job-{world["failed_job"]}"' in failed and 'id="job-1"' not in failed
    page = alice.get(f"/admin/jobs/{world['failed_job']}").text
    assert "--- attempt 3 reported" in page and "hook failed" in page
    assert f'id="retry-{world["failed_job"]}"' in page
    created = alice.get("/admin/jobs/1").text  # done: nothing to retry
    assert "h-retry" not in created and 'id="retry-1"' not in created
    assert alice.get("/admin/jobs/999").status_code == 404


def test_retry_a_failed_cleanup(
    alice: TestClient, ctx: AppContext, clock: FakeClock, world: dict[str, int]
) -> None:
    job_id = world["failed_job"]
    message = flash(alice, act(alice, f"/admin/jobs/{job_id}/retry", back="/admin/jobs"))
    found = re.fullmatch(rf"flash-ok: Job {job_id} retried as job (\d+) \(CLEANUP\)\.", message)
    assert found is not None
    retry = row(ctx, Job, int(found[1]))
    assert retry.state is JobState.queued and retry.attempts == 0
    assert (
        retry.registration_id == world["ended"] and retry.seat_id == row(ctx, Job, job_id).seat_id
    )
    assert row(ctx, Job, job_id).state is JobState.failed  # history kept
    assert row(ctx, Seat, retry.seat_id).state is SeatState.cleaning
    again = flash(alice, act(alice, f"/admin/jobs/{job_id}/retry"))
    assert again.startswith("flash-error: Seat student2 had job")
    run_next(ctx)
    assert row(ctx, Seat, retry.seat_id).state is SeatState.free


def test_a_failed_create_is_not_retried(
    alice: TestClient, ctx: AppContext, clock: FakeClock
) -> None:
    rid = register(ctx, person(1)).id
    create = fail_for_good(ctx, clock)
    assert row(ctx, Registration, rid).state is RegistrationState.failed
    page = alice.get(f"/admin/jobs/{create.id}").text
    assert "A failed CREATE is not retried" in page and f'id="retry-{create.id}"' not in page
    refused = flash(alice, act(alice, f"/admin/jobs/{create.id}/retry"))
    assert refused.startswith("flash-error: A failed CREATE is not retried")


# --------------------------------------------------------------------- emails


def test_resend_an_email_keeps_one_row_per_registration_and_kind(
    alice: TestClient, ctx: AppContext, mailer: MemoryMailer
) -> None:
    rid = active(ctx, 1)
    assert outbox.send_due(ctx) == 2
    with ctx.db.read() as s:
        welcome = s.scalars(select(Email).where(Email.kind == "welcome")).one()
        creds = s.scalars(select(Email).where(Email.kind == "credentials")).one()
    listing = alice.get("/admin/emails?kind=welcome&state=sent&recipient=person1").text
    assert f'id="email-{welcome.id}"' in listing and f'id="email-{creds.id}"' not in listing
    page = alice.get(f"/admin/emails/{welcome.id}").text
    assert f'id="resend-{welcome.id}"' in page and '<pre class="mail-text"' in page
    message = flash(alice, act(alice, f"/admin/emails/{welcome.id}/resend"))
    assert message == f"flash-ok: Email {welcome.id} (welcome) will be sent again."
    again = row(ctx, Email, welcome.id)
    assert again.state is EmailState.pending and again.attempts == 0
    assert again.dedupe_key == f"{rid}:welcome"
    refused = flash(alice, act(alice, f"/admin/emails/{welcome.id}/resend"))
    assert refused.startswith("flash-error: Email") and "not sent yet" in refused
    assert outbox.send_due(ctx) == 1
    assert [m["To"] for m in mailer.sent] == ["person1@example.org"] * 3
    with ctx.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Email)) == 2


def test_an_email_page_hides_the_password_and_the_manage_link(
    alice: TestClient, ctx: AppContext, mailer: MemoryMailer
) -> None:
    rid = active(ctx, 1)
    outbox.send_due(ctx)
    with ctx.db.read() as s:
        creds = s.scalars(select(Email).where(Email.kind == "credentials")).one()
        registration = s.get(Registration, rid)
        assert registration is not None
        nonce = registration.manage_nonce
    page = alice.get(f"/admin/emails/{creds.id}").text
    assert "Seat-Passw0rd-123" not in page and "(hidden)" in page
    assert manage_token(ctx.settings.secret_key.get_secret_value(), nonce) not in page
    assert creds.subject and str(escape(creds.subject)) in page


def test_an_email_page_shows_the_text_in_the_registrations_language(
    alice: TestClient, ctx: AppContext
) -> None:
    french = RegistrationRequest(
        "WKSHP-Python101", "marie@example.org", "Marie Curie", "Acme", True, "fr"
    )
    register(ctx, french)
    outbox.send_due(ctx)
    with ctx.db.read() as s:
        welcome = s.scalars(select(Email).where(Email.kind == "welcome")).one()
    page = alice.get(f"/admin/emails/{welcome.id}", headers={"accept-language": "en"}).text
    assert "Bonjour Marie Curie" in page and "Hello Marie Curie" not in page
    assert '<html lang="en">' in page  # the console itself stays in English


def test_the_console_answers_in_english_whatever_the_browser_asks(
    anonymous: TestClient,
) -> None:
    def refusal(language: str) -> str:
        form = {"username": "alice", "password": PASSWORD}  # no CSRF token
        answer = anonymous.post("/admin/login", data=form, headers={"accept-language": language})
        assert answer.status_code == 403
        text: str = answer.text
        return text

    assert refusal("fr") == refusal("en")
    page = anonymous.get("/admin/login?lang=fr", headers={"accept-language": "fr"})
    assert '<html lang="en">' in page.text and "wod_lang" not in page.headers.get("set-cookie", "")


def test_emails_of_an_ended_registration_that_no_longer_hold_are_not_resent(
    alice: TestClient, ctx: AppContext, world: dict[str, int]
) -> None:
    with ctx.db.read() as s:
        creds = s.scalars(
            select(Email).where(
                Email.kind == "credentials", Email.registration_id == world["ended"]
            )
        ).one()
    page = alice.get(f"/admin/emails/{creds.id}").text
    assert "no longer holds" in page and f'id="resend-{creds.id}"' not in page


# --------------------------------------------------------------------- workshops and import


def with_content(ctx: AppContext, folder: Path) -> AppContext:
    """The same platform reading another content layer."""
    ctx.settings.content.paths = [folder]
    return dataclasses.replace(ctx, content=Content([folder]))


@pytest.fixture
def layer(tmp_path: Path) -> Path:
    """A content layer of its own, the console's import reads it."""
    folder = tmp_path / "layer"
    make_workshop(folder, "WKSHP-Alpha", (1, 5))
    return folder


@pytest.fixture
def importer(ctx: AppContext, users: None, layer: Path) -> Iterator[TestClient]:
    """Alice logged in to a console whose content is ``layer``."""
    with TestClient(create_app(with_content(ctx, layer), background=False)) as client:
        assert login(client, "alice").status_code == 303
        yield client


def test_import_shows_the_diff_then_applies_exactly_it(
    importer: TestClient, ctx: AppContext
) -> None:
    alice = importer
    listing = alice.get("/admin/workshops").text
    assert 'id="workshop-WKSHP-Python101"' in listing and 'id="import-link"' in listing
    page = alice.get("/admin/workshops/import").text
    assert re.search(r'id="plan-WKSHP-Alpha">\s*<th scope="row">WKSHP-Alpha</th>\s*<td>add', page)
    assert re.search(r'id="plan-WKSHP-Python101">.*?deactivate', page, re.S)
    digest = re.search(r'name="plan" value="([0-9a-f]{64})"', page)
    assert digest is not None and 'id="apply"' in page
    with ctx.db.read() as s:
        assert s.scalar(select(Workshop.id).where(Workshop.slug == "WKSHP-Alpha")) is None
    message = flash(alice, act(alice, "/admin/workshops/import", plan=digest[1]))
    assert message == "flash-ok: Imported: 3 workshop(s) changed."
    with ctx.db.read() as s:
        assert s.scalars(select(Workshop.active).where(Workshop.slug == "WKSHP-Alpha")).one()
        assert not s.scalars(
            select(Workshop.active).where(Workshop.slug == "WKSHP-Python101")
        ).one()
    after = alice.get("/admin/workshops/import").text
    assert 'id="nothing"' in after and 'id="apply"' not in after


def test_a_stale_plan_is_refused(importer: TestClient, ctx: AppContext, layer: Path) -> None:
    alice = importer
    page = alice.get("/admin/workshops/import").text
    digest = re.search(r'name="plan" value="([0-9a-f]{64})"', page)
    assert digest is not None
    make_workshop(layer, "WKSHP-Beta", (6, 9))  # the content changes meanwhile
    before = fingerprint(ctx)
    answer = act(alice, "/admin/workshops/import", plan=digest[1])
    assert answer.headers["location"] == "/admin/workshops/import"
    message = flash(alice, answer)
    assert message.startswith("flash-error: The content or the database changed")
    assert fingerprint(ctx) == before
    assert "WKSHP-Beta" in alice.get("/admin/workshops/import").text


def test_a_missing_content_folder_is_shown_not_raised(
    ctx: AppContext, users: None, tmp_path: Path
) -> None:
    with TestClient(create_app(with_content(ctx, tmp_path / "gone"), background=False)) as alice:
        assert login(alice, "alice").status_code == 303
        page = alice.get("/admin/workshops/import")
    assert page.status_code == 200 and 'id="no-plan"' in page.text and "gone" in page.text


# --------------------------------------------------------------------- dashboard


def test_dashboard_figures_tables_and_chart_data(
    alice: TestClient, ctx: AppContext, world: dict[str, int]
) -> None:
    page = alice.get("/admin?days=7")
    assert page.status_code == 200
    text = page.text
    assert re.search(r'id="total-live">1<', text)
    live = text.split('id="table-live"')[1].split("</table>")[0]
    assert re.search(r"WKSHP-Python101</th><td>local</td><td>1</td>", live)
    days = text.split('id="table-registrations"')[1].split("</table>")[0]
    assert "2026-11-22" in days and "2026-11-21" not in days  # 7 whole days, today included
    assert re.search(r"2026-11-28</th><td>2</td>", days)
    outcomes = text.split('id="table-outcomes"')[1].split("</table>")[0]
    assert re.search(r"Ended early</th><td>1</td>", outcomes)
    assert '<option value="7" selected>' in text
    data = re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', text, re.S)
    assert data is not None
    charts = {c["id"]: c for c in json.loads(data[1])}
    assert charts["live"]["labels"] == ["WKSHP-Python101 at local"]
    assert set(charts) == {"live", "registrations", "outcomes", "completion", "badges", "seats"}
    assert not re.search(r"\son[a-z]+=", text)  # no inline event handlers
    scripts = re.findall(r"<script([^>]*)>", text)
    assert all("src=" in s or 'type="application/json"' in s for s in scripts)
    assert "cdn" not in text.lower() and "https://" not in "".join(scripts)
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert alice.get("/admin/static/vendor/chart.umd.min.js").status_code == 200
    assert alice.get("/admin/static/admin.js").status_code == 200
    assert '<option value="30" selected>' in alice.get("/admin?days=5").text


def test_the_stats_api_still_answers(ctx: AppContext, world: dict[str, int]) -> None:
    from wod.services.admin.stats import dashboard

    stats = dashboard(ctx, 30).model_dump()
    assert stats["outcomes"] == {
        "live": 1,
        "ended": 0,
        "ended_early": 1,
        "failed": 0,
        "reclaimed_idle": 0,
    }
    assert {"location": "local", "state": "broken", "count": 1} in stats["seats"]


def test_registrations_per_day_count_whole_days(ctx: AppContext, world: dict[str, int]) -> None:
    from wod.services.admin.stats import figures

    made = ctx.clock.now()  # the world's registrations: 2026-11-28, 09:00
    last_day_in = datetime(2026, 12, 4, 23, 59, tzinfo=UTC)  # 7 days: 11-28 to 12-04
    with ctx.db.read() as s:
        inside = figures(s, last_day_in, 7).registrations_per_day
        outside = figures(s, last_day_in + timedelta(minutes=2), 7).registrations_per_day
    assert [d.day for d in inside] == [str(made.date())]
    assert outside == []


# --------------------------------------------------------------------- wod admins


def test_admins_commands(ctx: AppContext) -> None:
    env = {"WOD_DATABASE_URL": ctx.settings.resolved_database_url, "COLUMNS": "200"}
    runner = CliRunner()
    added = runner.invoke(
        cli,
        ["admins", "add", "ops", "--role", "admin", "--password-stdin"],
        PASSWORD + "\n",
        env=env,
    )
    assert added.exit_code == 0, added.output
    assert "admin 'ops' added: log in at http://127.0.0.1:8000/admin/login" in added.output
    prompted = runner.invoke(cli, ["admins", "add", "eve"], f"{PASSWORD}\n{PASSWORD}\n", env=env)
    assert prompted.exit_code == 0 and "viewer 'eve' added" in prompted.output
    mismatch = runner.invoke(cli, ["admins", "add", "bad"], f"{PASSWORD}\nother one!!!!\n", env=env)
    assert mismatch.exit_code != 0
    short = runner.invoke(cli, ["admins", "add", "bad", "--password-stdin"], "short\n", env=env)
    assert short.exit_code == 1 and "password: 12 to 1024 characters" in short.output
    twice = runner.invoke(
        cli, ["admins", "add", "ops", "--password-stdin"], PASSWORD + "\n", env=env
    )
    assert twice.exit_code == 1 and "'ops' exists" in twice.output
    listed = runner.invoke(cli, ["admins", "list"], env=env).output
    assert re.search(r"eve\s+viewer\s+active\s+last login never", listed)
    assert PASSWORD not in listed and "argon2" not in listed
    admin_users.authenticate(ctx, "ops", PASSWORD)
    session = sessions.create_session(ctx, admin_users.find_user(ctx, "ops"))
    new = "another good password"
    changed = runner.invoke(
        cli, ["admins", "passwd", "ops", "--password-stdin"], new + "\n", env=env
    )
    assert changed.exit_code == 0 and sessions.resolve_session(ctx, session) is None
    assert admin_users.authenticate(ctx, "ops", new).username == "ops"
    removed = runner.invoke(cli, ["admins", "remove", "eve"], env=env)
    assert removed.exit_code == 0
    with ctx.db.read() as s:
        assert s.scalars(select(AdminUser.username)).all() == ["ops"]
    unknown = runner.invoke(cli, ["admins", "passwd", "nobody"], env=env)
    assert unknown.exit_code == 1 and "no admin user named 'nobody'" in unknown.output
    assert runner.invoke(cli, ["admins", "remove", "nobody"], env=env).exit_code == 1


def test_a_role_changes_from_the_next_request(ctx: AppContext, victor: TestClient) -> None:
    env = {"WOD_DATABASE_URL": ctx.settings.resolved_database_url}
    assert act(victor, "/admin/seats/local/3/purge").status_code == 403
    promoted = CliRunner().invoke(cli, ["admins", "role", "victor", "admin"], env=env)
    assert promoted.exit_code == 0 and "'victor' is now admin" in promoted.output
    assert act(victor, "/admin/seats/local/3/purge").status_code == 303  # same session
    wrong = CliRunner().invoke(cli, ["admins", "role", "victor", "owner"], env=env)
    assert wrong.exit_code == 2 and "owner" in wrong.output
    assert CliRunner().invoke(cli, ["admins", "role", "nobody", "viewer"], env=env).exit_code == 1


def test_the_first_users_password_file_goes_when_it_no_longer_holds(
    ctx: AppContext, users: None, tmp_path: Path
) -> None:
    env = {"WOD_DATABASE_URL": ctx.settings.resolved_database_url, "WOD_DATA_DIR": str(tmp_path)}
    password_file = tmp_path / "admin_password"
    admin_users.create_user(ctx, admin_users.FIRST_USER, PASSWORD, Role.admin)
    password_file.write_text(PASSWORD + "\n")
    runner = CliRunner()
    other = runner.invoke(cli, ["admins", "passwd", "alice", "--password-stdin"], PASSWORD, env=env)
    assert other.exit_code == 0 and password_file.exists()  # another user's: the file stays
    changed = runner.invoke(
        cli, ["admins", "passwd", "admin", "--password-stdin"], "a brand new password\n", env=env
    )
    assert changed.exit_code == 0 and f"removed {password_file}" in changed.output
    assert not password_file.exists()
