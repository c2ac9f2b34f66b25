"""The development mail catcher: an SMTP server that keeps what it receives in a Maildir.

Nothing leaves the machine; ``GET /api/v1/dev/mail`` and the ``/dev/mail`` page read it back.
"""

from __future__ import annotations

import mailbox
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class _MaildirHandler:
    def __init__(self, maildir: Path) -> None:
        self.maildir = maildir

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        if "X-Envelope-To" not in message:
            message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        box = mailbox.Maildir(self.maildir, create=True)
        box.add(mailbox.MaildirMessage(message.as_bytes()))
        box.close()
        return "250 Message accepted for delivery"


class MailCatcher:
    """An aiosmtpd server on ``host:port`` storing every message into ``maildir``."""

    def __init__(self, maildir: Path, host: str = "127.0.0.1", port: int = 8025) -> None:
        self.maildir = maildir
        maildir.parent.mkdir(parents=True, exist_ok=True)
        mailbox.Maildir(maildir, create=True).close()
        self.controller = Controller(_MaildirHandler(maildir), hostname=host, port=port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


def read_mail(maildir: Path, limit: int = 200) -> list[dict[str, str]]:
    """The caught messages, newest first, each with ``to``, ``from``, ``subject``, ``date``,
    ``text`` and ``html``."""
    if not (maildir / "new").is_dir():
        return []
    box = mailbox.Maildir(maildir, create=False)
    items = []
    for key in box.keys():  # noqa: SIM118 - Maildir has no cheap iteration of (key, file)
        path = Path(maildir) / ("new" if (maildir / "new" / key).exists() else "cur") / key
        try:
            stamp = path.stat().st_mtime_ns
        except FileNotFoundError:
            stamp = 0
        items.append((stamp, key))
    items.sort(reverse=True)
    result = []
    for _, key in items[:limit]:
        raw = box.get_bytes(key)
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        result.append(_summary(message))
    return result


def _summary(message: EmailMessage) -> dict[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    return {
        "to": str(message.get("To", message.get("X-Envelope-To", ""))),
        "from": str(message.get("From", "")),
        "subject": str(message.get("Subject", "")),
        "date": str(message.get("Date", "")),
        "text": text.get_content() if text is not None else "",
        "html": html.get_content() if html is not None else "",
    }
