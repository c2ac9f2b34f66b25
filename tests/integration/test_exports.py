"""The registrations' CSV (the list's filters, days, formulas never run, erased and anonymised
rows), and the dashboard over any period: participants, per workshop, per company."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from wod.admin import charts
from wod.context import AppContext
from wod.db.models import AuditEvent, Job, Location
from wod.domain.clock import FakeClock
from wod.domain.roles import Role
from wod.domain.states import Verb
from wod.scheduler.loop import run_pass
from wod.services.admin import users as admin_users
from wod.services.provisioning.jobs import claim_job, lease_duration
from wod.services.registrations import (
    RegistrationRequest,
    end_now,
    purge_registration,
    register,
)
from wod.services.registrations.outcomes import record_report
from wod.web.app import create_app
from wod.wire import JobReport

PASSWORD = "correct horse battery"
PY, SH = "WKSHP-Python101", "WKSHP-Shell101"


def run_next(ctx: AppContext, **report: Any) -> Job:
    with ctx.db.write() as s:
        location = s.scalars(select(Location).where(Location.name == "local")).one()
        job = claim_job(s, location, ctx.clock.now(), lease_duration(ctx))
        assert job is not None, "no job to run"
        values = {"password": "Seat-Passw0rd-123"} if job.verb is Verb.CREATE else {}
        record_report(ctx, s, location, job.id, JobReport(ok=True, **(values | report)))
        return job


def sign_up(
    ctx: AppContext, slug: str, email: str, name: str = "Ada", company: str = "Engines"
) -> int:
    return register(ctx, RegistrationRequest(slug, email, name, company, True)).id


def finished(ctx: AppContext, slug: str, email: str, completion: int, **who: str) -> int:
    """A registration ended by its participant, its seat cleaned with ``completion``."""
    rid = sign_up(ctx, slug, email, **who)
    run_next(ctx)
    end_now(ctx, rid, by_admin=False)
    run_next(ctx, completion=completion)
    return rid


@pytest.fixture
def app(ctx: AppContext, token: str) -> FastAPI:
    admin_users.create_user(ctx, "victor", PASSWORD, Role.viewer)
    return create_app(ctx, background=False)


@contextmanager
def logged_in(app: FastAPI) -> Iterator[TestClient]:
    """The console as the viewer victor, logged in now."""
    with TestClient(app) as client:
        client.get("/admin/login")
        form = {
            "username": "victor",
            "password": PASSWORD,
            "csrf_token": client.cookies["wod_csrf"],
        }
        assert client.post("/admin/login", data=form, follow_redirects=False).status_code == 303
        yield client


@pytest.fixture
def victor(app: FastAPI) -> Iterator[TestClient]:
    """Logged in when the fixture is made: list it after the fixtures that move the clock."""
    with logged_in(app) as client:
        yield client


def csv_rows(answer: httpx.Response) -> list[dict[str, str]]:
    assert answer.status_code == 200, answer.text
    return list(csv.DictReader(io.StringIO(answer.text)))


@pytest.fixture
def several(ctx: AppContext, clock: FakeClock, token: str) -> dict[str, int]:
    """Registrations of two workshops, in every kind of state, over three days."""
    made = {"ended": finished(ctx, PY, "ada@example.org", 80, company="Engines")}
    clock.advance(timedelta(days=1))  # 2026-11-29
    made["again"] = finished(ctx, SH, "ada@example.org", 30, company="Engines")
    made["bob"] = finished(ctx, PY, "bob@example.org", 90, name="Bob Ross", company="Acme")
    made["failed"] = sign_up(ctx, SH, "carol@example.org", "Carol", "Acme")
    clock.advance(ctx.settings.registration.provision_timeout)
    run_pass(ctx)
    assert run_next(ctx).verb is Verb.PURGE
    clock.advance(timedelta(days=1))  # 2026-11-30
    made["active"] = sign_up(ctx, PY, "dan@example.org", "Dan", "Initech")
    run_next(ctx)
    made["waiting"] = sign_up(ctx, SH, "eve@example.org", "Eve", "Initech")
    return made


@pytest.mark.parametrize(
    "query",
    [
        "",
        f"workshop={SH}",
        "state=ended",
        "state=active&location=local",
        "q=ADA",
        "q=ross",
        "q=%25",  # a plain character: nothing
        "workshop=nope",
    ],
)
def test_the_csv_has_the_rows_of_the_list_with_the_same_filters(
    several: dict[str, int], victor: TestClient, query: str
) -> None:
    listed = victor.get(f"/admin/registrations?{query}")
    assert listed.status_code == 200
    ids = [int(n) for n in re.findall(r'<tr id="registration-(\d+)">', listed.text)]
    rows = csv_rows(victor.get(f"/admin/registrations.csv?{query}"))
    assert [int(r["id"]) for r in rows] == ids


def test_the_csv_is_an_attachment_with_every_column(
    ctx: AppContext, several: dict[str, int], victor: TestClient
) -> None:
    answer = victor.get("/admin/registrations.csv?state=ended")
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == (
        'attachment; filename="registrations-20261130-0910.csv"'
    )
    assert answer.headers["cache-control"] == "no-store"
    assert answer.text.startswith("id,registered_at,workshop,location,seat,state,")
    assert answer.text.endswith("\r\n")
    rows = {int(r["id"]): r for r in csv_rows(answer)}
    ada = rows[several["ended"]]
    assert ada["registered_at"] == "2026-11-28 09:00:00" and ada["workshop"] == PY
    assert (ada["name"], ada["company"], ada["email"]) == ("Ada", "Engines", "ada@example.org")
    assert (ada["state"], ada["ended_reason"], ada["completion"]) == (
        "ended",
        "ended_by_participant",
        "80",
    )
    assert ada["extended"] == "no" and ada["seat"] == "student1" and ada["location"] == "local"
    assert ada["erased_at"] == "" and ada["anonymised_at"] == ""
    exported = [e for e in events(ctx) if e.action == "export.registrations"]
    assert [(e.actor, e.role, e.detail) for e in exported] == [
        ("victor", "viewer", "3 row(s); filters: state=ended")
    ]


def events(ctx: AppContext) -> list[AuditEvent]:
    with ctx.db.read() as s:
        return list(s.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def test_the_days_filter_and_erased_rows(
    ctx: AppContext, several: dict[str, int], victor: TestClient
) -> None:
    purge_registration(ctx, several["bob"])
    rows = csv_rows(victor.get("/admin/registrations.csv?from=2026-11-29&to=2026-11-29"))
    assert {int(r["id"]) for r in rows} == {several["again"], several["bob"], several["failed"]}
    bob = next(r for r in rows if int(r["id"]) == several["bob"])
    assert (bob["name"], bob["company"], bob["email"]) == ("", "", "")
    assert bob["erased_at"] != "" and bob["completion"] == "90"
    later = csv_rows(victor.get("/admin/registrations.csv?from=2026-11-30&q=eve"))
    assert [int(r["id"]) for r in later] == [several["waiting"]]
    assert events(ctx)[-1].detail == "1 row(s); filters: q=eve, from=2026-11-30"


def test_no_cell_is_a_formula(victor: TestClient, ctx: AppContext) -> None:
    rid = sign_up(ctx, PY, "-dash@example.org", '=HYPERLINK("http://evil")', "@Acme")
    other = sign_up(ctx, SH, "+tag@example.org", "+cmd", "Plain")
    rows = {int(r["id"]): r for r in csv_rows(victor.get("/admin/registrations.csv"))}
    assert rows[rid]["name"] == '\'=HYPERLINK("http://evil")'
    assert rows[rid]["company"] == "'@Acme" and rows[rid]["email"] == "'-dash@example.org"
    assert rows[other]["name"] == "'+cmd" and rows[other]["email"] == "'+tag@example.org"
    assert rows[other]["company"] == "Plain"


# --------------------------------------------------------------------- the dashboard's period


def table(page: str, name: str) -> list[list[str]]:
    found = page.split(f'id="table-{name}"')[1].split("</table>")[0]
    return [
        re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", line)
        for line in re.findall(r"<tr>(.*?)</tr>", found, re.S)
    ]


def test_the_dashboard_counts_any_period(several: dict[str, int], victor: TestClient) -> None:
    page = victor.get("/admin?from=2026-11-28&to=2026-11-29").text
    assert re.search(r'id="total-registrations">4<', page)
    assert re.search(r'id="total-participants">3<', page)  # ada twice, bob, carol
    assert re.search(r'id="total-completed">2<', page)  # ada's 80 and bob's 90 (of 50)
    assert "Registrations per day, 2026-11-28 to 2026-11-29" in page
    assert table(page, "registrations")[1:] == [["2026-11-28", "1"], ["2026-11-29", "3"]]
    workshops = table(page, "period-workshops")
    assert workshops[0][:3] == ["Workshop", "Registrations", "Participants"]
    assert workshops[1:] == [
        [PY, "2", "2", "0", "0", "2", "0", "0", "2", "85.0", "2"],
        [SH, "2", "2", "0", "0", "1", "0", "1", "1", "30.0", "0"],
        ["All workshops", "4", "3", "0", "0", "3", "0", "1", "3", "66.7", "2"],
    ]
    assert table(page, "period-companies")[1:] == [
        ["Acme", "2", "2", "1"],
        ["Engines", "2", "1", "1"],
    ]
    assert 'href="/admin/registrations.csv?from=2026-11-28&amp;to=2026-11-29"' in page
    data = re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', page, re.S)
    assert data is not None and '"registrations"' in data[1]
    assert 'id="period-note"' not in page
    assert 'value="2026-11-28"' in page  # the dates asked stay in their fields


def test_the_last_days_and_the_live_ones(several: dict[str, int], victor: TestClient) -> None:
    page = victor.get("/admin?days=7").text
    assert re.search(r'id="total-registrations">6<', page)
    assert re.search(r'id="total-participants">5<', page)
    assert "Per workshop, last 7 days" in page
    workshops = table(page, "period-workshops")
    assert workshops[-1] == ["All workshops", "6", "5", "2", "0", "3", "0", "1", "3", "66.7", "2"]


@pytest.mark.parametrize(
    ("query", "note"),
    [
        ("from=2026-13-01", "A date is written YYYY-MM-DD"),
        ("from=2000-01-01&to=2026-11-30", "A period is at most 3660 days"),
    ],
)
def test_a_period_not_taken_as_asked_says_so(
    several: dict[str, int], victor: TestClient, query: str, note: str
) -> None:
    page = victor.get(f"/admin?{query}").text
    found = re.search(r'<p class="hint" id="period-note">([^<]*)</p>', page)
    assert found is not None and found[1].startswith(note)


def test_a_long_period_is_counted_per_month(several: dict[str, int], victor: TestClient) -> None:
    page = victor.get("/admin?from=2025-06-01&to=2026-12-31").text
    assert "Registrations per month, 2025-06-01 to 2026-12-31" in page
    months = table(page, "registrations")[1:]
    assert months[0] == ["2025-06", "0"] and ["2026-11", "6"] in months and len(months) == 19


TODAY = date(2026, 11, 28)


@pytest.mark.parametrize(
    ("days", "since", "until", "expected"),
    [
        (None, "", "", (date(2026, 10, 30), TODAY, 30)),
        (7, "", "", (date(2026, 11, 22), TODAY, 7)),
        (5, "", "", (date(2026, 10, 30), TODAY, 30)),
        (7, "2026-11-01", "2026-11-10", (date(2026, 11, 1), date(2026, 11, 10), None)),
        (None, "2026-11-10", "2026-11-01", (date(2026, 11, 1), date(2026, 11, 10), None)),
        (None, "2026-11-01", "", (date(2026, 11, 1), TODAY, None)),
        (None, "", "2026-11-10", (date(2026, 10, 12), date(2026, 11, 10), None)),
        (7, "yesterday", "", (date(2026, 11, 22), TODAY, 7)),
    ],
)
def test_the_period_asked(
    days: int | None, since: str, until: str, expected: tuple[date, date, int | None]
) -> None:
    period = charts.chosen_period(TODAY, days, since, until)
    assert (period.since, period.until, period.days) == expected
    assert bool(period.note) == (since == "yesterday")


def test_a_whole_day_is_counted_in_utc(app: FastAPI, ctx: AppContext, clock: FakeClock) -> None:
    clock.set(datetime(2026, 11, 28, 23, 59, 59, tzinfo=UTC))
    sign_up(ctx, PY, "late@example.org")
    clock.set(datetime(2026, 11, 29, 0, 0, 0, tzinfo=UTC))
    sign_up(ctx, SH, "early@example.org")
    with logged_in(app) as victor:
        page = victor.get("/admin?from=2026-11-28&to=2026-11-28").text
        assert re.search(r'id="total-registrations">1<', page)
        csv_ids = csv_rows(victor.get("/admin/registrations.csv?from=2026-11-29&to=2026-11-29"))
    assert [r["email"] for r in csv_ids] == ["early@example.org"]
