"""The waiting list of a full workshop (``waitlist.*``), at the service level on the suite's
database (SQLite, or PostgreSQL): joining refuses a workshop with free seats and a full list,
and is one entry per address; a freed seat is offered to the first in line, once, with one
email; the offer holds the seat against public registrations; an unclaimed offer expires on the
scheduler's timer (injected clock) and passes to the next; a claim makes exactly one
registration; a used, expired or unknown link is refused and changes nothing; a purge erases
the address's entries."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.mail import part_text
from wod.backend.agent import Agent
from wod.context import AppContext
from wod.db.models import Email, Registration, WaitlistEntry, Workshop
from wod.domain.clock import FakeClock
from wod.domain.secrets import claim_token, hash_token
from wod.domain.states import RegistrationState, WaitlistState
from wod.errors import (
    AlreadyClaimed,
    AlreadyRegistered,
    ClaimExpired,
    InvalidInput,
    NotFound,
    SeatsFree,
    WaitlistClosed,
    WaitlistFull,
    WorkshopFull,
)
from wod.mail.sender import MemoryMailer
from wod.scheduler.loop import run_pass
from wod.services.admin import lists
from wod.services.catalogue import find_any_workshop
from wod.services.mail import outbox
from wod.services.registrations import (
    RegistrationRequest,
    end_now,
    purge_registration,
    register,
)
from wod.services.registrations.claim import claim_offer, offer_for_token
from wod.services.registrations.waitlist import join_waitlist, waiting_counts

SLUG = "WKSHP-Python101"


def ask(email: str, workshop: str = SLUG) -> RegistrationRequest:
    return RegistrationRequest(workshop, email, "Ada", "Engines", True)


def set_capacity(ctx: AppContext, capacity: int, slug: str = SLUG) -> None:
    with ctx.db.write() as s:
        workshop = s.scalar(select(Workshop).where(Workshop.slug == slug))
        assert workshop is not None
        workshop.capacity = capacity


@pytest.fixture
def full(ctx: AppContext, token: str) -> Registration:
    """The sample content, its Python workshop of capacity 1 taken: its one registration."""
    set_capacity(ctx, 1)
    return register(ctx, ask("first@example.org"))


def entries(ctx: AppContext) -> list[tuple[str, WaitlistState]]:
    with ctx.db.read() as s:
        rows = s.scalars(select(WaitlistEntry).order_by(WaitlistEntry.id))
        return [(e.email, e.state) for e in rows]


def entry(ctx: AppContext, email: str) -> WaitlistEntry:
    with ctx.db.read() as s:
        found = s.scalars(
            select(WaitlistEntry).where(WaitlistEntry.email == email).order_by(WaitlistEntry.id)
        ).all()
        return found[-1]


def link_token(ctx: AppContext, email: str) -> str:
    nonce = entry(ctx, email).offer_nonce
    assert nonce
    return claim_token(ctx.settings.secret_key.get_secret_value(), nonce)


def emails(ctx: AppContext, kind: str) -> list[str]:
    with ctx.db.read() as s:
        return list(s.scalars(select(Email.recipient).where(Email.kind == kind).order_by(Email.id)))


def registrations(ctx: AppContext) -> int:
    with ctx.db.read() as s:
        return s.scalar(select(func.count()).select_from(Registration)) or 0


def seats_left(ctx: AppContext) -> int:
    view = find_any_workshop(ctx, SLUG)
    assert view is not None
    return view.seats_left


def free_one_seat(ctx: AppContext, registration: Registration) -> None:
    """An admin purges the registration: its seat is no longer held."""
    purge_registration(ctx, registration.id)


def test_joining_is_refused_while_seats_are_free(ctx: AppContext, token: str) -> None:
    with pytest.raises(SeatsFree, match="Seats are free: register"):
        join_waitlist(ctx, ask("ada@example.org"))
    assert entries(ctx) == []


def test_joining_a_full_workshop_gives_a_place_and_one_email(
    ctx: AppContext, full: Registration, mailer: MemoryMailer
) -> None:
    first = join_waitlist(ctx, ask("ada@example.org"))
    second = join_waitlist(ctx, ask("bob@example.org"))
    assert (first.position, first.state, first.already) == (1, WaitlistState.waiting, False)
    assert (second.position, second.already) == (2, False)
    again = join_waitlist(ctx, ask("  ADA@example.org "))  # the same address, normalised
    assert (again.entry_id, again.position, again.already) == (first.entry_id, 1, True)
    assert entries(ctx) == [
        ("ada@example.org", WaitlistState.waiting),
        ("bob@example.org", WaitlistState.waiting),
    ]
    assert emails(ctx, "waitlist_joined") == ["ada@example.org", "bob@example.org"]
    assert outbox.send_due(ctx) >= 2
    joined = [m for m in mailer.sent if "waiting list" in m["Subject"]]
    assert len(joined) == 2 and "number 2 in line" in part_text(joined[1], "plain")
    assert waiting_counts(ctx) == {full.workshop_id: 2}
    (row,) = [r for r in lists.workshops(ctx) if r.workshop.slug == SLUG]
    assert (row.live, row.waiting) == (1, 2)  # what the admin console's workshops show


def test_joining_validates_like_a_registration(ctx: AppContext, full: Registration) -> None:
    with pytest.raises(InvalidInput) as caught:
        join_waitlist(ctx, RegistrationRequest(SLUG, "not-an-address", "", "Engines", True))
    assert {p.field for p in caught.value.problems} == {"email", "name"}
    with pytest.raises(AlreadyRegistered):  # the seat holder itself
        join_waitlist(ctx, ask("first@example.org"))
    assert entries(ctx) == []


def test_the_list_is_bounded(ctx: AppContext, full: Registration) -> None:
    ctx.settings.waitlist.max_entries = 2
    join_waitlist(ctx, ask("a@example.org"))
    join_waitlist(ctx, ask("b@example.org"))
    with pytest.raises(WaitlistFull):
        join_waitlist(ctx, ask("c@example.org"))
    assert len(entries(ctx)) == 2


def test_a_closed_list_refuses_to_join(ctx: AppContext, full: Registration) -> None:
    ctx.settings.waitlist.enabled = False
    with pytest.raises(WaitlistClosed):
        join_waitlist(ctx, ask("a@example.org"))


def test_a_freed_seat_goes_to_the_first_in_line_once(
    ctx: AppContext, full: Registration, mailer: MemoryMailer, clock: FakeClock
) -> None:
    join_waitlist(ctx, ask("ada@example.org"))
    join_waitlist(ctx, ask("bob@example.org"))
    assert run_pass(ctx)["offered"] == 0  # nothing freed yet
    free_one_seat(ctx, full)
    # nobody passes the list: the freed seat is not the public's, even before the offer
    assert seats_left(ctx) == 0
    with pytest.raises(WorkshopFull):
        register(ctx, ask("public@example.org"))
    assert run_pass(ctx)["offered"] == 1
    assert run_pass(ctx)["offered"] == 0  # the offer holds the seat: no second one
    assert entries(ctx) == [
        ("ada@example.org", WaitlistState.offered),
        ("bob@example.org", WaitlistState.waiting),
    ]
    assert entry(ctx, "ada@example.org").offer_due_at == clock.now() + timedelta(minutes=30)
    assert emails(ctx, "waitlist_offer") == ["ada@example.org"]
    with pytest.raises(WorkshopFull):  # still held for Ada
        register(ctx, ask("public@example.org"))
    mailer.sent.clear()
    outbox.send_due(ctx)
    (offer,) = [m for m in mailer.sent if "A seat is free" in m["Subject"]]
    text, html = part_text(offer, "plain"), part_text(offer, "html")
    found = re.search(r"/waitlist/claim/(wodw_[\w-]+)", text)
    assert found and f"/waitlist/claim/{found[1]}" in html
    assert found[1] == link_token(ctx, "ada@example.org")
    assert entry(ctx, "ada@example.org").offer_token_hash == hash_token(found[1])
    assert "09:30 UTC" in text  # until when the link works


def test_a_claim_makes_one_registration_and_works_once(ctx: AppContext, full: Registration) -> None:
    join_waitlist(ctx, ask("ada@example.org"))
    free_one_seat(ctx, full)
    run_pass(ctx)
    link = link_token(ctx, "ada@example.org")
    shown = offer_for_token(ctx, link)  # reading changes nothing
    assert (shown.workshop, shown.email) == (SLUG, "ada@example.org")
    assert entry(ctx, "ada@example.org").state is WaitlistState.offered
    made = claim_offer(ctx, link)
    assert made.state is RegistrationState.queued and made.seat_id is not None
    assert made.email == "ada@example.org" and made.name == "Ada"
    claimed = entry(ctx, "ada@example.org")
    assert claimed.state is WaitlistState.claimed and claimed.registration_id == made.id
    with ctx.db.read() as s:
        welcome = s.scalars(select(Email.kind).where(Email.registration_id == made.id)).all()
    assert welcome == ["welcome"]
    count = registrations(ctx)
    with pytest.raises(AlreadyClaimed, match="works only once"):
        claim_offer(ctx, link)
    with pytest.raises(AlreadyClaimed):
        offer_for_token(ctx, link)
    assert registrations(ctx) == count
    for unknown in ("wodw_nothing", "", link + "x"):
        with pytest.raises(NotFound, match="not valid"):
            claim_offer(ctx, unknown)
    assert registrations(ctx) == count
    assert seats_left(ctx) == 0  # the claimed seat is the workshop's one


def test_an_unclaimed_offer_passes_to_the_next(
    ctx: AppContext, full: Registration, clock: FakeClock
) -> None:
    join_waitlist(ctx, ask("ada@example.org"))
    join_waitlist(ctx, ask("bob@example.org"))
    free_one_seat(ctx, full)
    run_pass(ctx)
    ada = link_token(ctx, "ada@example.org")
    clock.advance(timedelta(minutes=30) - timedelta(seconds=1))
    assert run_pass(ctx)["offers_expired"] == 0
    clock.advance(timedelta(seconds=1))
    # due, the timer has not run yet: the link is over all the same, and nothing changes
    with pytest.raises(ClaimExpired):
        claim_offer(ctx, ada)
    assert entry(ctx, "ada@example.org").state is WaitlistState.offered
    counts = run_pass(ctx)
    assert (counts["offers_expired"], counts["offered"]) == (1, 1)
    assert entries(ctx) == [
        ("ada@example.org", WaitlistState.expired),
        ("bob@example.org", WaitlistState.offered),
    ]
    assert emails(ctx, "waitlist_offer") == ["ada@example.org", "bob@example.org"]
    before = registrations(ctx)
    with pytest.raises(ClaimExpired, match="expired"):
        claim_offer(ctx, ada)
    assert registrations(ctx) == before
    made = claim_offer(ctx, link_token(ctx, "bob@example.org"))
    assert made.email == "bob@example.org"
    # the workshop is full again (Bob's): Ada, off the list, may join it again
    again = join_waitlist(ctx, ask("ada@example.org"))
    assert (again.already, again.position) == (False, 1)


def test_a_claim_of_an_address_with_a_workshop_running_changes_nothing(
    ctx: AppContext, full: Registration
) -> None:
    join_waitlist(ctx, ask("ada@example.org"))
    set_capacity(ctx, 2, "WKSHP-Shell101")
    register(ctx, ask("ada@example.org", "WKSHP-Shell101"))  # Ada's other workshop
    free_one_seat(ctx, full)
    run_pass(ctx)
    before = registrations(ctx)
    with pytest.raises(AlreadyRegistered):
        claim_offer(ctx, link_token(ctx, "ada@example.org"))
    assert registrations(ctx) == before
    assert entry(ctx, "ada@example.org").state is WaitlistState.offered  # still hers


def test_more_free_seats_are_offered_to_as_many_in_line(
    ctx: AppContext, full: Registration
) -> None:
    for name in ("a", "b", "c"):
        join_waitlist(ctx, ask(f"{name}@example.org"))
    set_capacity(ctx, 3)  # two more seats
    assert run_pass(ctx)["offered"] == 2
    assert [state for _, state in entries(ctx)] == [
        WaitlistState.offered,
        WaitlistState.offered,
        WaitlistState.waiting,
    ]


def test_a_purge_erases_the_address_entries_and_their_emails(
    ctx: AppContext, full: Registration
) -> None:
    join_waitlist(ctx, ask("ada@example.org"))
    free_one_seat(ctx, full)
    run_pass(ctx)
    made = claim_offer(ctx, link_token(ctx, "ada@example.org"))
    purge_registration(ctx, made.id)
    assert entries(ctx) == []
    assert emails(ctx, "waitlist_offer") == [] and emails(ctx, "waitlist_joined") == []


def test_entries_off_the_list_go_after_the_retention_delay(
    ctx: AppContext, full: Registration, clock: FakeClock
) -> None:
    join_waitlist(ctx, ask("ada@example.org"))
    join_waitlist(ctx, ask("bob@example.org"))
    free_one_seat(ctx, full)
    run_pass(ctx)
    claim_offer(ctx, link_token(ctx, "ada@example.org"))
    clock.advance(timedelta(days=ctx.settings.retention.days) - timedelta(seconds=1))
    assert run_pass(ctx)["waitlist_forgotten"] == 0
    clock.advance(timedelta(seconds=1))
    assert run_pass(ctx)["waitlist_forgotten"] == 1
    # Bob is still on the list (offered Ada's seat meanwhile: her seat was never made)
    assert [email for email, _ in entries(ctx)] == ["bob@example.org"]


def test_the_emails_are_in_the_language_of_the_entry(
    ctx: AppContext, full: Registration, mailer: MemoryMailer
) -> None:
    french = RegistrationRequest(SLUG, "ada@example.org", "Ada", "Engines", True, language="fr")
    join_waitlist(ctx, french)
    free_one_seat(ctx, full)
    run_pass(ctx)
    mailer.sent.clear()
    outbox.send_due(ctx)
    subjects = sorted(m["Subject"] for m in mailer.sent if m["To"] == "ada@example.org")
    assert subjects == [
        "Une place s'est libérée pour vous : Python 101: a first, gentle taste of Python",
        "Vous êtes sur la liste d'attente : Python 101: a first, gentle taste of Python",
    ]


def test_an_address_that_got_a_seat_meanwhile_leaves_the_list(
    ctx: AppContext, full: Registration
) -> None:
    join_waitlist(ctx, ask("ada@example.org"))
    join_waitlist(ctx, ask("bob@example.org"))
    set_capacity(ctx, 4)  # three more seats: two for the list, one for the public
    register(ctx, ask("ada@example.org"))  # Ada takes the public one herself
    assert run_pass(ctx)["offered"] == 1
    assert entries(ctx) == [
        ("ada@example.org", WaitlistState.left),
        ("bob@example.org", WaitlistState.offered),
    ]


def test_parallel_joins_of_one_address_make_one_entry(ctx: AppContext, full: Registration) -> None:
    parallel = ctx.settings.registration.rate_per_email  # 5 attempts: none is rate limited
    barrier = threading.Barrier(parallel)

    def one(_n: int) -> tuple[int, bool]:
        barrier.wait()
        place = join_waitlist(ctx, ask("ada@example.org"))
        return place.entry_id, place.already

    with ThreadPoolExecutor(parallel) as pool:
        answers = list(pool.map(one, range(parallel)))
    assert len({entry_id for entry_id, _ in answers}) == 1
    assert sorted(already for _, already in answers) == [False] + [True] * (parallel - 1)
    assert emails(ctx, "waitlist_joined") == ["ada@example.org"]


def test_a_seat_cleaned_by_the_agent_is_offered(ctx: AppContext, agent: Agent) -> None:
    """The physical seat is what binds: the workshop's range is one seat, capacity 10."""
    with ctx.db.write() as s:
        workshop = s.scalar(select(Workshop).where(Workshop.slug == SLUG))
        assert workshop is not None
        workshop.seat_min = workshop.seat_max = 1
    taken = register(ctx, ask("first@example.org"))
    assert agent.run_once()  # its CREATE: the seat is ready, the registration active
    join_waitlist(ctx, ask("ada@example.org"))
    end_now(ctx, taken.id, by_admin=False)  # ending: the seat is still held until its CLEANUP ran
    assert run_pass(ctx)["offered"] == 0
    assert agent.run_once()  # the CLEANUP: the seat is free again
    assert run_pass(ctx)["offered"] == 1
    made = claim_offer(ctx, link_token(ctx, "ada@example.org"))
    assert made.seat_id == taken.seat_id


def test_a_claim_needs_no_confirmation_by_email(ctx: AppContext, full: Registration) -> None:
    ctx.settings.registration.confirm_email = True
    join_waitlist(ctx, ask("ada@example.org"))
    free_one_seat(ctx, full)
    run_pass(ctx)
    made = claim_offer(ctx, link_token(ctx, "ada@example.org"))
    assert made.state is RegistrationState.queued and made.seat_id is not None
