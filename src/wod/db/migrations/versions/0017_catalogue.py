"""catalogue: what a workshop teaches, what it asks for, and its outline

``workshop.learn`` and ``workshop.prerequisites`` (wod.yml lines the workshop page lists) and
``workshop.outline`` (the lab notebooks' titles, read at import). Existing workshops get empty
lists; the next import fills them.

Downgrading drops them.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 23:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

COLUMNS = ("learn", "prerequisites", "outline")


def upgrade() -> None:
    with op.batch_alter_table("workshop", schema=None) as batch_op:
        for name in COLUMNS:
            batch_op.add_column(sa.Column(name, sa.JSON(), server_default="[]", nullable=False))


def downgrade() -> None:
    # not in a batch: on SQLite a batch copies the table, and the registrations that refer to
    # the workshops forbid dropping the old copy; SQLite (3.35 and later) drops a column itself
    for name in reversed(COLUMNS):
        op.drop_column("workshop", name)
