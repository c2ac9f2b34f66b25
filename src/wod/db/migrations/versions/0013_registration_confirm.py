"""registration confirm: an optional confirm-by-email step before a seat is held

A registration may now exist without a seat (``unconfirmed``, or ended before it got one), so
``location_id`` and ``seat_id`` may be NULL; the confirmation link's nonce, hash and due time;
at most one unconfirmed registration per address and workshop.

Downgrading deletes the registrations that never held a seat (and their emails): the older
schema cannot keep a registration without one.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-12 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import wod.db.models

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_UNCONFIRMED = sa.text("state IN ('unconfirmed')")


def upgrade() -> None:
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.alter_column("location_id", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("seat_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("confirm_nonce", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("confirm_token_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("confirm_due_at", wod.db.models.UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column("confirmed_at", wod.db.models.UtcDateTime(), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_registration_confirm_token_hash"), ["confirm_token_hash"]
        )
        batch_op.create_index(
            batch_op.f("ix_registration_confirm_due_at"), ["confirm_due_at"], unique=False
        )
        batch_op.create_index(
            "uq_registration_unconfirmed",
            ["email", "workshop_id"],
            unique=True,
            sqlite_where=_UNCONFIRMED,
            postgresql_where=_UNCONFIRMED,
        )


def downgrade() -> None:
    op.execute(
        "DELETE FROM email WHERE registration_id IN"
        " (SELECT id FROM registration WHERE seat_id IS NULL OR location_id IS NULL)"
    )
    op.execute("DELETE FROM registration WHERE seat_id IS NULL OR location_id IS NULL")
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.drop_index("uq_registration_unconfirmed")
        batch_op.drop_index(batch_op.f("ix_registration_confirm_due_at"))
        batch_op.drop_constraint(batch_op.f("uq_registration_confirm_token_hash"), type_="unique")
        batch_op.drop_column("confirmed_at")
        batch_op.drop_column("confirm_due_at")
        batch_op.drop_column("confirm_token_hash")
        batch_op.drop_column("confirm_nonce")
        batch_op.alter_column("seat_id", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("location_id", existing_type=sa.Integer(), nullable=False)
