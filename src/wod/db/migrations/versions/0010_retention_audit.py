"""retention and audit: registrations anonymised after retention.days; the audit log

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import wod.db.models

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.add_column(sa.Column("anonymised_at", wod.db.models.UtcDateTime(), nullable=True))
        batch_op.create_index(
            "ix_registration_retention_due",
            ["ended_at"],
            unique=False,
            sqlite_where=sa.text("anonymised_at IS NULL"),
            postgresql_where=sa.text("anonymised_at IS NULL"),
        )
    with op.batch_alter_table("email", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_email_registration_id_created_at"),
            ["registration_id", "created_at"],
            unique=False,
        )
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", wod.db.models.UtcDateTime(), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("address", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_event_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_event_action_at"), ["action", "at"], unique=False
        )
        batch_op.create_index(
            "ix_audit_event_address_due",
            ["at"],
            unique=False,
            sqlite_where=sa.text("address IS NOT NULL"),
            postgresql_where=sa.text("address IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_address_due")
        batch_op.drop_index(batch_op.f("ix_audit_event_action_at"))
        batch_op.drop_index(batch_op.f("ix_audit_event_at"))
    op.drop_table("audit_event")
    with op.batch_alter_table("email", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_email_registration_id_created_at"))
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.drop_index("ix_registration_retention_due")
        batch_op.drop_column("anonymised_at")
