"""Dossier review: the statuses of the review workflow (the old placeholders under_review, accepted,
rejected and certified are mapped onto them), when the status last changed, the recognition date, the
dossier a re-rating continues, and the last return for correction (flagged steps and a snapshot).

Old → new: under_review → received, accepted → forwarded, rejected → not_rated, certified → rated
(in dossiers and in the status history). Downgrade maps back (resubmitted → submitted, proposed →
certified).

Revision ID: 0008_review
Revises: 0007_staff
"""

import sqlalchemy as sa
from alembic import op

import storage.db

revision = "0008_review"
down_revision = "0007_staff"
branch_labels = None
depends_on = None

UP = {"under_review": "received", "accepted": "forwarded", "rejected": "not_rated", "certified": "rated"}
DOWN = {
    "received": "under_review",
    "resubmitted": "submitted",
    "forwarded": "accepted",
    "not_rated": "rejected",
    "rated": "certified",
    "proposed": "certified",
}


def _rename(mapping: dict[str, str]) -> None:
    dossiers = sa.table("dossiers", sa.column("status", sa.String()))
    history = sa.table(
        "dossier_status_history", sa.column("from_status", sa.String()), sa.column("to_status", sa.String())
    )
    for old, new in mapping.items():
        op.execute(dossiers.update().where(dossiers.c.status == old).values(status=new))
        op.execute(history.update().where(history.c.from_status == old).values(from_status=new))
        op.execute(history.update().where(history.c.to_status == old).values(to_status=new))


def upgrade() -> None:
    # Plain ADD COLUMN, no batch: on SQLite a batch copy drops the old table, and with foreign keys on
    # that DELETE would cascade to every attachment and history row.
    op.add_column("dossiers", sa.Column("recognized_on", sa.Date(), nullable=True))
    op.add_column("dossiers", sa.Column("status_at", storage.db.UTCDateTime(), nullable=True))
    op.add_column("dossiers", sa.Column("previous_id", sa.Integer(), nullable=True))
    op.add_column(
        "dossiers", sa.Column("corrections", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
    )
    if op.get_bind().dialect.name != "sqlite":  # SQLite cannot add a constraint to an existing table
        op.create_foreign_key(
            "fk_dossiers_previous_id_dossiers",
            "dossiers",
            "dossiers",
            ["previous_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_index("ix_dossiers_status_at", "dossiers", ["status_at"])
    op.create_index("ix_dossiers_previous_id", "dossiers", ["previous_id"])
    _rename(UP)
    # When the status last changed: the newest history row, else the last update.
    op.execute(
        "UPDATE dossiers SET status_at = COALESCE("
        "(SELECT MAX(h.at) FROM dossier_status_history h WHERE h.dossier_id = dossiers.id), updated_at)"
    )


def downgrade() -> None:
    _rename(DOWN)
    op.drop_index("ix_dossiers_previous_id", table_name="dossiers")
    op.drop_index("ix_dossiers_status_at", table_name="dossiers")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("fk_dossiers_previous_id_dossiers", "dossiers", type_="foreignkey")
    for column in ("corrections", "previous_id", "status_at", "recognized_on"):
        op.drop_column("dossiers", column)
