"""Putting messages into the dev mail catcher through real SMTP, for the tests of its page."""

from __future__ import annotations

from pathlib import Path

from wod.mail.catcher import MailCatcher
from wod.mail.render import RenderedEmail, build_message
from wod.mail.sender import SmtpMailer
from wod.ports import free_port
from wod.settings import SmtpSettings

#: An email that tries what no email may do in the catcher's page: run a script, in a tag or
#: in an attribute, and reach the page around it.
HOSTILE = (
    "<p id='hello'>Hello</p>"
    "<script>parent.document.title = 'script ran'</script>"
    "<img src='data:,' onerror=\"parent.document.title = 'handler ran'\" alt=''>"
)


def catch(maildir: Path, smtp: SmtpSettings, *emails: tuple[str, str, str]) -> None:
    """Send each ``(subject, text, html)`` to a catcher on ``maildir`` over SMTP."""
    port = free_port()
    catcher = MailCatcher(maildir, "127.0.0.1", port)
    catcher.start()
    try:
        mailer = SmtpMailer(smtp.model_copy(update={"port": port}))
        for subject, text, html in emails:
            rendered = RenderedEmail(subject, text, html)
            message = build_message(
                rendered, sender="wod@example.org", sender_name="wod", recipient="ada@example.org"
            )
            mailer.send(message)
        mailer.close()
    finally:
        catcher.stop()
