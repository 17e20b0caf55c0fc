"""Assisted entry: who entered a dossier for a producer who is not on Telegram (dossiers.entered_by,
dossiers.assisted), and the single-use claim links that hand such a dossier to its producer.

Revision ID: 0009_desk
Revises: 0008_review
"""

import sqlalchemy as sa
from alembic import op

import storage.db

revision = "0009_desk"
down_revision = "0008_review"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("dossiers", sa.Column("entered_by", sa.BigInteger(), nullable=True))
    op.add_column(
        "dossiers", sa.Column("assisted", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.create_table(
        "dossier_claims",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", storage.db.UTCDateTime(), nullable=False),
        sa.Column("expires_at", storage.db.UTCDateTime(), nullable=False),
        sa.Column("used_at", storage.db.UTCDateTime(), nullable=True),
        sa.Column("used_by", sa.BigInteger(), nullable=True),
        sa.Column("revoked_at", storage.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["dossier_id"], ["dossiers.id"], name="fk_dossier_claims_dossier_id_dossiers", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_dossier_claims"),
        sa.UniqueConstraint("token_hash", name="uq_dossier_claims_token_hash"),
    )
    op.create_index("ix_dossier_claims_dossier_id", "dossier_claims", ["dossier_id"])


def downgrade() -> None:
    op.drop_index("ix_dossier_claims_dossier_id", table_name="dossier_claims")
    op.drop_table("dossier_claims")
    with op.batch_alter_table("dossiers") as batch:
        batch.drop_column("assisted")
        batch.drop_column("entered_by")
