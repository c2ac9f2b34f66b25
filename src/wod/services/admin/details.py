"""The console's page of one job (its log, whether it can be retried) and of one email (its
text as the outbox would render it now, whether it can be resent)."""

from __future__ import annotations

from dataclasses import dataclass

from wod import i18n
from wod.context import AppContext
from wod.db.models import Email, Job
from wod.errors import InvalidState, NotFound, WodError
from wod.services.admin.lists import JobRow, job_query
from wod.services.mail.kinds import kind_named
from wod.services.mail.outbox import render_kind
from wod.services.mail.resend import check_resendable
from wod.services.mail.variables import email_language, email_variables
from wod.services.provisioning.retry import retryable_seat

HIDDEN = "(hidden)"


@dataclass(frozen=True)
class JobDetail:
    row: JobRow
    retry_refusal: str | None  # why it cannot be retried; None: it can

    @property
    def can_retry(self) -> bool:
        return self.retry_refusal is None


def job_detail(ctx: AppContext, job_id: int) -> JobDetail:
    with ctx.db.read() as session:
        row = session.execute(job_query().where(Job.id == job_id)).first()
        if row is None:
            raise NotFound(f"No job {job_id}.")
        job_row = JobRow(*row)
        try:
            retryable_seat(session, job_row.job)
            refusal = None
        except InvalidState as exc:
            refusal = exc.message
    return JobDetail(job_row, refusal)


@dataclass(frozen=True)
class EmailDetail:
    email: Email
    subject: str | None
    text: str | None
    render_error: str | None
    resend_refusal: str | None  # why it cannot be resent; None: it can

    @property
    def can_resend(self) -> bool:
        return self.resend_refusal is None


def email_detail(ctx: AppContext, email_id: int) -> EmailDetail:
    """An email with its text as the outbox would render it now; the seat password and the
    manage link are hidden (the console shows them to no one)."""
    with ctx.db.read() as session:
        email = session.get(Email, email_id)
        if email is None:
            raise NotFound(f"No email {email_id}.")
        try:
            check_resendable(session, email)
            refusal = None
        except InvalidState as exc:
            refusal = exc.message
        language = email_language(session, email)
        try:
            kind = kind_named(email.kind)
            with i18n.use(language):
                variables = email_variables(ctx, session, email, kind)
        except WodError as exc:
            return EmailDetail(email, email.subject, None, exc.message, refusal)
    variables["password"] = HIDDEN
    if variables.get("manage_url"):
        variables["manage_url"] = ctx.settings.absolute_url(f"/manage/{HIDDEN}")
    try:
        with i18n.use(language):  # as the participant received it, not the admin's language
            rendered = render_kind(ctx, kind, variables)
    except Exception as exc:  # a template error is shown, not raised: the page still works
        return EmailDetail(email, email.subject, None, f"cannot be rendered: {exc}", refusal)
    return EmailDetail(email, email.subject or rendered.subject, rendered.text, None, refusal)
