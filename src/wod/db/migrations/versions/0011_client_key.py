"""client key: registrations remember a keyed hash of the address they were made from

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-10 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_key", sa.String(length=64), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_registration_client_key_state"), ["client_key", "state"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registration_client_key_state"))
        batch_op.drop_column("client_key")
