"""Sending email: the :class:`Mailer` interface, SMTP for real, memory for tests."""

from __future__ import annotations

import contextlib
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
    """Delivers messages. Contract: ``send`` returns once the server accepted the message, else
    raises :class:`MailError`, and never retries by itself (the outbox does); ``close`` ends
    what a batch of sends kept open (the outbox calls it after each pass)."""

    def send(self, message: EmailMessage) -> None: ...

    def close(self) -> None: ...


class SmtpMailer:
    """SMTP with optional STARTTLS or implicit TLS and login. The TLS context is built once,
    and only when TLS is used; one connection serves the messages of a batch, checked with a
    NOOP before each reuse (a message is never sent again on a guess), until :meth:`close`."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._tls: ssl.SSLContext | None = None
        self._client: smtplib.SMTP | None = None
        self._lock = threading.Lock()
        #: Connections opened so far (a figure for tests and benchmarks).
        self.connections = 0

    def _context(self) -> ssl.SSLContext:
        if self._tls is None:
            ca_file = self.settings.ca_file
            self._tls = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        return self._tls

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        client: smtplib.SMTP
        if s.security is SmtpSecurity.ssl:
            client = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=self._context())
        else:
            client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            if s.security is SmtpSecurity.starttls:
                try:
                    client.starttls(context=self._context())
                except BaseException:
                    client.close()
                    raise
        self.connections += 1
        if s.username and s.password:
            try:
                client.login(s.username, s.password.get_secret_value())
            except BaseException:
                client.close()
                raise
        return client

    def _connection(self) -> smtplib.SMTP:
        """The batch's connection if the server still answers on it, else a new one."""
        if self._client is not None:
            try:
                if self._client.noop()[0] == 250:
                    return self._client
            except (OSError, smtplib.SMTPException):
                pass  # closed by the server (an idle timeout): a new one
            self._drop()
        self._client = self._connect()
        return self._client

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(OSError):
                client.close()

    def send(self, message: EmailMessage) -> None:
        # smtplib.send_message would escape body lines starting with "From " (">From"); the
        # SMTP policy does not, and dot-stuffing is smtplib's own job.
        sender = parseaddr(str(message["From"]))[1]
        recipients = [addr for _, addr in getaddresses([str(message["To"])])]
        data = message.as_bytes(policy=policy.SMTP)
        with self._lock:
            try:
                self._connection().sendmail(sender, recipients, data)
            except (OSError, smtplib.SMTPException) as exc:
                self._drop()  # in an unknown state: the next message starts afresh
                raise MailError(f"SMTP {self.settings.host}:{self.settings.port}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                with contextlib.suppress(OSError, smtplib.SMTPException):
                    self._client.quit()
            self._drop()


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

    def close(self) -> None:
        pass


def build_mailer(settings: SmtpSettings) -> Mailer:
    return SmtpMailer(settings)
