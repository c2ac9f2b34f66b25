"""request ids and agent versions: a job keeps the id of the api request that queued it, a
location the version of wod its agent runs

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_id", sa.String(length=64), nullable=True))
    with op.batch_alter_table("location", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agent_version", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("location", schema=None) as batch_op:
        batch_op.drop_column("agent_version")
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_column("request_id")
