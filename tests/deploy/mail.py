"""The SMTP relay of a test environment: an aiosmtpd catcher on the bed's bridge address."""

from __future__ import annotations

import email
import email.policy
import re
import threading
import time
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.bed.services import free_port


class _Handler:
    def __init__(self, catcher: MailCatcher) -> None:
        self.catcher = catcher

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.catcher.lock:
            self.catcher.messages.append(message)
        return "250 OK"


class MailCatcher:
    """Every message the api sent, parsed; ``wait`` for one by recipient and subject."""

    def __init__(self, host: str) -> None:
        self.host = host
        # aiosmtpd cannot take port 0 (FIELD-NOTES): a port free a moment ago.
        self.port = free_port(host, 2525)
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()
        self.controller = Controller(_Handler(self), hostname=host, port=self.port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    def find(self, to: str, subject: str) -> list[EmailMessage]:
        """Messages to ``to`` whose subject holds ``subject``, oldest first."""
        with self.lock:
            return [m for m in self.messages if to in str(m["To"]) and subject in str(m["Subject"])]

    def wait(self, to: str, subject: str, timeout: float = 180.0) -> EmailMessage:
        """The first message to ``to`` with ``subject`` in its subject (AssertionError after
        ``timeout`` seconds, listing what did arrive)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.find(to, subject)
            if found:
                return found[0]
            time.sleep(0.2)
        with self.lock:
            seen = [f"{m['To']}: {m['Subject']}" for m in self.messages]
        raise AssertionError(f"no mail to {to} about {subject!r} in {timeout} s; got {seen}")


def text_of(message: EmailMessage) -> str:
    """The plain-text body."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, "no text part"
    return str(part.get_content())


def credentials(message: EmailMessage) -> tuple[str, str]:
    """(user name, password) of a credentials email."""
    text = text_of(message)
    user = re.search(r"User name:\s+(\S+)", text)
    password = re.search(r"Password:\s+(\S+)", text)
    assert user and password, text
    return user[1], password[1]
