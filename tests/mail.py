"""Reading the emails the tests receive, typed."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Literal


def part_text(message: EmailMessage, kind: Literal["plain", "html"]) -> str:
    """The text of the message's ``text/<kind>`` part; the part must exist."""
    part = message.get_body((kind,))
    assert part is not None, f"the message has no text/{kind} part"
    content = part.get_content()
    assert isinstance(content, str)
    return content
