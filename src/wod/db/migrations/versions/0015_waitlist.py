"""waiting list: one entry per address waiting for a seat of a full workshop

Its state (waiting, offered, claimed, expired, left), the claim link of its offer (nonce, hash,
due time), and at most one entry on the list per address and workshop.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 19:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import wod.db.models

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_LIVE = sa.text("state IN ('waiting', 'offered')")


def upgrade() -> None:
    op.create_table(
        "waitlist_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workshop_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("company", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "waiting",
                "offered",
                "claimed",
                "expired",
                "left",
                name="waitliststate",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("created_at", wod.db.models.UtcDateTime(), nullable=False),
        sa.Column("offer_nonce", sa.String(length=64), nullable=True),
        sa.Column("offer_token_hash", sa.String(length=64), nullable=True),
        sa.Column("offered_at", wod.db.models.UtcDateTime(), nullable=True),
        sa.Column("offer_due_at", wod.db.models.UtcDateTime(), nullable=True),
        sa.Column("ended_at", wod.db.models.UtcDateTime(), nullable=True),
        sa.Column("registration_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registration.id"],
            name=op.f("fk_waitlist_entry_registration_id_registration"),
        ),
        sa.ForeignKeyConstraint(
            ["workshop_id"], ["workshop.id"], name=op.f("fk_waitlist_entry_workshop_id_workshop")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waitlist_entry")),
        sa.UniqueConstraint("offer_token_hash", name=op.f("uq_waitlist_entry_offer_token_hash")),
    )
    with op.batch_alter_table("waitlist_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_waitlist_entry_email"), ["email"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_waitlist_entry_offer_due_at"), ["offer_due_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_waitlist_entry_workshop_id_state_id"),
            ["workshop_id", "state", "id"],
            unique=False,
        )
        batch_op.create_index(
            "uq_waitlist_entry_live",
            ["workshop_id", "email"],
            unique=True,
            sqlite_where=_LIVE,
            postgresql_where=_LIVE,
        )


def downgrade() -> None:
    op.execute("DELETE FROM email WHERE kind IN ('waitlist_offer', 'waitlist_joined')")
    with op.batch_alter_table("waitlist_entry", schema=None) as batch_op:
        batch_op.drop_index("uq_waitlist_entry_live")
        batch_op.drop_index(batch_op.f("ix_waitlist_entry_workshop_id_state_id"))
        batch_op.drop_index(batch_op.f("ix_waitlist_entry_offer_due_at"))
        batch_op.drop_index(batch_op.f("ix_waitlist_entry_email"))
    op.drop_table("waitlist_entry")
