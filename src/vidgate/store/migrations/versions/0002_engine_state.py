"""engine state: what an engine saved about a job, so a later attempt can resume it

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 15:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("videos") as batch:
        batch.add_column(sa.Column("engine_state", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("videos") as batch:
        batch.drop_column("engine_state")
