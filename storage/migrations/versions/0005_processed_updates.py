"""Processed updates: the update_ids already taken on, so a redelivered update runs once.

Revision ID: 0005_processed_updates
Revises: 0003_dossier

(0004 is added on another branch; the chain is joined when both are merged.)
"""

import sqlalchemy as sa
from alembic import op

import storage.db

revision = "0005_processed_updates"
down_revision = "0004_knowledge_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "processed_updates",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("processed_at", storage.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("update_id", name=op.f("pk_processed_updates")),
    )
    op.create_index("ix_processed_updates_processed_at", "processed_updates", ["processed_at"])


def downgrade() -> None:
    op.drop_index("ix_processed_updates_processed_at", table_name="processed_updates")
    op.drop_table("processed_updates")
