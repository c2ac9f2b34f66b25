"""warm seats: a workshop's pool of seats built and started before anyone registers

``workshop.warm`` (the pool's size, from wod.yml); on ``seat``, the workshop and content
revision a ``warming`` or ``warm`` seat is built for, and a warm seat's sealed password.

Downgrading marks the pool's seats ``broken`` (the older schema has no such state): an admin's
``wod seats purge`` frees them.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-13 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workshop", schema=None) as batch_op:
        batch_op.add_column(sa.Column("warm", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("seat", schema=None) as batch_op:
        batch_op.add_column(sa.Column("warm_workshop_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("warm_revision_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("warm_password_enc", sa.Text(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_seat_warm_workshop_id_workshop"), "workshop", ["warm_workshop_id"], ["id"]
        )
        batch_op.create_foreign_key(
            op.f("fk_seat_warm_revision_id_content_revision"),
            "content_revision",
            ["warm_revision_id"],
            ["id"],
        )


def downgrade() -> None:
    op.execute("UPDATE seat SET state = 'broken' WHERE state IN ('warm', 'warming')")
    with op.batch_alter_table("seat", schema=None) as batch_op:
        batch_op.drop_constraint(
            op.f("fk_seat_warm_revision_id_content_revision"), type_="foreignkey"
        )
        batch_op.drop_constraint(op.f("fk_seat_warm_workshop_id_workshop"), type_="foreignkey")
        batch_op.drop_column("warm_password_enc")
        batch_op.drop_column("warm_revision_id")
        batch_op.drop_column("warm_workshop_id")
    with op.batch_alter_table("workshop", schema=None) as batch_op:
        batch_op.drop_column("warm")
