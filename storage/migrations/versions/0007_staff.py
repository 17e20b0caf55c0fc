"""Staff roles granted in the chat (with their commune scope), the topics a user muted, and each
dossier's commune and product set as columns, so queues, scopes, exports and audiences filter in SQL.

Revision ID: 0007_staff
Revises: 0006_outbox
"""

import sqlalchemy as sa
from alembic import op

import storage.db

revision = "0007_staff"
down_revision = "0006_outbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_members",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("communes", sa.JSON(), nullable=False),
        sa.Column("granted_by", sa.BigInteger(), nullable=True),
        sa.Column("granted_at", storage.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.add_column("dossiers", sa.Column("commune", sa.String(length=64), nullable=True))
    op.add_column("dossiers", sa.Column("product_set", sa.String(length=32), nullable=True))
    op.create_index("ix_dossiers_commune", "dossiers", ["commune"])
    op.create_index("ix_dossiers_product_set", "dossiers", ["product_set"])
    # users.topics (never used) becomes the list of topics the user turned off (common/topics.py).
    # A plain RENAME COLUMN (SQLite ≥ 3.25, PostgreSQL): a batch copy of `users` would drop the table,
    # which with foreign keys on deletes or refuses every row that refers to a user.
    op.execute("ALTER TABLE users RENAME COLUMN topics TO muted_topics")
    # Fill both from the answers of dossiers that already exist.
    conn = op.get_bind()
    dossiers = sa.table(
        "dossiers",
        sa.column("id", sa.Integer()),
        sa.column("answers", sa.JSON()),
        sa.column("commune", sa.String()),
        sa.column("product_set", sa.String()),
    )
    from dossier.columns import commune_of, product_set_of

    for row in conn.execute(sa.select(dossiers.c.id, dossiers.c.answers)).all():
        answers = row.answers or {}
        conn.execute(
            dossiers.update()
            .where(dossiers.c.id == row.id)
            .values(commune=commune_of(answers), product_set=product_set_of(answers))
        )


def downgrade() -> None:
    op.drop_index("ix_dossiers_product_set", table_name="dossiers")
    op.drop_index("ix_dossiers_commune", table_name="dossiers")
    op.drop_column("dossiers", "product_set")
    op.drop_column("dossiers", "commune")
    op.drop_table("staff_members")
    op.execute("ALTER TABLE users RENAME COLUMN muted_topics TO topics")
