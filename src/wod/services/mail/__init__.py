"""Email: the table of kinds (:mod:`.kinds`), queuing inside the deciding transaction
(:mod:`.queue`), what the templates see (:mod:`.variables`), the outbox worker (:mod:`.outbox`)
and an admin's resend (:mod:`.resend`).

Convention of every service package: a public function takes the context and owns its
transaction; the helpers that take a session (``queue_email``, ``alert_admins``) are called by
the other services inside theirs.
"""

from wod.services.mail.kinds import KINDS, EmailKind, kind_named, register_kind
from wod.services.mail.outbox import render_kind, send_due
from wod.services.mail.queue import alert_admins, queue_email
from wod.services.mail.resend import check_resendable, resend_email
from wod.services.mail.variables import email_language, email_variables

__all__ = [
    "KINDS",
    "EmailKind",
    "alert_admins",
    "check_resendable",
    "email_language",
    "email_variables",
    "kind_named",
    "queue_email",
    "register_kind",
    "render_kind",
    "resend_email",
    "send_due",
]
