"""Knowledge index: an inbox group id on each question, and the knowledge version row processes follow.

Open questions asked before this revision have no group yet: the inbox places them once, the first
time it is opened (`knowledge.inbox.Inbox`), instead of regrouping every open question on each press.

Revision ID: 0004_knowledge_index
Revises: 0003_dossier
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import storage.db

revision = "0004_knowledge_index"
down_revision = "0003_dossier"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("questions") as batch:
        batch.add_column(sa.Column("cluster_id", sa.Integer(), nullable=True))
        batch.create_index("ix_questions_cluster_id", ["cluster_id"])
    version = op.create_table(
        "knowledge_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", storage.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_version")),
    )
    op.bulk_insert(version, [{"id": 1, "version": 0, "updated_at": datetime.now(UTC)}])


def downgrade() -> None:
    op.drop_table("knowledge_version")
    with op.batch_alter_table("questions") as batch:
        batch.drop_index("ix_questions_cluster_id")
        batch.drop_column("cluster_id")
