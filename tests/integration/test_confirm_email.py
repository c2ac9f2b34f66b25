"""The optional confirm-by-email step (``registration.confirm_email``), at the service level on
the suite's database (SQLite, or PostgreSQL): an unconfirmed registration holds no seat, queues
no job and gets one email; its single-use link holds the seat exactly as a registration without
the step does; it expires on the scheduler's timer (injected clock); a second request sends the
link again; a full workshop at confirmation ends it; the address cap counts it; off, nothing
changes."""

from __future__ import annotations

import re
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.mail import part_text
from wod.backend.agent import Agent
from wod.context import AppContext
from wod.db.models import Email, Job, Registration, Seat, Workshop
from wod.domain.clock import FakeClock
from wod.domain.secrets import confirm_token, hash_token
from wod.domain.states import JobState, RegistrationState, SeatState
from wod.errors import (
    AddressLimitReached,
    AlreadyConfirmed,
    AlreadyRegistered,
    ConfirmationExpired,
    InvalidState,
    NotFound,
    WorkshopFull,
)
from wod.mail.sender import MemoryMailer
from wod.scheduler.loop import run_pass
from wod.services.catalogue import find_any_workshop
from wod.services.mail import outbox
from wod.services.mail.resend import resend_email
from wod.services.registrations import (
    RegistrationRequest,
    confirm_registration,
    confirmation_for_token,
    get_status,
    purge_registration,
    register,
)

HOME = "198.51.100.7"


def ask(email: str = "ada@example.org", workshop: str = "WKSHP-Python101") -> RegistrationRequest:
    return RegistrationRequest(workshop, email, "Ada", "Engines", True)


@pytest.fixture
def confirming(ctx: AppContext, token: str) -> AppContext:
    """The sample content and a location, with the confirm step on."""
    ctx.settings.registration.confirm_email = True
    return ctx


def row(ctx: AppContext, rid: int) -> Registration:
    with ctx.db.read() as s:
        found = s.get(Registration, rid)
        assert found is not None
        return found


def link_token(ctx: AppContext, rid: int) -> str:
    nonce = row(ctx, rid).confirm_nonce
    assert nonce
    return confirm_token(ctx.settings.secret_key.get_secret_value(), nonce)


def kinds(ctx: AppContext, rid: int) -> list[str]:
    with ctx.db.read() as s:
        query = select(Email.kind).where(Email.registration_id == rid).order_by(Email.id)
        return list(s.scalars(query))


def jobs(ctx: AppContext, rid: int) -> list[tuple[str, JobState]]:
    with ctx.db.read() as s:
        query = select(Job).where(Job.registration_id == rid).order_by(Job.id)
        return [(j.verb.value, j.state) for j in s.scalars(query)]


def seats_held(ctx: AppContext) -> int:
    with ctx.db.read() as s:
        return s.scalar(select(func.count()).where(Seat.state != SeatState.free)) or 0


def seats_left(ctx: AppContext, slug: str = "WKSHP-Python101") -> int:
    view = find_any_workshop(ctx, slug)
    assert view is not None
    return view.seats_left


def set_capacity(ctx: AppContext, slug: str, capacity: int) -> None:
    with ctx.db.write() as s:
        workshop = s.scalar(select(Workshop).where(Workshop.slug == slug))
        assert workshop is not None
        workshop.capacity = capacity


def test_off_by_default_a_seat_is_held_at_once(ctx: AppContext, token: str) -> None:
    assert ctx.settings.registration.confirm_email is False
    made = register(ctx, ask())
    assert made.state is RegistrationState.queued and made.seat_id is not None
    assert made.confirm_nonce is None and made.confirm_token_hash is None
    assert made.confirm_due_at is None and made.confirmed_at is None
    assert jobs(ctx, made.id) == [("CREATE", JobState.queued)]
    assert kinds(ctx, made.id) == ["welcome"]
    assert seats_held(ctx) == 1


def test_unconfirmed_holds_no_seat_and_gets_one_email(
    confirming: AppContext, clock: FakeClock, mailer: MemoryMailer
) -> None:
    ctx = confirming
    before = seats_left(ctx)
    made = register(ctx, ask(), client=HOME)
    assert made.state is RegistrationState.unconfirmed
    assert made.seat_id is None and made.location_id is None and made.provision_due_at is None
    assert made.confirm_due_at == clock.now() + timedelta(minutes=30)
    assert jobs(ctx, made.id) == [] and seats_held(ctx) == 0 and seats_left(ctx) == before
    assert kinds(ctx, made.id) == ["confirm"]
    assert outbox.send_due(ctx) == 1
    (message,) = mailer.sent
    assert message["To"] == "ada@example.org"
    assert "Confirm your registration" in message["Subject"]
    text, html = part_text(message, "plain"), part_text(message, "html")
    found = re.search(r"/confirm/(wodc_[\w-]+)", text)
    assert found and f"/confirm/{found[1]}" in html
    assert "/manage/" not in text and "/manage/" not in html  # nothing to manage yet
    assert "09:30 UTC" in text  # until when the link works
    # only the hash of the link's token is stored, and it is the link's
    assert found[1] == link_token(ctx, made.id)
    stored = row(ctx, made.id)
    assert stored.confirm_token_hash == hash_token(found[1])
    assert found[1] not in repr(vars(stored))
    status = get_status(ctx, made.id)  # what an admin token reads: no seat
    assert status.status is RegistrationState.unconfirmed and status.seat is None
    assert status.hub_url is None


def test_confirming_holds_the_seat_exactly_as_without_the_step(
    confirming: AppContext, agent: Agent, clock: FakeClock
) -> None:
    ctx = confirming
    made = register(ctx, ask())
    shown = confirmation_for_token(ctx, link_token(ctx, made.id))  # reading changes nothing
    assert (shown.registration_id, shown.workshop, shown.email) == (
        made.id,
        "WKSHP-Python101",
        "ada@example.org",
    )
    assert row(ctx, made.id).state is RegistrationState.unconfirmed and seats_held(ctx) == 0
    clock.advance(timedelta(minutes=20))
    confirmed = confirm_registration(ctx, link_token(ctx, made.id))
    assert confirmed.id == made.id and confirmed.state is RegistrationState.queued
    now = row(ctx, made.id)
    assert now.seat_id is not None and now.location_id is not None
    assert now.confirm_due_at is None and now.confirmed_at == clock.now()
    assert now.provision_due_at == clock.now() + timedelta(minutes=10)  # from the confirmation
    assert jobs(ctx, made.id) == [("CREATE", JobState.queued)]
    assert kinds(ctx, made.id) == ["confirm", "welcome"]
    assert seats_held(ctx) == 1
    assert agent.run_once()  # the CREATE
    assert row(ctx, made.id).state is RegistrationState.active
    assert kinds(ctx, made.id) == ["confirm", "welcome", "credentials"]


def test_the_link_works_once_and_unknown_links_are_refused(confirming: AppContext) -> None:
    ctx = confirming
    made = register(ctx, ask())
    link = link_token(ctx, made.id)
    confirm_registration(ctx, link)
    with pytest.raises(AlreadyConfirmed, match="works only once"):
        confirm_registration(ctx, link)
    with pytest.raises(AlreadyConfirmed):
        confirmation_for_token(ctx, link)
    assert jobs(ctx, made.id) == [("CREATE", JobState.queued)]  # still one
    for unknown in ("wodc_nothing", "", link + "x"):
        with pytest.raises(NotFound, match="not valid"):
            confirm_registration(ctx, unknown)
        with pytest.raises(NotFound):
            confirmation_for_token(ctx, unknown)


def test_unconfirmed_registrations_expire_on_the_timer(
    confirming: AppContext, clock: FakeClock
) -> None:
    ctx = confirming
    made = register(ctx, ask())
    clock.advance(timedelta(minutes=30) - timedelta(seconds=1))
    assert run_pass(ctx)["unconfirmed"] == 0
    clock.advance(timedelta(seconds=1))
    # due, the timer has not run yet: the link is over all the same
    with pytest.raises(ConfirmationExpired):
        confirm_registration(ctx, link_token(ctx, made.id))
    assert row(ctx, made.id).state is RegistrationState.unconfirmed
    assert run_pass(ctx)["unconfirmed"] == 1
    assert run_pass(ctx)["unconfirmed"] == 0  # a second pass does nothing more
    over = row(ctx, made.id)
    assert over.state is RegistrationState.failed and over.ended_reason == "confirm_timeout"
    assert over.ended_at == clock.now() and over.confirm_due_at is None
    assert kinds(ctx, made.id) == ["confirm"]  # no email beyond the confirmation
    assert jobs(ctx, made.id) == [] and seats_held(ctx) == 0
    with pytest.raises(ConfirmationExpired, match="register again"):
        confirmation_for_token(ctx, link_token(ctx, made.id))
    again = register(ctx, ask())  # the address may register again: a new registration
    assert again.id != made.id and again.state is RegistrationState.unconfirmed


def test_asking_again_sends_the_link_again_instead_of_a_duplicate(
    confirming: AppContext, clock: FakeClock
) -> None:
    ctx = confirming
    first = register(ctx, ask())
    link = link_token(ctx, first.id)
    clock.advance(timedelta(minutes=5))
    same = register(ctx, ask())  # within already_registered_every: no second email yet
    assert same.id == first.id and same.state is RegistrationState.unconfirmed
    assert kinds(ctx, first.id) == ["confirm"]
    clock.advance(timedelta(minutes=6))
    assert register(ctx, ask()).id == first.id
    assert kinds(ctx, first.id) == ["confirm", "confirm"]
    assert row(ctx, first.id).confirm_due_at == clock.now() + timedelta(minutes=30)
    assert link_token(ctx, first.id) == link  # the same link, given its time again
    with ctx.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Registration)) == 1
    other = register(ctx, ask(workshop="WKSHP-Shell101"))  # another workshop: its own
    assert other.id != first.id and other.state is RegistrationState.unconfirmed
    clock.advance(timedelta(minutes=29))  # the second email's time, not the first's
    assert run_pass(ctx)["unconfirmed"] == 0
    confirm_registration(ctx, link)


def test_already_registered_rules_hold_with_the_step(
    confirming: AppContext, mailer: MemoryMailer
) -> None:
    ctx = confirming
    python = register(ctx, ask())
    shell = register(ctx, ask(workshop="WKSHP-Shell101"))  # unconfirmed ones do not block
    confirm_registration(ctx, link_token(ctx, python.id))
    with pytest.raises(AlreadyRegistered):  # a live registration blocks, as without the step
        register(ctx, ask(workshop="WKSHP-Shell101"))
    assert kinds(ctx, python.id) == ["confirm", "welcome", "already_registered"]
    with pytest.raises(AlreadyRegistered):  # confirming another one while it runs
        confirm_registration(ctx, link_token(ctx, shell.id))
    waiting = row(ctx, shell.id)  # stays unconfirmed: the link works once that one is over
    assert waiting.state is RegistrationState.unconfirmed and waiting.seat_id is None
    assert jobs(ctx, shell.id) == []


def test_full_when_confirmed_ends_the_registration(confirming: AppContext) -> None:
    ctx = confirming
    set_capacity(ctx, "WKSHP-Python101", 1)
    ada = register(ctx, ask())
    bob = register(ctx, ask("bob@example.org"))  # no seat is held: both may ask
    confirm_registration(ctx, link_token(ctx, ada.id))
    with pytest.raises(WorkshopFull, match="taken before you confirmed"):
        confirm_registration(ctx, link_token(ctx, bob.id))
    over = row(ctx, bob.id)
    assert over.state is RegistrationState.failed and over.ended_reason == "workshop_full"
    assert over.seat_id is None and over.ended_at is not None
    assert jobs(ctx, bob.id) == [] and kinds(ctx, bob.id) == ["confirm"]
    with pytest.raises(AlreadyConfirmed, match="every seat was taken"):
        confirmation_for_token(ctx, link_token(ctx, bob.id))
    with pytest.raises(WorkshopFull):  # while full, a new request says so at once
        register(ctx, ask("carol@example.org"))


def test_full_seat_range_when_confirmed_ends_the_registration(confirming: AppContext) -> None:
    """Capacity left, but no free seat in its range (here every seat is broken)."""
    ctx = confirming
    made = register(ctx, ask())
    with ctx.db.write() as s:
        for seat in s.scalars(select(Seat)):
            seat.state = SeatState.broken
    with pytest.raises(WorkshopFull):
        confirm_registration(ctx, link_token(ctx, made.id))
    assert row(ctx, made.id).ended_reason == "workshop_full"


def test_the_address_cap_counts_unconfirmed_registrations(
    confirming: AppContext, clock: FakeClock
) -> None:
    ctx = confirming
    ctx.settings.registration.live_per_address = 2
    first = register(ctx, ask("p0@example.org"), client=HOME)
    register(ctx, ask("p1@example.org"), client=HOME)
    with pytest.raises(AddressLimitReached):  # invented addresses: two emails, not more
        register(ctx, ask("p2@example.org"), client=HOME)
    assert register(ctx, ask("p1@example.org"), client=HOME).state.value == "unconfirmed"
    confirm_registration(ctx, link_token(ctx, first.id))  # at the cap: confirming is fine
    with pytest.raises(AddressLimitReached):  # it still counts, once
        register(ctx, ask("p2@example.org"), client=HOME)
    clock.advance(timedelta(minutes=31))
    assert run_pass(ctx)["unconfirmed"] == 1  # p1's lapsed: room for one
    register(ctx, ask("p2@example.org"), client=HOME)


def test_an_admin_resends_the_link_only_while_unconfirmed(confirming: AppContext) -> None:
    ctx = confirming
    made = register(ctx, ask())
    outbox.send_due(ctx)
    with ctx.db.read() as s:
        email = s.scalars(select(Email).where(Email.kind == "confirm")).one()
    assert resend_email(ctx, email.id).state.value == "pending"
    outbox.send_due(ctx)
    confirm_registration(ctx, link_token(ctx, made.id))
    with pytest.raises(InvalidState, match="no longer holds"):
        resend_email(ctx, email.id)


def test_a_purge_ends_an_unconfirmed_registration_and_its_link(confirming: AppContext) -> None:
    ctx = confirming
    made = register(ctx, ask())
    link = link_token(ctx, made.id)
    outcome = purge_registration(ctx, made.id)
    assert outcome.stopped and outcome.purge_job_id is None
    over = row(ctx, made.id)
    assert over.state is RegistrationState.failed and over.ended_reason == "purged_by_admin"
    assert over.confirm_token_hash is None and over.confirm_nonce is None
    with pytest.raises(NotFound):
        confirm_registration(ctx, link)


def test_parallel_clicks_on_one_link_confirm_once(confirming: AppContext) -> None:
    ctx = confirming
    made = register(ctx, ask())
    link = link_token(ctx, made.id)
    parallel = 6
    barrier = threading.Barrier(parallel)

    def click(_n: int) -> str:
        barrier.wait()
        try:
            confirm_registration(ctx, link)
        except AlreadyConfirmed:
            return "already_confirmed"
        return "confirmed"

    with ThreadPoolExecutor(parallel) as pool:
        outcome = Counter(pool.map(click, range(parallel)))
    assert outcome == {"confirmed": 1, "already_confirmed": parallel - 1}
    assert jobs(ctx, made.id) == [("CREATE", JobState.queued)] and seats_held(ctx) == 1


def test_parallel_requests_of_one_address_make_one_registration(confirming: AppContext) -> None:
    ctx = confirming
    parallel = ctx.settings.registration.rate_per_email  # 5 attempts: none is rate limited
    barrier = threading.Barrier(parallel)

    def one(_n: int) -> int:
        barrier.wait()
        return register(ctx, ask()).id

    with ThreadPoolExecutor(parallel) as pool:
        ids = set(pool.map(one, range(parallel)))
    assert len(ids) == 1
    with ctx.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Registration)) == 1


def test_the_console_lists_and_exports_registrations_without_a_seat(
    confirming: AppContext,
) -> None:
    from wod.services.admin import audit
    from wod.services.admin.export import registrations_csv
    from wod.services.admin.lists import RegistrationFilter, registrations

    ctx = confirming
    made = register(ctx, ask())
    page = registrations(ctx, RegistrationFilter(state=RegistrationState.unconfirmed))
    (listed,) = page.rows
    assert listed.registration.id == made.id and listed.seat is None and listed.location is None
    assert not listed.can_end and listed.can_purge
    exported = registrations_csv(ctx, audit.SCHEDULER, RegistrationFilter())
    assert exported.rows == 1 and ",unconfirmed," in exported.text


def test_a_twin_that_commits_first_is_answered_not_duplicated(
    confirming: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race the partial unique index settles: this request did not see its twin's row, its
    insert is refused by the index, and the second try answers the twin's registration."""
    from wod.services.registrations import unconfirmed

    ctx = confirming
    twin = register(ctx, ask())
    real = unconfirmed.unconfirmed_for
    calls: list[int] = []

    def unseen_once(*args: object, **kwargs: object) -> Registration | None:
        calls.append(1)
        return None if len(calls) == 1 else real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(unconfirmed, "unconfirmed_for", unseen_once)
    assert register(ctx, ask()).id == twin.id and len(calls) == 2
    with ctx.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Registration)) == 1


def test_unconfirmed_registrations_do_not_make_a_workshop_popular(confirming: AppContext) -> None:
    """Invented addresses that never confirm must not lift a workshop into Popular."""
    from wod.services.catalogue.read import popular_ids

    for n in range(3):
        register(confirming, ask(f"nobody{n}@example.org", "WKSHP-Shell101"))
    with confirming.db.read() as s:
        shell = s.scalar(select(Workshop.id).where(Workshop.slug == "WKSHP-Shell101"))
        assert shell not in popular_ids(s)
    rid = register(confirming, ask("ada@example.org", "WKSHP-Shell101")).id
    confirm_registration(confirming, link_token(confirming, rid))
    with confirming.db.read() as s:
        assert shell in popular_ids(s)
