"""Email rendering: pure functions from a kind and its variables to subject, text and html.

Templates are ``<kind>.subject.j2``, ``<kind>.txt.j2`` and ``<kind>.html.j2``; their texts
are ``{% trans %}`` blocks, rendered in the current language (:func:`wod.i18n.use`). A content layer
may override any of them with a file of the same name in its ``templates/email/`` folder (the
later layer wins over the earlier, every layer over the package's own).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from wod import i18n

KINDS = (
    "welcome",
    "credentials",
    "reminder",
    "final",
    "apology",
    "level_badge",
    "already_registered",
    "admin_alert",
)


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def template_dirs(layers: Sequence[Path]) -> tuple[Path, ...]:
    """The ``templates/email`` folders of the content layers, the last layer first."""
    return tuple(
        p / "templates" / "email" for p in reversed(layers) if (p / "templates" / "email").is_dir()
    )


@lru_cache(maxsize=16)
def _environment(dirs: tuple[Path, ...]) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(str(d)) for d in dirs]
    loaders.append(jinja2.PackageLoader("wod.mail", "templates"))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    i18n.install(env)
    return env


def render_email(
    kind: str, variables: Mapping[str, Any], dirs: tuple[Path, ...] = ()
) -> RenderedEmail:
    """The three parts of one email of ``kind``."""
    env = _environment(dirs)
    subject = " ".join(env.get_template(f"{kind}.subject.j2").render(variables).split())
    text = env.get_template(f"{kind}.txt.j2").render(variables)
    html = env.get_template(f"{kind}.html.j2").render({**variables, "subject": subject})
    return RenderedEmail(subject, text, html)


def new_message_id(sender: str) -> str:
    """A Message-ID of the sender's domain, unique to one sending of one email."""
    return make_msgid(idstring="wod", domain=sender.rpartition("@")[2] or "localhost")


def build_message(
    rendered: RenderedEmail,
    *,
    sender: str,
    sender_name: str,
    recipient: str,
    message_id: str | None = None,
) -> EmailMessage:
    """A MIME message with text and html alternatives; ``message_id``, the id of its sending
    (a new one when None)."""
    message = EmailMessage()
    message["Subject"] = rendered.subject
    message["From"] = formataddr((sender_name, sender))
    message["To"] = recipient
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id or new_message_id(sender)
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message
