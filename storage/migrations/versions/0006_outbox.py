"""The outbox: outgoing messages sent by the worker, and the pacing rows every process shares.

Revision ID: 0006_outbox
Revises: 0005_processed_updates
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import storage.db

revision = "0006_outbox"
down_revision = "0005_processed_updates"
branch_labels = None
depends_on = None

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("buttons", sa.JSON(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", storage.db.UTCDateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("telegram_message_id", sa.BigInteger(), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("lease_until", storage.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", storage.db.UTCDateTime(), nullable=False),
        sa.Column("sent_at", storage.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("kind", "idempotency_key", name="uq_outbox_kind_key"),
    )
    op.create_index("ix_outbox_due", "outbox", ["state", "priority", "id"])
    op.create_index("ix_outbox_chat", "outbox", ["chat_id", "state"])
    pacing = op.create_table(
        "outbox_pacing",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("next_slot", storage.db.UTCDateTime(), nullable=False),
        sa.Column("paused_until", storage.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_pacing")),
    )
    op.bulk_insert(pacing, [{"id": 1, "next_slot": EPOCH, "paused_until": EPOCH}])
    op.create_table(
        "outbox_chats",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("next_at", storage.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("chat_id", name=op.f("pk_outbox_chats")),
    )


def downgrade() -> None:
    op.drop_table("outbox_chats")
    op.drop_table("outbox_pacing")
    op.drop_index("ix_outbox_chat", table_name="outbox")
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.drop_table("outbox")
