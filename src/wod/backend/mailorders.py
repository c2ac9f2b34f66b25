"""Orders by mail: the original platform's procmail API as a second transport (ARCHITECTURE §5.4).

The agent listens for SMTP (default port 10025) and accepts a message only when all of these
hold: the envelope sender is the configured one; the ``X-Wod-Secret`` header carries the
shared secret; the subject is ``<VERB> <N> <registrationId> [email]`` (RESET also
``<min>,<max>``); the body's first line names a workshop of this host's content; the seats lie
in that workshop's range. Anything else is refused at the SMTP level (550) and logged, never
run. An accepted order runs in the background; it is recorded at the api as a job and
reported through the same route as every job.
"""

from __future__ import annotations

import hmac
import logging
import re
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from email import message_from_bytes, policy
from typing import Any, cast

from aiosmtpd.controller import Controller

from wod.backend.client import ApiClient
from wod.backend.orders import LocalOrder, local_orders, parse_seats
from wod.backend.running import RunningJobs
from wod.backend.verbs import Verbs
from wod.content.layers import Content
from wod.errors import ApiClientError, ConfigError, WodError
from wod.settings import MailOrderSettings
from wod.wire import ExternalJobIn, VerbName

log = logging.getLogger(__name__)
SUBJECT = re.compile(
    r"^\s*(CREATE|CLEANUP|RESET|PURGE)\s+(\d+(?:,\d+)?)\s+(\d+)(?:\s+(\S+@\S+))?\s*$"
)


@dataclass(frozen=True)
class MailOrder:
    verb: VerbName
    seats: tuple[int, int]
    registration: int
    workshop: str


def parse_order(
    settings: MailOrderSettings, content: Content, sender: str, raw: bytes
) -> tuple[MailOrder, list[LocalOrder]]:
    """The order of one message, or :class:`WodError` saying why it is refused."""
    expected = settings.secret.get_secret_value() if settings.secret else ""
    if sender.lower() != settings.sender.lower():
        raise WodError(f"sender {sender!r} is not the configured one")
    message = message_from_bytes(raw, policy=policy.default)
    secret = str(message.get("X-Wod-Secret", ""))
    if not expected or not hmac.compare_digest(secret.encode(), expected.encode()):
        raise WodError("missing or wrong X-Wod-Secret")
    match = SUBJECT.match(str(message.get("Subject", "")))
    if match is None:
        raise WodError(f"subject {str(message.get('Subject', ''))!r} is not VERB N ID [email]")
    verb = cast(VerbName, match[1])  # the pattern admits only the verbs
    seats_text, registration = match[2], int(match[3])
    if "," in seats_text and verb != "RESET":
        raise WodError(f"{verb} takes one seat")
    part = message.get_body(preferencelist=("plain",))
    body = part.get_content() if part is not None else ""
    workshop = (body.strip().splitlines() or [""])[0].strip()
    seats = parse_seats(seats_text)
    orders = local_orders(content, verb, workshop or None, seats, registration)
    return MailOrder(verb, seats, registration, workshop), orders


class _Handler:
    def __init__(self, listener: MailOrderListener) -> None:
        self.listener = listener

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return self.listener.receive(str(envelope.mail_from or ""), envelope.original_content)


class MailOrderListener:
    """The agent's SMTP listener for orders."""

    def __init__(
        self,
        settings: MailOrderSettings,
        content: Content,
        verbs: Verbs,
        client: ApiClient,
        running: RunningJobs | None = None,
    ) -> None:
        if settings.secret is None or not settings.secret.get_secret_value():
            raise ConfigError("mailorders.secret must be set to take orders by mail")
        self.settings = settings
        self.content = content
        self.verbs = verbs
        self.client = client
        self.running = running or RunningJobs()
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="wod-mailorder")
        self.pending: list[Future[None]] = []
        self._lock = threading.Lock()
        self.controller = Controller(_Handler(self), hostname=settings.host, port=settings.port)

    def start(self) -> None:
        self.controller.start()
        log.info("taking orders by mail on %s:%s", self.settings.host, self.settings.port)

    def stop(self) -> None:
        self.controller.stop()
        self.pool.shutdown(wait=True)

    def receive(self, sender: str, raw: bytes) -> str:
        """The SMTP answer to one message; an accepted order is queued to run."""
        try:
            order, jobs = parse_order(self.settings, self.content, sender, raw)
        except WodError as exc:
            log.warning("mail order refused (from %r): %s", sender, exc)
            return f"550 order refused: {exc}"
        log.info("mail order accepted: %s %s-%s %s", order.verb, *order.seats, order.workshop)
        with self._lock:
            self.pending.append(self.pool.submit(self._run, jobs))
        return "250 order accepted"

    def _run(self, orders: list[LocalOrder]) -> None:
        for order in orders:
            job = order.job
            number = job.seat.number if job.seat else order.seats[0] if order.seats else 0
            workshop = job.workshop.slug if job.workshop else None
            asked = ExternalJobIn(verb=job.verb, seat=number, workshop=workshop, source="mail")
            try:
                job_id = self.client.external_job(asked)
            except ApiClientError as exc:
                log.error("mail order not run: the api refused to record it: %s", exc)
                continue
            with self.running.hold(job_id):  # the agent's heartbeat keeps its lease
                outcome = self.verbs.run(job.model_copy(update={"id": job_id}), order.seats)
                try:
                    self.client.report(job_id, outcome)
                except ApiClientError as exc:
                    log.error("mail order %s ran but its report failed: %s", job_id, exc)
