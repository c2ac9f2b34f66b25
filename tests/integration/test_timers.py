"""Every timer and participant action, with an injected clock, the real api over HTTP, the real
agent code on local seat files (the hub is a fake here; tests/e2e has the real one)."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select

from tests.mail import part_text
from tests.servers import ApiServer
from wod.backend.agent import Agent
from wod.context import AppContext
from wod.db.models import Email, Job, Registration, Seat, Workshop
from wod.domain.clock import FakeClock
from wod.domain.secrets import manage_token
from wod.domain.states import JobState, RegistrationState, SeatState
from wod.mail.sender import MemoryMailer
from wod.scheduler.loop import run_pass
from wod.services.mail import outbox
from wod.services.registrations import RegistrationRequest, register


def new(ctx: AppContext, email: str = "ada@example.org", workshop: str = "WKSHP-Python101") -> int:
    return register(ctx, RegistrationRequest(workshop, email, "Ada", "Engines", True)).id


def row(ctx: AppContext, rid: int) -> Registration:
    with ctx.db.read() as s:
        found = s.get(Registration, rid)
        assert found is not None
        return found


def seat(ctx: AppContext, rid: int) -> Seat:
    with ctx.db.read() as s:
        found = s.get(Seat, row(ctx, rid).seat_id)
        assert found is not None
        return found


def kinds(ctx: AppContext, rid: int) -> list[str]:
    with ctx.db.read() as s:
        return [
            e.kind
            for e in s.scalars(select(Email).where(Email.registration_id == rid).order_by(Email.id))
        ]


def jobs(ctx: AppContext, rid: int | None = None) -> list[tuple[str, JobState]]:
    with ctx.db.read() as s:
        query = select(Job).order_by(Job.id)
        if rid is not None:
            query = query.where(Job.registration_id == rid)
        return [(j.verb.value, j.state) for j in s.scalars(query)]


def token_of(ctx: AppContext, rid: int) -> str:
    return manage_token(ctx.settings.secret_key.get_secret_value(), row(ctx, rid).manage_nonce)


def set_workshop(ctx: AppContext, slug: str, **values: object) -> None:
    with ctx.db.write() as s:
        workshop = s.scalar(select(Workshop).where(Workshop.slug == slug))
        assert workshop is not None
        for key, value in values.items():
            setattr(workshop, key, value)


def test_reminder_once_before_the_end(
    ctx: AppContext, agent: Agent, clock: FakeClock, mailer: MemoryMailer
) -> None:
    rid = new(ctx)
    agent.run_once()
    ends = row(ctx, rid).ends_at
    assert ends is not None and row(ctx, rid).reminder_due_at == ends - timedelta(hours=1)
    clock.set(ends - timedelta(hours=1, seconds=1))
    assert run_pass(ctx)["reminded"] == 0
    clock.advance(timedelta(seconds=2))
    assert run_pass(ctx)["reminded"] == 1
    assert run_pass(ctx)["reminded"] == 0
    assert kinds(ctx, rid) == ["welcome", "credentials", "reminder"]
    outbox.send_due(ctx)
    reminder = mailer.sent[-1]
    text = part_text(reminder, "plain")
    assert "ends in 1 hour" in text and "/manage/wodm_" in text and "extend" in text


def test_short_workshops_are_reminded_15_minutes_before(
    ctx: AppContext, agent: Agent, clock: FakeClock
) -> None:
    set_workshop(ctx, "WKSHP-Python101", duration_hours=1)
    rid = new(ctx)
    agent.run_once()
    reg = row(ctx, rid)
    assert reg.ends_at is not None and reg.reminder_due_at == reg.ends_at - timedelta(minutes=15)


def test_expiry_cleanup_then_reset_then_free(
    ctx: AppContext, agent: Agent, clock: FakeClock
) -> None:
    set_workshop(ctx, "WKSHP-Python101", reset=True)
    rid = new(ctx)
    agent.run_once()
    clock.advance(timedelta(hours=2))
    assert run_pass(ctx)["expired"] == 1
    assert agent.run_once()  # CLEANUP keeps the home for RESET
    assert seat(ctx, rid).state is SeatState.resetting
    assert row(ctx, rid).state is RegistrationState.ended
    assert jobs(ctx, rid)[-1] == ("RESET", JobState.queued)
    assert agent.run_once()  # RESET
    assert seat(ctx, rid).state is SeatState.free
    assert [v for v, _ in jobs(ctx, rid)] == ["CREATE", "CLEANUP", "RESET"]
    assert kinds(ctx, rid) == ["welcome", "credentials", "final"]  # no reminder after the end


def test_watchdog_purges_apologises_and_frees_the_address(
    ctx: AppContext, agent: Agent, clock: FakeClock
) -> None:
    rid = new(ctx)  # no agent runs: the seat is never ready
    clock.advance(timedelta(minutes=9, seconds=59))
    assert run_pass(ctx)["timed_out"] == 0
    clock.advance(timedelta(seconds=2))
    assert run_pass(ctx)["timed_out"] == 1
    assert run_pass(ctx)["timed_out"] == 0
    reg = row(ctx, rid)
    assert reg.state is RegistrationState.failed and reg.ended_reason == "provision_timeout"
    assert jobs(ctx, rid) == [("CREATE", JobState.failed)]
    assert jobs(ctx)[-1] == ("PURGE", JobState.queued)
    assert kinds(ctx, rid) == ["welcome", "apology"]
    assert agent.run_once()  # PURGE
    assert seat(ctx, rid).state is SeatState.free
    new(ctx)  # the address may register again


def test_create_that_reports_after_the_watchdog_is_purged_once(
    ctx: AppContext, agent: Agent, server: ApiServer, token: str, clock: FakeClock
) -> None:
    ctx.settings.scheduler.job_lease = 3600  # the agent is slow, not gone
    rid = new(ctx)
    auth = {"Authorization": f"Bearer {token}"}
    order = httpx.post(f"{server.url}/api/v1/backend/jobs/claim", headers=auth).json()
    clock.advance(timedelta(minutes=11))
    run_pass(ctx)
    report = httpx.post(
        f"{server.url}/api/v1/backend/jobs/{order['id']}/report",
        headers=auth,
        json={"ok": True, "password": "P" * 16},
    )
    assert report.status_code == 200
    assert row(ctx, rid).state is RegistrationState.failed
    assert [v for v, _ in jobs(ctx)].count("PURGE") == 1
    assert "credentials" not in kinds(ctx, rid)


def test_participant_extends_once_and_ends_now(
    ctx: AppContext, agent: Agent, server: ApiServer, clock: FakeClock, mailer: MemoryMailer
) -> None:
    rid = new(ctx)
    agent.run_once()
    auth = {"Authorization": f"Bearer {token_of(ctx, rid)}"}
    base = f"{server.url}/api/v1/registrations/{rid}"
    status = httpx.get(base, headers=auth).json()
    assert status["status"] == "active" and status["can_extend"] is True
    assert "password" not in status
    assert "next=/user/student1/lab/tree/WKSHP-Python101/0-ReadMeFirst.ipynb" in status["hub_url"]
    ends = row(ctx, rid).ends_at
    assert ends is not None
    extended = httpx.post(f"{base}/extend", headers=auth)
    assert extended.status_code == 200 and extended.json()["can_extend"] is False
    assert row(ctx, rid).ends_at == ends + timedelta(minutes=30)
    assert row(ctx, rid).reminder_due_at == ends + timedelta(minutes=30) - timedelta(hours=1)
    again = httpx.post(f"{base}/extend", headers=auth)
    assert again.status_code == 409 and again.json()["code"] == "invalid_state"

    ended = httpx.post(f"{base}/end", headers=auth)
    assert ended.status_code == 200 and ended.json()["status"] == "ending"
    assert httpx.post(f"{base}/end", headers=auth).status_code == 409
    assert agent.run_once()  # CLEANUP
    reg = row(ctx, rid)
    assert reg.state is RegistrationState.ended and reg.ended_reason == "ended_by_participant"
    assert kinds(ctx, rid)[-1] == "final"


def test_extension_follows_the_workshop_switch(
    ctx: AppContext, agent: Agent, server: ApiServer
) -> None:
    set_workshop(ctx, "WKSHP-Python101", extendable=False)
    rid = new(ctx)
    agent.run_once()
    answer = httpx.post(
        f"{server.url}/api/v1/registrations/{rid}/extend",
        headers={"Authorization": f"Bearer {token_of(ctx, rid)}"},
    )
    assert answer.status_code == 409 and "cannot be extended" in answer.json()["detail"]


def test_manage_tokens_open_only_their_own_registration(
    ctx: AppContext, agent: Agent, server: ApiServer
) -> None:
    first, second = new(ctx), new(ctx, "grace@example.org")
    base = f"{server.url}/api/v1/registrations"
    mine = {"Authorization": f"Bearer {token_of(ctx, first)}"}
    assert httpx.get(f"{base}/{first}", headers=mine).status_code == 200
    assert httpx.get(f"{base}/{second}", headers=mine).status_code == 404
    assert httpx.post(f"{base}/{second}/end", headers=mine).status_code == 404
    bad = httpx.get(f"{base}/{first}", headers={"Authorization": "Bearer wodm_forged"})
    assert bad.status_code == 401 and bad.json()["code"] == "not_authenticated"
    assert httpx.get(f"{base}/{first}").status_code == 401
    with ctx.db.read() as s:
        stored = s.get(Registration, first)
        assert stored is not None and stored.manage_token_hash != token_of(ctx, first)


def test_cleanup_failing_for_good_breaks_the_seat_and_tells_the_admins(
    ctx: AppContext,
    agent: Agent,
    server: ApiServer,
    token: str,
    clock: FakeClock,
    mailer: MemoryMailer,
) -> None:
    ctx.settings.alerts.recipients.append("ops@example.org")
    rid = new(ctx)
    agent.run_once()
    clock.advance(timedelta(hours=2))
    run_pass(ctx)
    auth = {"Authorization": f"Bearer {token}"}
    for attempt in range(3):
        order = httpx.post(f"{server.url}/api/v1/backend/jobs/claim", headers=auth).json()
        assert order["verb"] == "CLEANUP" and order["attempt"] == attempt + 1
        httpx.post(
            f"{server.url}/api/v1/backend/jobs/{order['id']}/report",
            headers=auth,
            json={"ok": False, "error": "hub unreachable", "log": "boom"},
        )
        clock.advance(timedelta(minutes=1))
    assert seat(ctx, rid).state is SeatState.broken
    reg = row(ctx, rid)
    assert reg.state is RegistrationState.ended and reg.completion is None
    with ctx.db.read() as s:
        alert = s.scalar(select(Email).where(Email.kind == "admin_alert"))
    assert alert is not None and alert.recipient == "ops@example.org"
    outbox.send_due(ctx)
    sent = {m["To"]: m for m in mailer.sent}
    assert "broken" in sent["ops@example.org"]["Subject"]
    final = part_text(sent["ada@example.org"], "plain")
    assert "could not measure your completion" in final
    assert httpx.post(f"{server.url}/api/v1/backend/jobs/claim", headers=auth).status_code == 204
    new(ctx, "next@example.org")  # the broken seat is skipped
    assert seat(ctx, rid).state is SeatState.broken


def test_create_failing_for_good_tells_the_admins(
    ctx: AppContext, server: ApiServer, token: str, clock: FakeClock
) -> None:
    ctx.settings.alerts.recipients.append("ops@example.org")
    rid = new(ctx)
    auth = {"Authorization": f"Bearer {token}"}
    for _ in range(3):
        order = httpx.post(f"{server.url}/api/v1/backend/jobs/claim", headers=auth).json()
        httpx.post(
            f"{server.url}/api/v1/backend/jobs/{order['id']}/report",
            headers=auth,
            json={"ok": False, "error": "disk full"},
        )
        clock.advance(timedelta(minutes=1))
    assert kinds(ctx, rid) == ["welcome", "apology"]
    with ctx.db.read() as s:
        alert = s.scalar(select(Email).where(Email.kind == "admin_alert"))
    assert alert is not None and alert.payload is not None
    assert "CREATE failed" in alert.payload["subject"]
    assert "disk full" in alert.payload["text"]


def test_registrations_from_before_manage_links_are_backfilled(
    ctx: AppContext, agent: Agent, clock: FakeClock
) -> None:
    rid = new(ctx)
    agent.run_once()
    with ctx.db.write() as s:  # as a row migrated from revision 0001 looks
        reg = s.get(Registration, rid)
        assert reg is not None
        reg.manage_nonce, reg.manage_token_hash, reg.reminder_due_at = "", None, None
    from wod.services.registrations.timers import backfill_live

    assert backfill_live(ctx) == 1
    assert backfill_live(ctx) == 0
    reg = row(ctx, rid)
    assert reg.manage_token_hash is not None and reg.manage_nonce
    assert reg.ends_at is not None and reg.reminder_due_at == reg.ends_at - timedelta(hours=1)


def test_ending_early_says_so_in_the_final_email(
    ctx: AppContext, agent: Agent, server: ApiServer, mailer: MemoryMailer
) -> None:
    rid = new(ctx)
    agent.run_once()
    auth = {"Authorization": f"Bearer {token_of(ctx, rid)}"}
    httpx.post(f"{server.url}/api/v1/registrations/{rid}/end", headers=auth)
    agent.run_once()
    outbox.send_due(ctx)
    final = part_text(mailer.sent[-1], "plain")
    assert "Your session has ended." in final and "Time's up" not in final
    assert "extend" not in final.split("Manage your registration")[1]  # no offer once ended


def test_admins_purge_a_broken_seat(
    ctx: AppContext, agent: Agent, server: ApiServer, token: str, clock: FakeClock
) -> None:
    from typer.testing import CliRunner

    from wod.cli.main import app

    env = {"WOD_DATABASE_URL": ctx.settings.resolved_database_url}
    admin = CliRunner().invoke(app, ["tokens", "add", "ops", "--role", "admin"], env=env)
    as_admin = {"Authorization": f"Bearer {admin.output.strip().splitlines()[-1]}"}
    rid = new(ctx)
    agent.run_once()
    held = httpx.post(f"{server.url}/api/v1/seats/local/1/purge", headers=as_admin)
    assert held.status_code == 409 and "end it first" in held.json()["detail"]
    with ctx.db.write() as s:
        broken = s.get(Seat, row(ctx, rid).seat_id)
        assert broken is not None
        broken.state = SeatState.broken
        reg = s.get(Registration, rid)
        assert reg is not None
        reg.state = RegistrationState.ended
    listed = CliRunner().invoke(app, ["seats", "list", "--state", "broken"], env=env)
    assert "student1" in listed.output and "student2" not in listed.output
    queued = httpx.post(f"{server.url}/api/v1/seats/local/1/purge", headers=as_admin)
    assert queued.status_code == 202 and queued.json()["verb"] == "PURGE"
    assert agent.run_once()
    assert seat(ctx, rid).state is SeatState.free
    cli = CliRunner().invoke(app, ["seats", "purge", "local", "99"], env=env)
    assert cli.exit_code == 1 and "no seat 99" in cli.output


def test_a_seat_stuck_in_reset_can_be_purged(ctx: AppContext, agent: Agent) -> None:
    from wod.services import provisioning

    with ctx.db.write() as s:
        stuck = s.scalar(select(Seat).where(Seat.number == 5))
        assert stuck is not None
        stuck.state = SeatState.resetting
    job = provisioning.purge(ctx, "local", 5)
    assert job.verb.value == "PURGE"
    assert agent.run_once()
    with ctx.db.read() as s:
        assert s.scalar(select(Seat.state).where(Seat.number == 5)) is SeatState.free
