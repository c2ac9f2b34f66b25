"""Sending email: the :class:`Mailer` interface, SMTP for real, memory for tests."""

from __future__ import annotations

import smtplib
import ssl
import threading
from email import policy
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from typing import Protocol

from wod.errors import MailError
from wod.settings import SmtpSecurity, SmtpSettings


class Mailer(Protocol):
    """Delivers one message. Contract: returns once the server accepted it, else raises
    :class:`MailError`; never retries by itself (the outbox does)."""

    def send(self, message: EmailMessage) -> None: ...


class SmtpMailer:
    """SMTP with optional STARTTLS or implicit TLS and login."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        tls = ssl.create_default_context(cafile=str(s.ca_file) if s.ca_file else None)
        if s.security is SmtpSecurity.ssl:
            return smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=tls)
        client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        if s.security is SmtpSecurity.starttls:
            client.starttls(context=tls)
        return client

    def send(self, message: EmailMessage) -> None:
        try:
            with self._connect() as client:
                if self.settings.username and self.settings.password:
                    client.login(self.settings.username, self.settings.password.get_secret_value())
                # smtplib.send_message would escape body lines starting with "From " (">From");
                # the SMTP policy does not, and dot-stuffing is smtplib's own job.
                sender = parseaddr(str(message["From"]))[1]
                recipients = [addr for _, addr in getaddresses([str(message["To"])])]
                client.sendmail(sender, recipients, message.as_bytes(policy=policy.SMTP))
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(f"SMTP {self.settings.host}:{self.settings.port}: {exc}") from exc


class MemoryMailer:
    """Keeps messages in a list (unit tests); can be told to fail like a server that is down."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []
        self.down = False
        self._lock = threading.Lock()

    def send(self, message: EmailMessage) -> None:
        if self.down:
            raise MailError("the memory mailer is down")
        with self._lock:
            self.sent.append(message)


def build_mailer(settings: SmtpSettings) -> Mailer:
    return SmtpMailer(settings)
