"""The composition root: what one process needs, built once and passed down (STYLE rule 1)."""

from __future__ import annotations

from dataclasses import dataclass, field

from wod.content.layers import Content
from wod.db.session import Database
from wod.domain.clock import Clock, SystemClock
from wod.domain.secrets import SecretBox
from wod.mail.sender import Mailer, build_mailer
from wod.settings import Settings


@dataclass
class AppContext:
    """Settings plus the long-lived objects built from them."""

    settings: Settings
    db: Database
    clock: Clock = field(default_factory=SystemClock)
    mailer: Mailer | None = None

    def __post_init__(self) -> None:
        if self.mailer is None:
            self.mailer = build_mailer(self.settings.smtp)
        self.secret_box = SecretBox(self.settings.secret_key.get_secret_value())
        self.content = Content(self.settings.content.paths)

    def close(self) -> None:
        self.db.dispose()


def build_context(
    settings: Settings, *, clock: Clock | None = None, mailer: Mailer | None = None
) -> AppContext:
    """The context of a process that uses the database (api, cli)."""
    return AppContext(
        settings=settings,
        db=Database(settings.resolved_database_url),
        clock=clock or SystemClock(),
        mailer=mailer,
    )
