"""registration time zone: the participant's, for the times in the emails

``registration.time_zone``: the IANA name of the participant's time zone, which the
registration form's browser gave (NULL: UTC only, as before).

Downgrading drops it; the emails then give times in UTC only.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-15 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.add_column(sa.Column("time_zone", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.drop_column("time_zone")
