"""Dossier: dossiers, attachments, status history and the per-year reference sequence.

Revision ID: 0003_dossier
Revises: 0002_knowledge
"""

import sqlalchemy as sa
from alembic import op

import storage.db

revision = "0003_dossier"
down_revision = "0002_knowledge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dossiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(32), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("product_name", sa.String(256), nullable=True),
        sa.Column("current_step", sa.String(64), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("flow_state", sa.JSON(), nullable=False),
        sa.Column("review_mode", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", storage.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", storage.db.UTCDateTime(), nullable=False),
        sa.Column("submitted_at", storage.db.UTCDateTime(), nullable=True),
        sa.Column("stars", sa.Integer(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("certificate_no", sa.String(64), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_dossiers_owner_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossiers")),
        sa.UniqueConstraint("reference", name=op.f("uq_dossiers_reference")),
    )
    op.create_index(op.f("ix_dossiers_owner_id"), "dossiers", ["owner_id"])
    op.create_index(op.f("ix_dossiers_status"), "dossiers", ["status"])
    op.create_table(
        "attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("file_id", sa.String(256), nullable=False),
        sa.Column("file_unique_id", sa.String(128), nullable=False),
        sa.Column("file_name", sa.String(256), nullable=True),
        sa.Column("mime", sa.String(128), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("local_path", sa.String(512), nullable=True),
        sa.Column("created_at", storage.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dossier_id"],
            ["dossiers.id"],
            name=op.f("fk_attachments_dossier_id_dossiers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
    )
    op.create_index("ix_attachments_dossier_id_step_id", "attachments", ["dossier_id", "step_id"])
    op.create_table(
        "dossier_status_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("at", storage.db.UTCDateTime(), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("from_status", sa.String(16), nullable=True),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("flagged_steps", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["dossier_id"],
            ["dossiers.id"],
            name=op.f("fk_dossier_status_history_dossier_id_dossiers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossier_status_history")),
    )
    op.create_index(op.f("ix_dossier_status_history_dossier_id"), "dossier_status_history", ["dossier_id"])
    op.create_table(
        "dossier_reference_sequences",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_dossier_reference_sequences")),
    )


def downgrade() -> None:
    op.drop_table("dossier_reference_sequences")
    op.drop_index(op.f("ix_dossier_status_history_dossier_id"), table_name="dossier_status_history")
    op.drop_table("dossier_status_history")
    op.drop_index("ix_attachments_dossier_id_step_id", table_name="attachments")
    op.drop_table("attachments")
    op.drop_index(op.f("ix_dossiers_status"), table_name="dossiers")
    op.drop_index(op.f("ix_dossiers_owner_id"), table_name="dossiers")
    op.drop_table("dossiers")
