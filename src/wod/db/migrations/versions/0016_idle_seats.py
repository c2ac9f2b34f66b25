"""idle seats: a workshop's idle_timeout, and the last activity of each live seat

``workshop.idle_timeout`` (minutes, wod.yml; NULL: the setting ``idle.timeout``) and the table
``seat_activity``: one row per registration whose agent reported its seat's activity, with
where its idle watch stands (warning due, end due, keep link).

Downgrading drops them; registrations ended as idle keep their ``ended_reason``.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-14 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import wod.db.models

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workshop", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idle_timeout", sa.Integer(), nullable=True))
    op.create_table(
        "seat_activity",
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("last_activity_at", wod.db.models.UtcDateTime(), nullable=True),
        sa.Column("reported_at", wod.db.models.UtcDateTime(), nullable=False),
        sa.Column("idle_due_at", wod.db.models.UtcDateTime(), nullable=True),
        sa.Column("end_due_at", wod.db.models.UtcDateTime(), nullable=True),
        sa.Column("warned_activity_at", wod.db.models.UtcDateTime(), nullable=True),
        sa.Column("warnings", sa.Integer(), server_default="0", nullable=False),
        sa.Column("keep_nonce", sa.String(length=64), nullable=True),
        sa.Column("keep_token_hash", sa.String(length=64), nullable=True),
        sa.Column("kept_at", wod.db.models.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registration.id"],
            name=op.f("fk_seat_activity_registration_id_registration"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("registration_id", name=op.f("pk_seat_activity")),
        sa.UniqueConstraint("keep_token_hash", name=op.f("uq_seat_activity_keep_token_hash")),
    )
    with op.batch_alter_table("seat_activity", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_seat_activity_idle_due_at"), ["idle_due_at"])
        batch_op.create_index(batch_op.f("ix_seat_activity_end_due_at"), ["end_due_at"])


def downgrade() -> None:
    with op.batch_alter_table("seat_activity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_seat_activity_end_due_at"))
        batch_op.drop_index(batch_op.f("ix_seat_activity_idle_due_at"))
    op.drop_table("seat_activity")
    # not in a batch: on SQLite a batch copies the table, and the registrations that refer to
    # the workshops forbid dropping the old copy; SQLite (3.35 and later) drops a column itself
    op.drop_column("workshop", "idle_timeout")
