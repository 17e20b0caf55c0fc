"""Broadcasts: the broadcasts table, and on outbox rows the broadcast they belong to and their media
(photo/document by file_id, or a copy of a message).

Revision ID: 0010_broadcast
Revises: 0009_desk
"""

import sqlalchemy as sa
from alembic import op

import storage.db

revision = "0010_broadcast"
down_revision = "0009_desk"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "broadcasts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", storage.db.UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("sender_name", sa.String(length=256), nullable=False),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("scope", sa.JSON(), nullable=False),
        sa.Column("scheduled_at", storage.db.UTCDateTime(), nullable=True),
        sa.Column("started_at", storage.db.UTCDateTime(), nullable=True),
        sa.Column("finished_at", storage.db.UTCDateTime(), nullable=True),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("queue_done", sa.Boolean(), nullable=False),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.Column("expected", sa.Integer(), nullable=False),
        sa.Column("unreachable", sa.Integer(), nullable=False),
        sa.Column("muted", sa.Integer(), nullable=False),
        sa.Column("progress_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("progress_message_id", sa.BigInteger(), nullable=True),
        sa.Column("progress_html", sa.Text(), nullable=True),
        sa.Column("progress_at", storage.db.UTCDateTime(), nullable=True),
        sa.Column("reported_at", storage.db.UTCDateTime(), nullable=True),
        sa.Column("csv_sent_at", storage.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcasts")),
    )
    op.create_index("ix_broadcasts_state", "broadcasts", ["state", "scheduled_at"])
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("media", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("broadcast_id", sa.Integer(), nullable=True))
    op.create_index("ix_outbox_broadcast", "outbox", ["broadcast_id", "state"])


def downgrade() -> None:
    op.drop_index("ix_outbox_broadcast", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("broadcast_id")
        batch.drop_column("media")
    op.drop_index("ix_broadcasts_state", table_name="broadcasts")
    op.drop_table("broadcasts")
