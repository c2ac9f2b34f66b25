"""email message id: one Message-ID per email, kept across its send attempts

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 12:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("email", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message_id", sa.String(length=250), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("email", schema=None) as batch_op:
        batch_op.drop_column("message_id")
