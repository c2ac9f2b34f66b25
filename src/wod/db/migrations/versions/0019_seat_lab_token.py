"""seat lab token: the hash of the token a seat's JupyterLab extension calls the api with

``seat.lab_token_hash``: set when a CREATE of the seat is claimed (the agent writes the token
into the home), cleared when the registration holding the seat ends. Downgrading drops it;
the labs of running seats then lose their status panel until their next CREATE.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-15 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("seat", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lab_token_hash", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_seat_lab_token_hash"), ["lab_token_hash"])


def downgrade() -> None:
    with op.batch_alter_table("seat", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_seat_lab_token_hash"), type_="unique")
        batch_op.drop_column("lab_token_hash")
