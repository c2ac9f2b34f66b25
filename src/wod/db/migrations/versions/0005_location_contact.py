"""location contact: when each location's agent last called, and since when it is silent

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 11:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import wod.db.models

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("location", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_contact_at", wod.db.models.UtcDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("silent_since", wod.db.models.UtcDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("location", schema=None) as batch_op:
        batch_op.drop_column("silent_since")
        batch_op.drop_column("last_contact_at")
