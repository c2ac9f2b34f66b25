"""Retention (``retention.days``): the scheduler anonymises the personal data of registrations
over for that long — nothing before the deadline, everything after it — while every figure
stays, and a participant who comes back with the same address keeps their badges."""

from __future__ import annotations

import re
import threading
from datetime import date, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from wod.context import AppContext, build_context
from wod.db.models import (
    AuditEvent,
    BadgeAward,
    Base,
    Email,
    Job,
    Location,
    Registration,
    Seat,
    Workshop,
)
from wod.domain.clock import FakeClock
from wod.domain.roles import Role
from wod.domain.states import EmailState, RegistrationState, Verb
from wod.scheduler.loop import run_pass
from wod.services.admin import audit, retention
from wod.services.admin import users as admin_users
from wod.services.admin.stats import console_dashboard
from wod.services.mail import outbox
from wod.services.mail.queue import alert_admins
from wod.services.provisioning.jobs import claim_job, lease_duration
from wod.services.registrations import RegistrationRequest, purge_registration, register
from wod.services.registrations.badges import email_pseudonym
from wod.services.registrations.outcomes import record_report
from wod.settings import Settings
from wod.web.app import create_app
from wod.wire import JobReport

ADA = "ada@example.org"
PASSWORD = "correct horse battery"
PERSONAL = ("ada@example.org", "Ada Lovelace", "Analytical Engines", "203.0.113.7")


def extra_workshops(ctx: AppContext, count: int) -> list[str]:
    """Active workshops sharing Shell101's seats, so that one person can complete many."""
    slugs = []
    with ctx.db.write() as s:
        base = s.scalars(select(Workshop).where(Workshop.slug == "WKSHP-Shell101")).one()
        for n in range(count):
            slugs.append(f"WKSHP-Keep{n}")
            s.add(
                Workshop(
                    slug=slugs[-1],
                    name=f"Keep {n}",
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
    return slugs


def run_next(ctx: AppContext, **report: Any) -> Job:
    """Claim the next job of location ``local`` and report it as its agent would."""
    with ctx.db.write() as s:
        location = s.scalars(select(Location).where(Location.name == "local")).one()
        job = claim_job(s, location, ctx.clock.now(), lease_duration(ctx))
        assert job is not None, "no job to run"
        values = {"password": "Seat-Passw0rd-123"} if job.verb is Verb.CREATE else {}
        record_report(ctx, s, location, job.id, JobReport(ok=True, **(values | report)))
        return job


def complete(ctx: AppContext, clock: FakeClock, slug: str, completion: int = 80) -> int:
    """Ada registers for ``slug``, works until the end of her time, and the seat is cleaned."""
    request = RegistrationRequest(slug, ADA, "Ada Lovelace", "Analytical Engines", True)
    rid = register(ctx, request, client="203.0.113.7").id
    run_next(ctx)  # CREATE
    clock.advance(timedelta(hours=3))
    run_pass(ctx)  # her time is up: CLEANUP
    assert run_next(ctx, completion=completion).verb is Verb.CLEANUP
    outbox.send_due(ctx)
    return rid


def everything(ctx: AppContext) -> str:
    """Every value of every row of every table, as text."""
    with ctx.db.read() as s:
        found = [repr(tuple(r)) for t in Base.metadata.sorted_tables for r in s.execute(select(t))]
    return "\n".join(found)


def rows(ctx: AppContext) -> list[tuple[object, ...]]:
    """The rows retention may change."""
    with ctx.db.read() as s:
        found: list[tuple[object, ...]] = []
        for model in (Registration, Email, BadgeAward, AuditEvent):
            for item in s.scalars(select(model).order_by(model.id)):
                found.append(
                    tuple(sorted((k, repr(v)) for k, v in vars(item).items() if k[0] != "_"))
                )
        return found


def figures(ctx: AppContext) -> tuple[Any, ...]:
    """What the dashboard shows over the year of the registrations (but the companies, which
    anonymised registrations lose: test below)."""
    shown = console_dashboard(ctx, 90, date(2026, 11, 1), date(2027, 12, 31))
    stats = shown.stats.model_dump()
    stats.pop("registrations_per_day")  # the last 90 days of the clock: they move with it
    period = shown.period
    return stats, period.per_day, period.total, period.workshops


def ended_at(ctx: AppContext, registration_id: int) -> datetime:
    with ctx.db.read() as s:
        registration = s.get(Registration, registration_id)
        assert registration is not None and registration.ended_at is not None
        return registration.ended_at


def test_personal_data_go_after_the_retention_days_and_the_figures_stay(
    ctx: AppContext, clock: FakeClock, token: str
) -> None:
    keep = extra_workshops(ctx, 4)
    adas = [complete(ctx, clock, slug) for slug in ("WKSHP-Python101", "WKSHP-Shell101", keep[0])]
    bob = RegistrationRequest(keep[1], "bob@example.org", "Bob", "Acme", True)
    failed = register(ctx, bob).id
    clock.advance(ctx.settings.registration.provision_timeout)
    run_pass(ctx)  # never ready: failed, apology queued
    assert run_next(ctx).verb is Verb.PURGE  # its seat cleaned
    outbox.send_due(ctx)
    with ctx.db.write() as s:
        alert_admins(s, ["ops@example.org"], "a seat broke", f"it held {ADA}", "t", clock.now())
    audit.record_login(ctx, "nobody", "203.0.113.7", ok=False)
    with ctx.db.read() as s:
        assert [(b.email, b.level) for b in s.scalars(select(BadgeAward))] == [(ADA, 1)]
    assert all(word in everything(ctx) for word in PERSONAL)
    year = timedelta(days=ctx.settings.retention.days)
    first, last = ended_at(ctx, adas[0]) + year, ended_at(ctx, failed) + year
    run_pass(ctx)  # what the other timers do meanwhile (the rate counters go)
    before, shown = rows(ctx), figures(ctx)

    clock.set(first - timedelta(seconds=1))  # a second before the first deadline: nothing
    assert run_pass(ctx)["anonymised"] == 0
    assert rows(ctx) == before
    clock.set(last - timedelta(seconds=1))  # Ada's three are due, not yet Bob's
    assert run_pass(ctx)["anonymised"] == 3
    with ctx.db.read() as s:
        registration = s.get(Registration, failed)
        assert registration is not None and registration.email == "bob@example.org"
        assert registration.anonymised_at is None
    clock.set(last)
    assert run_pass(ctx)["anonymised"] == 1
    assert run_pass(ctx)["anonymised"] == 0  # once

    kept = everything(ctx)
    for word in (*PERSONAL, "bob@example.org", "ops@example.org"):
        assert word not in kept, word
    pseudonym = email_pseudonym(ctx.settings.secret_key.get_secret_value(), ADA)
    with ctx.db.read() as s:
        registration = s.get(Registration, adas[0])
        assert registration is not None
        assert (registration.name, registration.company, registration.email) == ("", "", pseudonym)
        assert registration.manage_token_hash is None and registration.anonymised_at is not None
        assert registration.client_key is None  # the hash of the address it came from
        assert registration.completion == 80 and registration.state is RegistrationState.ended
        mails = list(s.scalars(select(Email).where(Email.registration_id == adas[2])))
        assert {m.kind for m in mails} >= {"welcome", "credentials", "final", "level_badge"}
        assert {m.recipient for m in mails} == {retention.anonymised_address(adas[2])}
        assert all(m.payload is None for m in mails)
        assert s.scalars(select(Email).where(Email.registration_id.is_(None))).all() == []
        assert [(b.email, b.level) for b in s.scalars(select(BadgeAward))] == [(pseudonym, 1)]
        events = list(s.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    assert events[0].action == "login.failed" and events[0].address is None  # forgotten too
    done = [e.detail for e in events if e.action == "retention.anonymise"]
    assert [e.actor_kind for e in events[1:]] == ["scheduler", "scheduler"]
    assert done[0].startswith("3 registration(s) anonymised, 0 admin alert email(s) deleted")
    assert done[1].startswith("1 registration(s) anonymised, 1 admin alert email(s) deleted")
    assert figures(ctx) == shown  # every figure counts the same

    # Ada comes back with the same address: her three workshops still count
    complete(ctx, clock, keep[2])
    complete(ctx, clock, keep[3])  # five distinct workshops: level 2 (Expert)
    with ctx.db.read() as s:
        awards = sorted((b.email, b.level) for b in s.scalars(select(BadgeAward)))
        levels = s.scalars(select(Email.payload).where(Email.kind == "level_badge")).all()
    assert awards == sorted([(pseudonym, 1), (ADA, 2)])
    assert levels == [None, {"level": 2, "count": 5}]  # level 1 is not sent again


def test_the_companies_of_anonymised_registrations_count_together(
    ctx: AppContext, clock: FakeClock, token: str
) -> None:
    rid = complete(ctx, clock, "WKSHP-Python101")
    clock.advance(timedelta(days=ctx.settings.retention.days))
    assert run_pass(ctx)["anonymised"] == 1
    shown = console_dashboard(ctx, 30, date(2026, 11, 1), date(2026, 11, 30)).period
    assert [(t.name, t.registrations, t.participants) for t in shown.companies] == [("", 1, 1)]
    with ctx.db.read() as s:
        registration = s.get(Registration, rid)
        assert registration is not None and registration.company == ""


def test_a_purged_registration_is_only_marked_and_a_shorter_policy_is_followed(
    ctx: AppContext, clock: FakeClock, token: str
) -> None:
    ctx.settings.retention.days = 30
    rid = complete(ctx, clock, "WKSHP-Python101")
    purge_registration(ctx, rid)
    clock.advance(timedelta(days=29))
    assert run_pass(ctx)["anonymised"] == 0
    clock.advance(timedelta(days=1))
    assert run_pass(ctx)["anonymised"] == 1
    with ctx.db.read() as s:
        registration = s.get(Registration, rid)
        assert registration is not None and registration.anonymised_at == clock.now()
        assert registration.email == f"erased-{rid}@erased.invalid"  # as the purge left it


def test_live_registrations_are_never_anonymised(
    ctx: AppContext, clock: FakeClock, token: str
) -> None:
    request = RegistrationRequest("WKSHP-Python101", ADA, "Ada Lovelace", "Engines", True)
    rid = register(ctx, request).id
    run_next(ctx)
    with ctx.db.write() as s:  # a workshop that runs for ever (its end far away)
        registration = s.get(Registration, rid)
        assert registration is not None and registration.ends_at is not None
        registration.ends_at += timedelta(days=800)
    clock.advance(timedelta(days=400))
    assert run_pass(ctx)["anonymised"] == 0
    with ctx.db.read() as s:
        registration = s.get(Registration, rid)
        assert registration is not None and registration.email == ADA


def dashboard(ctx: AppContext) -> str:
    """The dashboard as a viewer sees it."""
    with TestClient(create_app(ctx, background=False)) as client:
        client.get("/admin/login")
        form = {
            "username": "victor",
            "password": PASSWORD,
            "csrf_token": client.cookies["wod_csrf"],
        }
        assert client.post("/admin/login", data=form, follow_redirects=False).status_code == 303
        page: str = client.get("/admin").text
        return page


def test_the_dashboard_shows_the_policy(ctx: AppContext, clock: FakeClock, token: str) -> None:
    admin_users.create_user(ctx, "victor", PASSWORD, Role.viewer)
    complete(ctx, clock, "WKSHP-Python101")
    page = dashboard(ctx)
    assert re.search(r'id="retention-days">365<', page)
    assert re.search(r'id="retention-anonymised">0<', page)
    assert re.search(r'id="retention-waiting">1<', page)
    due = (clock.now() + timedelta(days=365)).strftime("%Y-%m-%d %H:%M")
    assert f'id="retention-next">{due}<' in page
    clock.advance(timedelta(days=365))
    run_pass(ctx)
    page = dashboard(ctx)
    assert re.search(r'id="retention-anonymised">1<', page)
    assert re.search(r'id="retention-waiting">0<', page) and "retention-next" not in page


def test_two_schedulers_anonymise_each_registration_once(
    ctx: AppContext, settings: Settings, clock: FakeClock, token: str
) -> None:
    count = 120
    long_ago = clock.now() - timedelta(days=400)
    with ctx.db.write() as s:
        workshop = s.scalars(select(Workshop).where(Workshop.slug == "WKSHP-Python101")).one()
        seat = s.scalars(select(Seat).order_by(Seat.id)).first()
        assert seat is not None
        for n in range(count):
            registration = Registration(
                workshop_id=workshop.id,
                email=f"p{n}@example.org",
                name=f"P {n}",
                company="C",
                location_id=seat.location_id,
                seat_id=seat.id,
                state=RegistrationState.ended,
                created_at=long_ago,
                ended_at=long_ago + timedelta(hours=2),
                completion=60,
            )
            s.add(registration)
            s.flush()
            s.add(
                Email(
                    registration_id=registration.id,
                    kind="final",
                    recipient=registration.email,
                    dedupe_key=f"{registration.id}:final",
                    state=EmailState.sent,
                    next_attempt_at=long_ago,
                    created_at=long_ago,
                )
            )
    other = build_context(settings, clock=clock)
    start = threading.Barrier(2)
    done: list[int] = []
    errors: list[BaseException] = []

    def scheduler(context: AppContext) -> None:
        try:
            start.wait()
            while (anonymised := retention.anonymise_due(context)) > 0:
                done.append(anonymised)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=scheduler, args=(c,)) for c in (ctx, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    other.close()
    assert errors == [] and sum(done) == count
    with ctx.db.read() as s:
        left = s.scalars(select(Registration).where(Registration.anonymised_at.is_(None))).all()
        recipients = set(s.scalars(select(Email.recipient)))
        told = s.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "retention.anonymise")
        ).all()
    assert left == [] and not any(r.endswith("@example.org") for r in recipients)
    assert sum(int(d.split(" ")[0]) for d in told) == count
