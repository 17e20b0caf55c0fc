"""The migrations build exactly the tables the models describe: after `upgrade head`, Alembic's
autogenerate finds nothing to add, drop or change (a missed column or index in a migration fails here,
on SQLite and on PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

import storage.all_models  # noqa: F401  (registers every table)
from storage.db import Base, Database
from storage.migrate import alembic_config

# Known and intended: SQLite cannot add a foreign key to an existing table without copying it (a copy
# of `dossiers` would cascade-delete its attachments), so there dossiers.previous_id has no constraint.
SQLITE_ONLY_MISSING_FKS = {("dossiers", ("previous_id",))}


def _diff(connection: Any) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    out = []
    for d in compare_metadata(context, Base.metadata):
        # SQLite and PostgreSQL report server defaults and JSON/variant types differently; the shape
        # of the schema (tables, columns, nullability, indexes, keys) is what must match.
        if isinstance(d, list) and d and d[0][0] in {"modify_default", "modify_type"}:
            continue
        if connection.dialect.name == "sqlite" and isinstance(d, tuple) and d[0] == "add_fk":
            fk = d[1]
            if (fk.table.name, tuple(c.name for c in fk.columns)) in SQLITE_ONLY_MISSING_FKS:
                continue
        out.append(d)
    return out


async def test_migrated_schema_matches_the_models(database: Database) -> None:
    async with database.engine.connect() as conn:
        diff = await conn.run_sync(_diff)
    assert diff == []


async def test_upgrading_a_database_with_data_keeps_every_row(tmp_path: Path) -> None:
    """From the first release with dossiers to head on SQLite, where a table copy (Alembic's batch
    mode) of `users` or `dossiers` would delete or refuse the rows that refer to them."""
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "0006_outbox"))
            await conn.execute(
                text(
                    "INSERT INTO users (id, full_name, role, topics, blocked, flow_data, first_seen, "
                    "last_seen) VALUES (1, 'Lan', 'producer', '[]', 0, '{}', '2026-01-01', '2026-01-01')"
                )
            )
            answers = {"commune": {"unit": "Quảng Bị"}, "product_group": {"sub": "raw_honey"}}
            await conn.execute(
                text(
                    "INSERT INTO dossiers (id, owner_id, status, answers, flow_state, review_mode, version, "
                    "created_at, updated_at) VALUES (1, 1, 'under_review', :a, '{}', 0, 1, '2026-01-01', "
                    "'2026-01-01')"
                ),
                {"a": json.dumps(answers)},
            )
            await conn.execute(
                text(
                    "INSERT INTO dossier_status_history (dossier_id, at, to_status, note) "
                    "VALUES (1, '2026-01-01', 'under_review', '')"
                )
            )
        await db.upgrade()
        async with db.engine.connect() as conn:
            dossier = (await conn.execute(text("SELECT status, commune, product_set FROM dossiers"))).one()
            history = (await conn.execute(text("SELECT count(*) FROM dossier_status_history"))).scalar()
            users = (await conn.execute(text("SELECT id, muted_topics FROM users"))).all()
        assert tuple(dossier) == ("received", "Quảng Bị", "raw_honey")
        assert history == 1 and [tuple(u) for u in users] == [(1, "[]")]
    finally:
        await db.dispose()
