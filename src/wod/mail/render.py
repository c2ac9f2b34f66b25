"""Email rendering: pure functions from a kind and its variables to subject, text and html."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from functools import cache
from typing import Any

import jinja2

KINDS = ("welcome", "credentials", "final")


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("wod.mail", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def render_email(kind: str, variables: Mapping[str, Any]) -> RenderedEmail:
    """The three parts of one email of ``kind``."""
    env = _environment()
    subject = " ".join(env.get_template(f"{kind}.subject.j2").render(variables).split())
    text = env.get_template(f"{kind}.txt.j2").render(variables)
    html = env.get_template(f"{kind}.html.j2").render({**variables, "subject": subject})
    return RenderedEmail(subject, text, html)


def build_message(
    rendered: RenderedEmail, *, sender: str, sender_name: str, recipient: str
) -> EmailMessage:
    """A MIME message with text and html alternatives."""
    message = EmailMessage()
    message["Subject"] = rendered.subject
    message["From"] = formataddr((sender_name, sender))
    message["To"] = recipient
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message
