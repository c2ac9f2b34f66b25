"""The composition root: what one process needs, built once and passed down (STYLE rule 1)."""

from __future__ import annotations

from dataclasses import dataclass

from wod.content.layers import Content
from wod.db.session import Database
from wod.domain.clock import Clock, SystemClock
from wod.domain.secrets import SecretBox
from wod.mail.sender import Mailer, SmtpMailer
from wod.notify import Notifier
from wod.settings import Settings


@dataclass(frozen=True)
class AppContext:
    """Settings plus the long-lived objects built from them; every field is set (see
    :func:`build_context`)."""

    settings: Settings
    db: Database
    clock: Clock
    mailer: Mailer
    secret_box: SecretBox
    content: Content

    @property
    def notifier(self) -> Notifier:
        """Told after each commit what changed (:mod:`wod.notify`)."""
        return self.db.notifier

    def close(self) -> None:
        self.db.dispose()


def build_context(
    settings: Settings, *, clock: Clock | None = None, mailer: Mailer | None = None
) -> AppContext:
    """The context of a process that uses the database (api, cli): the real clock and SMTP
    unless told otherwise (tests give a fake clock and a memory mailer)."""
    return AppContext(
        settings=settings,
        db=Database(settings.resolved_database_url, notifier=Notifier()),
        clock=clock or SystemClock(),
        mailer=mailer or SmtpMailer(settings.smtp),
        secret_box=SecretBox(settings.secret_key.get_secret_value()),
        content=Content(settings.content.paths),
    )
